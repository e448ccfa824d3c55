"""EarlyStopping and ReduceLROnPlateau in real coco8 trainings of a random-init yolo11n (fitness stays 0.0)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tests.conftest import _cuda_available, train, train_interrupted_then_resumed
from tests.helpers import LoggedEarlyStop, Recorder
from yolo_hooks import Hook
from yolo_hooks.core import compat
from yolo_hooks.plateau.early_stop import EarlyStopping
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA device"))]


class LrRecorder(Hook):
    """The optimizer's effective lr of every param group after every batch, and what the bus carried."""

    def __init__(self):
        super().__init__(name="lr_recorder")
        self.rows: list[dict] = []
        self.published = []
        self._batch = 0

    def on_train_epoch_start(self, trainer):
        self._batch = 0

    def on_train_batch_end(self, trainer):
        nb = len(trainer.train_loader)
        self.rows.append({
            "epoch": trainer.epoch,
            "ni": self._batch + nb * trainer.epoch,
            "nw": compat.warmup_iterations(trainer, nb),
            "lr": [g["lr"] for g in trainer.optimizer.param_groups],
            "bias": [compat.is_bias_group(trainer.optimizer, i) for i in range(len(trainer.optimizer.param_groups))],
            "lf": trainer.lf(trainer.epoch),
            "lr0": compat.base_lr(trainer),
            "warmup_bias_lr": trainer.args.warmup_bias_lr,
        })
        self._batch += 1

    def on_published(self, event):
        self.published.append(event)


def ultralytics_lr(row: dict, group: int, scale: float) -> float:
    """The lr BaseTrainer gives a group (warmup interpolation, else LambdaLR) if its base lr0 is scaled by ``scale``."""
    target = row["lr0"] * scale * row["lf"]
    if row["nw"] and row["ni"] <= row["nw"]:
        start = row["warmup_bias_lr"] if row["bias"][group] else 0.0
        return float(np.interp(row["ni"], [0, row["nw"]], [start, target]))
    return target


def results_rows(model) -> list[dict]:
    with open(model.trainer.save_dir / "results.csv") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module", params=DEVICES)
def stopped_run(request, tmp_path_factory):
    """One 20-epoch training with patience=2 for both us and Ultralytics, shared by the assertions below."""
    hooks = dict(
        early_stop=EarlyStopping(patience=2),
        on_loss=EarlyStopping(name="early_stop_val_loss", monitor="val/loss", patience=100),
        missing=LoggedEarlyStop(name="early_stop_missing", monitor="metrics/mAP75(B)", mode="max", patience=1),
        lr=ReduceLROnPlateau(patience=1, factor=0.5),
        lr_recorder=LrRecorder(),
        events=Recorder(),
    )
    model = train(tmp_path_factory.mktemp("stop"), *hooks.values(), device=request.param, epochs=20, patience=2,
                  warmup_epochs=1, attach_kwargs=dict(strict=True))
    return model, hooks


def test_patience_2_ends_a_20_epoch_zero_fitness_run_after_3_epochs(stopped_run):
    model, hooks = stopped_run
    rows = results_rows(model)
    assert [float(r["metrics/mAP50-95(B)"]) for r in rows] == [0.0, 0.0, 0.0]  # the premise: fitness stays 0
    assert len(rows) == 3 and model.trainer.epoch == 2
    es = hooks["early_stop"]
    assert (es.stopped_epoch, es.stop_reason.value) == (3, "patience")
    assert hooks["events"].outcomes[0].status == "stopped_early"


def test_ultralytics_own_patience_2_did_not_stop_it(stopped_run):
    """Same patience=2 for Ultralytics' stopper: with best fitness 0, every epoch counted as its 'improvement'."""
    model, _ = stopped_run
    stopper = model.trainer.stopper
    assert model.trainer.args.patience == 2
    assert (stopper.best_fitness, stopper.best_epoch, stopper.possible_stop) == (0.0, 3, False)
    assert stopper(4, 0.0) is False  # and it would not stop at the next epoch either


def test_stop_keeps_checkpoints_final_validation_and_train_end(stopped_run):
    model, hooks = stopped_run
    events = [name for name, _ in hooks["events"].events]
    assert model.trainer.best.is_file() and model.trainer.last.is_file()
    assert events.count("on_model_save") == 3
    assert events[-3:] == ["on_fit_epoch_end", "on_train_end", "teardown"]  # final validation of best.pt, then end
    assert hooks["events"].snapshots[-1].is_final_eval


def test_reason_is_logged_written_and_published(stopped_run):
    model, hooks = stopped_run
    report = json.loads((model.trainer.save_dir / "early_stop.json").read_text())
    assert {k: report[k] for k in ("stopped", "reason", "epoch", "epochs", "best_epoch", "best_value", "wait_count",
                                   "patience", "monitor", "mode")} == {
        "stopped": True, "reason": "patience", "epoch": 3, "epochs": 20, "best_epoch": 1, "best_value": 0.0,
        "wait_count": 2, "patience": 2, "monitor": "fitness", "mode": "max",
    }
    assert report["ultralytics_stopper"] == {
        "patience": 2, "best_fitness": 0.0, "best_epoch": 3, "possible_stop": False,
    }
    (stop,) = [e for e in hooks["lr_recorder"].published if e.kind == "early_stop"]
    assert (stop.source, stop.severity) == ("early_stop", "warning")
    assert stop.data == {"reason": "patience", "epoch": 3, "best_epoch": 1, "best_value": 0.0, "monitor": "fitness",
                         "mode": "max", "wait_count": 2, "patience": 2}
    assert stop.message.startswith("stopping at epoch 3/20 (patience): fitness did not improve")
    state = json.loads((model.trainer.save_dir / "weights" / "early_stop.state.json").read_text())
    assert state["epoch"] == 3 and state["state"]["tracker"]["wait_count"] == 2


def test_any_metric_key_is_monitored_and_a_missing_one_is_reported_once(stopped_run):
    _, hooks = stopped_run
    on_loss = hooks["on_loss"]
    assert on_loss.mode == "min" and on_loss.tracker.epochs_seen == 3 and on_loss.tracker.best > 0
    missing = hooks["missing"]
    assert missing.error_total == 0 and missing.stopped_epoch is None and missing.tracker.epochs_seen == 0
    (level, message), = missing.logged
    assert level == "error" and "`metrics/mAP75(B)` is not a value of this run" in message
    assert "metrics/mAP50-95(B)" in message and "val/box_loss" in message and "fitness" in message


def test_reduced_lr_survives_ultralytics_lambdalr_and_warmup(stopped_run):
    """Reduced at the end of epoch 2 (not 3: the run stops there); the optimizer's effective lr in epoch 3's batches
    is half of what Ultralytics' schedule alone gives (epoch 2 is the warmup's last batch, epoch 3 is LambdaLR's)."""
    model, hooks = stopped_run
    reduced = [e for e in hooks["lr_recorder"].published if e.kind == "lr_reduced"]
    assert [(e.data["epoch"], e.data["new_lr"] / e.data["old_lr"]) for e in reduced] == [(2, 0.5)]
    rows = hooks["lr_recorder"].rows
    for row in rows:
        scale = 0.5 if row["epoch"] >= 2 else 1.0  # epoch index 2 = the 3rd epoch, after the first reduction
        for group, lr in enumerate(row["lr"]):
            assert lr == pytest.approx(ultralytics_lr(row, group, scale), rel=1e-9), (row, group)
    last = rows[-1]
    print(f"epoch {last['epoch'] + 1}: lr {last['lr'][0]:.6g} = lr0 {last['lr0']} x lf {last['lf']:.4g} x 0.5")
    assert last["lr"][0] < last["lr0"] * last["lf"]
    assert model.trainer.scheduler.base_lrs == [pytest.approx(last["lr0"] * 0.5)] * len(last["lr"])


def test_resumed_run_stops_at_the_same_epoch_with_the_same_lr(tmp_path, device):
    """Interrupted at the start of epoch 3 (epochs 1-2 in last.pt), resumed with fresh hooks: it stops at epoch 3
    with the lr reduced at epoch 2, exactly like the uninterrupted run of the same configuration."""

    def make_hooks():
        return [EarlyStopping(patience=2), ReduceLROnPlateau(patience=1, factor=0.5), LrRecorder()]

    reference = make_hooks()
    train(tmp_path / "uninterrupted", *reference, device=device, epochs=6, attach_kwargs=dict(strict=True))
    assert reference[0].stopped_epoch == 3

    first, resumed, model = train_interrupted_then_resumed(tmp_path / "resumed", make_hooks, epochs=6, interrupt_at=2,
                                                           device=device)
    assert first[0].tracker.wait_count == 1 and first[0].stopped_epoch is None
    assert resumed[0].stopped_epoch == reference[0].stopped_epoch == 3
    assert resumed[0].tracker.state_dict() == reference[0].tracker.state_dict()
    assert [float(r["metrics/mAP50-95(B)"]) for r in results_rows(model)] == [0.0, 0.0, 0.0]
    assert json.loads((model.trainer.save_dir / "early_stop.json").read_text())["epoch"] == 3

    # lr: epoch 3 is still in warmup (nw = 3 batches); the reduction of epoch 2 must reach it after the resume
    resumed_rows = [r for r in resumed[2].rows if r["epoch"] == 2]
    reference_rows = [r for r in reference[2].rows if r["epoch"] == 2]
    assert len(resumed_rows) == len(reference_rows) > 0
    for got, want in zip(resumed_rows, reference_rows):
        assert got["lr"] == pytest.approx(want["lr"], rel=1e-9)
    for row in resumed_rows:
        assert row["ni"] <= row["nw"]
        assert row["lr"] == pytest.approx([ultralytics_lr(row, g, 0.5) for g in range(len(row["lr"]))])
    assert resumed[1].lrs == reference[1].lrs == [pytest.approx(resumed_rows[0]["lr0"] * 0.5)] * 3
