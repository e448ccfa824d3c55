"""EarlyStopping and ReduceLROnPlateau catching up on an epoch their saved state missed (the process died after
Ultralytics wrote last.pt and before the hook saved its state): the run goes on exactly as an uninterrupted one.

The live epochs go through ``on_fit_epoch_end`` with scripted snapshots; the missed epoch goes through
``catch_up(trainer, epoch, values)`` with the same numbers as the core reads them back from results.csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import flush_state
from yolo_hooks.core.run import EpochSnapshot
from yolo_hooks.early_stop import EarlyStopping
from yolo_hooks.lr_on_plateau import ReduceLROnPlateau


def snapshot(epoch: int, epochs: int, fitness: float, val_loss: float, save_dir: Path) -> EpochSnapshot:
    return EpochSnapshot(
        epoch=epoch, epochs=epochs, is_final_eval=False, fitness=fitness, best_fitness=None, best_epoch=None,
        is_best=False, metrics={"metrics/mAP50-95(B)": fitness}, val_losses={"val/box_loss": val_loss},
        train_losses={"train/box_loss": 2.0}, lr={"lr/pg0": 0.01}, epoch_time=1.0, elapsed=float(epoch),
        start_epoch=0, stop=False, task="detect", save_dir=save_dir, best_path=save_dir / "weights" / "best.pt",
        last_path=save_dir / "weights" / "last.pt",
    )


def fake_trainer(save_dir: Path, epochs: int, lr: float = 0.01) -> SimpleNamespace:
    group = {"lr": lr, "initial_lr": lr}
    return SimpleNamespace(
        save_dir=save_dir, epochs=epochs, stop=False, start_epoch=0, epoch=0,
        args=SimpleNamespace(resume=False, task="detect"),
        optimizer=SimpleNamespace(param_groups=[group]), scheduler=SimpleNamespace(base_lrs=[lr]),
    )


def run(make_hook, sequence, save_dir: Path, kill_after: int | None = None):
    """Feed ``sequence`` of (fitness, val_loss) live. With ``kill_after=k``: the process dies after last.pt of epoch
    k but before the hook saved epoch k's state; a fresh hook restores the state (epoch k - 1), catches up on epoch
    k with the recorded values, and the remaining epochs run live. Returns (hook, trainer, epoch it stopped at)."""
    epochs = len(sequence)
    snaps = [snapshot(e, epochs, f, v, save_dir) for e, (f, v) in enumerate(sequence, start=1)]
    hook, trainer = make_hook(), fake_trainer(save_dir, epochs)
    hook.snapshot = lambda t: snaps[t.epoch]
    hook.on_pretrain_routine_start(trainer)
    hook.on_train_start(trainer)
    for index, snap in enumerate(snaps):
        if kill_after is not None and snap.epoch == kill_after:
            flush_state(hook)
            behind = json.loads(hook.state_path(trainer).read_text())
            assert behind["epoch"] == kill_after - 1
            group = trainer.optimizer.param_groups[0]  # what last.pt holds: the optimizer as it was at epoch k
            hook, trainer = make_hook(), fake_trainer(save_dir, epochs, group["initial_lr"])
            hook.snapshot = lambda t: snaps[t.epoch]
            trainer.args.resume, trainer.start_epoch = True, kill_after
            hook.on_pretrain_routine_start(trainer)
            assert hook.restore_state(trainer) == kill_after - 1  # what the core does in on_train_start
            hook.catch_up(trainer, snap.epoch, snap.values())
            hook.on_train_start(trainer)
            if trainer.stop:
                return hook, trainer, snap.epoch
            continue
        trainer.epoch = index
        hook.on_fit_epoch_end(trainer)
        if trainer.stop:
            return hook, trainer, snap.epoch
    return hook, trainer, None


ZERO = [(0.0, 5.0)] * 8  # a random-init model: fitness stays 0.0
SEQUENCES = [
    ZERO,
    [(0.1, 5.0), (0.2, 4.0), (0.2, 4.5), (0.25, 4.4), (0.24, 4.6), (0.23, 4.7), (0.22, 4.8), (0.21, 4.9)],
    [(0.3, 3.0), (0.1, 3.5), (0.1, 3.6), (0.35, 2.0), (0.3, 2.5), (0.3, 2.6), (0.3, 2.7), (0.3, 2.8)],
]


@pytest.mark.parametrize("sequence", SEQUENCES, ids=["zero", "rise-then-stall", "late-best"])
@pytest.mark.parametrize("monitor", ["fitness", "val/loss"])
def test_early_stop_catching_up_stops_where_the_uninterrupted_run_stops(tmp_path, sequence, monitor):
    def make_hook():
        return EarlyStopping(monitor=monitor, patience=3, strict=True)

    reference, _, stopped_at = run(make_hook, sequence, tmp_path / "reference")
    assert stopped_at is not None and stopped_at < len(sequence)
    for kill_after in range(2, stopped_at):  # the stopping epoch itself: see the next test
        save_dir = tmp_path / f"killed_after_{kill_after}"
        resumed, _, resumed_stop = run(make_hook, sequence, save_dir, kill_after=kill_after)
        assert resumed_stop == stopped_at, kill_after
        assert resumed.tracker.state_dict() == reference.tracker.state_dict()
        assert (resumed.stopped_epoch, resumed.stop_reason) == (reference.stopped_epoch, reference.stop_reason)
        assert json.loads((save_dir / "early_stop.json").read_text())["epoch"] == stopped_at


def test_a_stop_decided_for_the_missed_epoch_stops_the_resumed_run_at_once(tmp_path):
    """Killed after last.pt of the very epoch that should stop (epoch 4 of a zero-fitness run, patience 3): the stop
    is reported for epoch 4 and trainer.stop is set before the first resumed batch."""
    make_hook = lambda: EarlyStopping(patience=3, strict=True)  # noqa: E731
    _, _, stopped_at = run(make_hook, ZERO, tmp_path / "reference")
    assert stopped_at == 4
    resumed, trainer, resumed_stop = run(make_hook, ZERO, tmp_path / "killed", kill_after=4)
    assert resumed_stop == 4 and trainer.stop is True
    report = json.loads((tmp_path / "killed" / "early_stop.json").read_text())
    assert (report["stopped"], report["reason"], report["epoch"], report["wait_count"]) == (True, "patience", 4, 3)
    flush_state(resumed)
    assert json.loads(resumed.state_path(trainer).read_text())["epoch"] == 4


def test_early_stop_without_catch_up_would_stop_one_epoch_late(tmp_path):
    """The bug being fixed: restoring the state of epoch k - 1 and going on from epoch k + 1 loses one epoch."""
    hook = EarlyStopping(patience=3, strict=True)
    for epoch in (1, 2):  # state of epoch 2, last.pt of epoch 3
        hook.evaluate(epoch, 0.0)
    late = next(e for e in range(4, 9) if hook.evaluate(e, 0.0).should_stop)
    assert late == 5  # the uninterrupted run stops at 4


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
