"""ReduceLROnPlateau catching up on an epoch its saved state missed (the process died after Ultralytics wrote last.pt
and before the hook saved its state): the reductions and the optimizer's rate are those of an uninterrupted run."""

from __future__ import annotations

import json

import pytest

from tests.helpers import flush_state
from tests.plateau.support import ZERO, fake_trainer, run, snapshot
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau


@pytest.mark.parametrize("cooldown", [0, 1])
def test_lr_reduction_of_the_missed_epoch_is_applied_before_the_first_resumed_batch(tmp_path, cooldown):
    """Patience 2 on a zero-fitness run: reductions at epochs 3 and 5 (cooldown 0) whether or not the process died
    right after last.pt of epoch 3, and the reduced rate is in the optimizer and the scheduler when epoch 4 starts."""

    def make_hook():
        return ReduceLROnPlateau(patience=2, factor=0.5, cooldown=cooldown, strict=True)

    reference, ref_trainer, _ = run(make_hook, ZERO, tmp_path / "reference")
    assert [r["epoch"] for r in reference.reductions] == ([3, 5, 7] if cooldown == 0 else [3, 6])
    for kill_after in (2, 3, 4):
        save_dir = tmp_path / f"killed_after_{kill_after}"
        resumed, trainer, _ = run(make_hook, ZERO, save_dir, kill_after=kill_after)
        assert resumed.reductions == reference.reductions, kill_after
        assert resumed.tracker.state_dict() == reference.tracker.state_dict()
        assert resumed.cooldown_counter == reference.cooldown_counter
        group = trainer.optimizer.param_groups[0]
        assert group["initial_lr"] == trainer.scheduler.base_lrs[0] == resumed.lrs[0] == reference.lrs[0]
        assert group["lr"] == pytest.approx(ref_trainer.optimizer.param_groups[0]["lr"])


def test_lr_catch_up_alone_puts_the_reduced_rate_in_place(tmp_path):
    """Right after on_train_start of the resumed run (before any batch) the caught-up reduction is in effect."""
    save_dir = tmp_path / "run"
    hook, trainer = ReduceLROnPlateau(patience=1, factor=0.1, strict=True), fake_trainer(save_dir, 5)
    hook.on_train_start(trainer)
    hook.snapshot = lambda t: snapshot(1, 5, 0.0, 5.0, save_dir)
    hook.on_fit_epoch_end(trainer)  # epoch 1: the first value is the best; state saved for epoch 1

    resumed, trainer = ReduceLROnPlateau(patience=1, factor=0.1, strict=True), fake_trainer(save_dir, 5)
    trainer.args.resume, trainer.start_epoch = True, 2
    assert resumed.restore_state(trainer) == 1
    resumed.catch_up(trainer, 2, {"fitness": 0.0, "val/loss": 5.0})  # epoch 2 did not improve: patience 1 reached
    resumed.on_train_start(trainer)
    group = trainer.optimizer.param_groups[0]
    assert group["initial_lr"] == trainer.scheduler.base_lrs[0] == pytest.approx(0.001)
    assert group["lr"] == pytest.approx(0.001)
    assert [(r["epoch"], r["new_lrs"]) for r in resumed.reductions] == [(2, [pytest.approx(0.001)])]
    flush_state(resumed)
    assert json.loads(resumed.state_path(trainer).read_text())["epoch"] == 2
