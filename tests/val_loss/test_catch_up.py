"""ValLossAlert catching up on an epoch its saved state missed (the process died after Ultralytics wrote last.pt and
before the hook saved its state): alerts.jsonl and the published events end up exactly as in an uninterrupted run,
whether the process died before, in the middle of, or after appending that epoch's records.

Live epochs go through ``on_fit_epoch_end`` with scripted snapshots; the missed epoch goes through
``catch_up(trainer, epoch, values)`` with the same numbers, as the core reads them back from results.csv.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import Listener, flush_state
from yolo_hooks.core.bus import Bus
from yolo_hooks.core.run import EpochSnapshot
from yolo_hooks.val_loss.hook import ALERTS_FILE, ValLossAlert

NAN = float("nan")
# (val/box_loss, val/cls_loss) per epoch: epoch 3 raises four alerts at once, epoch 4 recovers all four,
# epoch 6 is NaN (action stop)
LOSSES = [(3.0, 4.0), (2.5, 3.5), (4.0, 7.0), (2.4, 3.4), (2.3, 3.3), (NAN, 3.2), (2.2, 3.1), (2.1, 3.0)]


def snapshot(epoch: int, save_dir: Path) -> EpochSnapshot:
    box, cls = LOSSES[epoch - 1]
    return EpochSnapshot(
        epoch=epoch, epochs=len(LOSSES), is_final_eval=False, fitness=0.1, best_fitness=0.1, best_epoch=1,
        is_best=False, metrics={"metrics/mAP50-95(B)": 0.1}, val_losses={"val/box_loss": box, "val/cls_loss": cls},
        train_losses={"train/box_loss": 2.0, "train/cls_loss": 3.0}, lr={"lr/pg0": 0.01}, epoch_time=1.0,
        elapsed=float(epoch), start_epoch=0, stop=False, task="detect", save_dir=save_dir,
        best_path=save_dir / "weights" / "best.pt", last_path=save_dir / "weights" / "last.pt",
    )


def make_hook() -> tuple[ValLossAlert, Listener]:
    hook = ValLossAlert(above={"val/loss": 10.0}, rise="20%", warmup=0, action={"nonfinite": "stop"}, strict=True)
    listener, bus = Listener(), Bus()
    hook.bind(bus)
    listener.bind(bus)
    return hook, listener


def fake_trainer(save_dir: Path, resume: bool = False, start_epoch: int = 0) -> SimpleNamespace:
    return SimpleNamespace(save_dir=save_dir, epochs=len(LOSSES), stop=False, epoch=0, start_epoch=start_epoch,
                           args=SimpleNamespace(resume=resume, task="detect"))


def run(save_dir: Path, kill_after: int | None = None, appended: str = "none"):
    """Train on LOSSES. With ``kill_after=k`` the process dies after last.pt of epoch k and before the hook saved the
    state of epoch k, having appended ``none``, ``some`` (the first) or ``all`` of epoch k's records to alerts.jsonl.
    Returns (every event published, in both processes, and the epoch the run stopped at)."""
    snaps = [snapshot(e, save_dir) for e in range(1, len(LOSSES) + 1)]
    hook, listener = make_hook()
    hook.snapshot = lambda t: snaps[t.epoch]
    trainer = fake_trainer(save_dir)
    hook.on_pretrain_routine_start(trainer)
    published = []
    for index, snap in enumerate(snaps):
        if snap.epoch == kill_after:
            flush_state(hook)
            state_before = hook.state_path(trainer).read_text()
            if appended != "none":  # the killed process got through _emit for (some of) this epoch
                trainer.epoch = index
                hook.on_fit_epoch_end(trainer)
                flush_state(hook)
                hook.state_path(trainer).write_text(state_before)  # ... but not through save_state
                if appended == "some":
                    lines = (save_dir / ALERTS_FILE).read_text().splitlines(keepends=True)
                    first = next(i for i, line in enumerate(lines) if json.loads(line)["epoch"] == snap.epoch)
                    (save_dir / ALERTS_FILE).write_text("".join(lines[: first + 1]))
                    listener.published = listener.published[: len(listener.published) - (len(lines) - first - 1)]
            published += listener.published
            hook, listener = make_hook()
            hook.snapshot = lambda t: snaps[t.epoch]
            trainer = fake_trainer(save_dir, resume=True, start_epoch=kill_after)
            hook.on_pretrain_routine_start(trainer)
            assert hook.restore_state(trainer) == kill_after - 1  # what the core does in on_train_start
            hook.catch_up(trainer, snap.epoch, snap.values())
        else:
            trainer.epoch = index
            hook.on_fit_epoch_end(trainer)
        if trainer.stop:
            break
    flush_state(hook)  # alerts.jsonl is appended on the bus' writer, like the state file
    return published + listener.published, snap.epoch


def file_records(save_dir: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k != "time"}
            for line in (save_dir / ALERTS_FILE).read_text().splitlines()]


def event_data(events) -> list[tuple]:
    return [(e.kind, e.severity, e.message, json.dumps(e.data, sort_keys=True)) for e in events]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    save_dir = tmp_path_factory.mktemp("reference")
    published, stopped_at = run(save_dir)
    return file_records(save_dir), event_data(published), stopped_at


def test_the_reference_run_has_several_records_at_one_epoch(reference):
    records, published, stopped_at = reference
    assert [(r["kind"], r["rule"], r["loss"], r["epoch"]) for r in records] == [
        ("alert", "rise", "val/box_loss", 3), ("alert", "rise", "val/cls_loss", 3), ("alert", "above", "val/loss", 3),
        ("alert", "rise", "val/loss", 3),
        ("recovered", "rise", "val/box_loss", 4), ("recovered", "rise", "val/cls_loss", 4),
        ("recovered", "above", "val/loss", 4), ("recovered", "rise", "val/loss", 4),
        ("alert", "nonfinite", "val/box_loss", 6),
    ]
    assert len(published) == len(records) and stopped_at == 6


@pytest.mark.parametrize(
    "kill_after, appended",
    [(k, a) for k in (2, 3, 4, 5, 6) for a in ("none", "all")] + [(3, "some"), (4, "some")],  # some: of 4 records
)
def test_catching_up_gives_the_same_records_and_events_once(tmp_path, reference, kill_after, appended):
    records, published, stopped_at = reference
    got_published, got_stop = run(tmp_path, kill_after=kill_after, appended=appended)
    assert file_records(tmp_path) == records  # nothing lost, no duplicate line
    assert event_data(got_published) == published  # each alert and recovery published once, across both processes
    assert got_stop == stopped_at


def test_catch_up_writes_a_record_missing_from_the_file_and_skips_one_already_there(tmp_path):
    """Epoch 3 killed after only its first record reached alerts.jsonl: the other three are written, the first is
    not written again."""
    run(tmp_path, kill_after=3, appended="some")
    epoch3 = [(r["rule"], r["loss"]) for r in file_records(tmp_path) if r["epoch"] == 3]
    assert epoch3 == [("rise", "val/box_loss"), ("rise", "val/cls_loss"), ("above", "val/loss"), ("rise", "val/loss")]


def test_a_line_torn_by_the_kill_is_replaced_by_the_whole_record(tmp_path):
    """Killed in the middle of appending epoch 2's record: the torn bytes are cut off and the record written whole,
    on its own line."""
    hook, _ = make_hook()
    trainer = fake_trainer(tmp_path, resume=True, start_epoch=2)
    whole = json.dumps({"kind": "alert", "rule": "above", "loss": "val/loss", "epoch": 1})
    (tmp_path / ALERTS_FILE).write_text(whole + "\n" + '{"kind": "alert", "rule": "ab')
    hook.catch_up(trainer, 2, {"val/box_loss": 20.0, "val/loss": 20.0, "fitness": 0.0})
    flush_state(hook)  # the record is appended by the bus' writer
    lines = (tmp_path / ALERTS_FILE).read_text().splitlines()
    assert lines[0] == whole and len(lines) == 2
    assert (json.loads(lines[1])["rule"], json.loads(lines[1])["epoch"]) == ("above", 2)
