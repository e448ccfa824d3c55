"""EarlyStopping catching up on an epoch its saved state missed (the process died after Ultralytics wrote last.pt
and before the hook saved its state): the run goes on exactly as an uninterrupted one.

The live epochs go through ``on_fit_epoch_end`` with scripted snapshots; the missed epoch goes through
``catch_up(trainer, epoch, values)`` with the same numbers as the core reads them back from results.csv.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers import flush_state
from tests.plateau.support import SEQUENCES, ZERO, run
from yolo_hooks.plateau.early_stop import EarlyStopping


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
