"""Event order and per-epoch snapshots on a real coco8 training, val, predict and export."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import COCO8, COCO8_VAL_IMAGES, train
from tests.helpers import Recorder
from yolo_hooks.core import compat

pytestmark = [pytest.mark.training, pytest.mark.floor]


def test_training_fires_events_in_ultralytics_order_and_flags_the_final_evaluation(tmp_path, device):
    recorder = Recorder(strict=True)
    model = train(tmp_path, recorder, device=device, epochs=2)

    trainer_events = [e for e in recorder.events if not e[0].startswith("on_val")]
    assert trainer_events == [
        ("on_pretrain_routine_start", None),
        ("on_pretrain_routine_end", None),
        ("on_train_start", None),
        ("on_train_epoch_start", 0),
        ("on_train_epoch_end", 0),
        ("on_model_save", 0),
        ("on_fit_epoch_end", 0),
        ("on_train_epoch_start", 1),
        ("on_train_epoch_end", 1),
        ("on_model_save", 1),
        ("on_fit_epoch_end", 1),
        ("on_fit_epoch_end", 2 if compat.FINAL_EVAL_RAISES_EPOCH else 1),  # final validation of best.pt
        ("on_train_end", 1),
        ("teardown", 1),
    ]
    # training validations and the final one reach validator hooks too
    assert [e[0] for e in recorder.events].count("on_val_end") == 3

    first, second, final = recorder.snapshots
    assert [s.is_final_eval for s in recorder.snapshots] == [False, False, True]
    assert (first.epoch, second.epoch, final.epoch) == (1, 2, 2)
    assert final.val_losses == {} and second.val_losses  # the final evaluation has no validation losses
    assert recorder.outcomes[0].status == "finished"

    # snapshot numbers are the trainer's own: compare with Ultralytics' results.csv of the same run
    rows = list(csv.DictReader(open(model.trainer.save_dir / "results.csv")))
    for row, snap in zip(rows, (first, second)):
        assert int(row["epoch"]) == snap.epoch
        for key, value in {**snap.metrics, **snap.val_losses, **snap.train_losses, **snap.lr}.items():
            assert float(row[key]) == pytest.approx(value, rel=1e-4, abs=1e-6), key


def test_the_core_reads_each_epoch_snapshot_once_for_every_hook(tmp_path, monkeypatch):
    """The core's own callback runs first and reads the epoch's snapshot: every hook after it gets that object, and
    the trainer is read once per ``on_fit_epoch_end`` however many hooks ask."""
    from yolo_hooks.core import run

    reads: list[str] = []
    real_read = run.read_trainer
    monkeypatch.setattr(run, "read_trainer", lambda *a: reads.append("read") or real_read(*a))
    first, second = Recorder(strict=True), Recorder(strict=True)
    found: list[bool] = []
    real_on_fit_epoch_end = Recorder.on_fit_epoch_end

    def on_fit_epoch_end(self, trainer):
        ready = run.run_state(trainer).snapshot
        found.append(ready is not None and self.snapshot(trainer) is ready)
        reads.append("event")
        real_on_fit_epoch_end(self, trainer)

    monkeypatch.setattr(Recorder, "on_fit_epoch_end", on_fit_epoch_end)
    train(tmp_path, first, second, epochs=2, imgsz=64)

    assert found == [True] * 6  # 2 epochs + the final evaluation, 2 hooks each
    assert "".join("r" if r == "read" else "e" for r in reads) == "ree" * 3
    assert [s.epoch for s in first.snapshots] == [s.epoch for s in second.snapshots]


def test_val_predict_and_export_fire_their_events_through_attached_hooks(trained_weights, tmp_path):
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO(trained_weights)
    recorder = Recorder(strict=True)
    yolo_hooks.attach(model, recorder)

    model.val(data=str(COCO8), imgsz=160, batch=4, workers=0, plots=False, project=str(tmp_path), name="val")
    list(model.predict(source=str(COCO8_VAL_IMAGES), imgsz=160, stream=True, verbose=False))
    model.export(format="torchscript", imgsz=160)

    names = [e[0] for e in recorder.events]
    assert names == [
        "on_val_start",
        "on_val_end",
        "on_predict_start",
        "on_predict_end",
        "on_export_start",
        "on_export_end",
    ]
