"""A real coco8 training killed between Ultralytics' last.pt and the hooks' own writes, resumed with ``resume=True``:
every stateful hook catches up on the epoch its files missed and the run ends as an uninterrupted one would.

The kill window is made deterministic: the run is interrupted at the start of epoch 3 (epochs 1-2 in last.pt), then
the hooks' state files are put back to their epoch-1 versions and fitness.jsonl/csv lose epoch 2, which is what a
SIGKILL right after last.pt of epoch 2 leaves. alerts.jsonl keeps epoch 2's record: the kill may land after it.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.conftest import _InterruptAt, train
from tests.helpers import KeepStateOfEpoch
from yolo_hooks.core import compat
from yolo_hooks.fitness.report import FitnessReport
from yolo_hooks.plateau.early_stop import EarlyStopping
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau
from yolo_hooks.val_loss.hook import ValLossAlert

pytestmark = pytest.mark.training

PATIENCE = 2  # fitness stays 0.0 on a random-init model: an uninterrupted run stops at epoch 1 + PATIENCE


def make_hooks():
    return [
        FitnessReport(plot=False, console=False, strict=True),
        # cooldown 1: the alert of epoch 1 is repeated every epoch, so the missed epoch has a record of its own
        ValLossAlert(above={"val/loss": 1.0}, rise=None, warmup=0, repeat_every=1, strict=True),
        EarlyStopping(patience=PATIENCE, strict=True),
        ReduceLROnPlateau(patience=1, factor=0.5, strict=True),  # reduces at epoch 2, the missed one
    ]


def test_hooks_one_epoch_behind_last_pt_catch_up_and_the_run_ends_as_uninterrupted(tmp_path, device):
    run_dir, kept = tmp_path / "run", tmp_path / "states_of_epoch_1"
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, *make_hooks(), KeepStateOfEpoch(1, kept))
    model.add_callback("on_train_epoch_start", _InterruptAt(2))
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, model=model, device=device, epochs=6, warmup_epochs=1)

    # what a SIGKILL right after last.pt of epoch 2 leaves: every state at epoch 1, fitness files without epoch 2
    assert sorted(p.name for p in kept.iterdir()) == [
        "early_stop.state.json", "lr_on_plateau.state.json", "val_loss_alert.state.json",
    ]
    for state in kept.iterdir():
        shutil.copy(state, run_dir / "weights" / state.name)
    original = [json.loads(line) for line in (run_dir / "fitness.jsonl").read_text().splitlines()]
    (run_dir / "fitness.jsonl").write_text("".join(json.dumps(r) + "\n" for r in original if r["epoch"] == 1))
    lines = (run_dir / "fitness.csv").read_text().splitlines(keepends=True)
    (run_dir / "fitness.csv").write_text("".join(lines[:2]))  # header and epoch 1
    alerts_before = (run_dir / "alerts.jsonl").read_text()
    assert [json.loads(line)["epoch"] for line in alerts_before.splitlines()] == [1, 2]

    hooks = make_hooks()
    resumed = YOLO(run_dir / "weights" / "last.pt")
    yolo_hooks.attach(resumed, *hooks)
    resumed.train(resume=True)
    report, alert, early, lr = hooks
    results = list(csv.DictReader((run_dir / "results.csv").read_text().splitlines()))
    assert [float(r["metrics/mAP50-95(B)"]) for r in results] == [0.0, 0.0, 0.0]  # the premise: fitness stays 0

    # EarlyStopping counted epoch 2: it stops at epoch 1 + PATIENCE, like the uninterrupted run (not one epoch later)
    assert (early.stopped_epoch, early.stop_reason.value, early.tracker.best_epoch) == (1 + PATIENCE, "patience", 1)
    assert json.loads((run_dir / "early_stop.json").read_text())["epoch"] == 1 + PATIENCE
    assert resumed.trainer.epoch + 1 == 1 + PATIENCE

    # fitness.csv/jsonl: every epoch once; epoch 2 rebuilt from results.csv and last.pt equals the lost record
    assert [int(r["epoch"]) for r in csv.DictReader((run_dir / "fitness.csv").read_text().splitlines())] == [1, 2, 3]
    records = [json.loads(line) for line in (run_dir / "fitness.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["phase"]) for r in records] == [(1, "train"), (2, "train"), (3, "train"), (3, "final")]
    lost, rebuilt = original[1], records[1]
    for key, value in lost.items():
        if key in ("epoch_time", "elapsed", "total_time", "eta"):  # from results.csv's time column: estimates
            print(f"{key}: lost {value:.3f}, rebuilt {rebuilt[key]:.3f}")
            assert rebuilt[key] > 0, key
        elif isinstance(value, float):
            assert rebuilt[key] == pytest.approx(value, rel=1e-5, abs=1e-9), key  # results.csv: 6 digits
        else:
            assert rebuilt[key] == value, key

    # alerts.jsonl: epoch 2's reminder was already in the file, so it is not there twice
    alerts = [json.loads(line) for line in (run_dir / "alerts.jsonl").read_text().splitlines()]
    assert [(a["kind"], a["rule"], a["loss"], a["epoch"]) for a in alerts] == [
        ("alert", "above", "val/loss", epoch) for epoch in (1, 2, 3)
    ]
    assert (run_dir / "alerts.jsonl").read_text().startswith(alerts_before)

    # the lr reduction of epoch 2 was made on resume and was in effect for epoch 3
    assert [r["epoch"] for r in lr.reductions] == [2]
    lr0 = compat.base_lr(resumed.trainer)
    assert resumed.trainer.scheduler.base_lrs == [pytest.approx(lr0 * 0.5)] * len(lr.lrs)
    assert all(h.error_total == 0 for h in hooks)
