"""ValLossAlert in real coco8 trainings (random-init yolo11n: val/loss is about 13 for the first epochs)."""

from __future__ import annotations

import csv
import json
import logging

import pytest

from tests.conftest import train, train_interrupted_then_resumed
from tests.helpers import Listener, Recorder
from yolo_hooks.val_loss.hook import ValLossAlert

pytestmark = pytest.mark.training


def results_rows(run_dir) -> list[dict]:
    return list(csv.DictReader((run_dir / "results.csv").read_text().splitlines()))


def read_alerts(run_dir) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "alerts.jsonl").read_text().splitlines()]


@pytest.mark.floor
def test_above_threshold_below_the_observed_loss_fires_and_its_reminder_survives_resume(tmp_path, device):
    listeners = []

    def make_hooks():
        listeners.append(Listener())
        # repeat_every 2: the alert of epoch 1 is repeated at epoch 3, after the resume, only if the state came back
        return [ValLossAlert(above={"val/loss": 1.0}, rise=None, warmup=0, repeat_every=2, strict=True), listeners[-1]]

    _, resumed, model = train_interrupted_then_resumed(tmp_path, make_hooks, epochs=4, interrupt_at=2, device=device)
    run_dir = model.trainer.save_dir

    alerts = read_alerts(run_dir)
    assert [(a["kind"], a["rule"], a["loss"], a["epoch"], a["since"]) for a in alerts] == [
        ("alert", "above", "val/loss", 1, 1),
        ("alert", "above", "val/loss", 3, 1),  # a reminder of the same condition: not a new one (resume kept it)
    ]  # epochs 2 and 4 are inside the repeat interval, and the final evaluation of best.pt fires nothing
    rows = results_rows(run_dir)
    for alert in alerts:
        row = rows[alert["epoch"] - 1]
        observed = sum(float(v) for k, v in row.items() if k.startswith("val/"))
        assert alert["value"] == pytest.approx(observed, rel=1e-4) and observed > 1.0
        assert (alert["threshold"], alert["baseline"], alert["severity"], alert["action"]) == (
            1.0,
            None,
            "critical",
            "alert",
        )
    assert "(still, since epoch 1)" in alerts[1]["message"]

    # published for notifications, with the contract's data keys
    events = listeners[0].published + listeners[-1].published
    assert [(e.kind, e.source, e.severity, e.data["epoch"]) for e in events] == [
        ("alert", "val_loss_alert", "critical", 1),
        ("alert", "val_loss_alert", "critical", 3),
    ]
    assert {"rule", "loss", "value", "threshold", "baseline", "epoch", "action"} <= set(events[0].data)
    assert events[0].message == alerts[0]["message"]
    assert resumed[0].state_dict()["active"] == {"above|val/loss": {"since": 1, "last_fired": 3}}


def test_action_stop_ends_a_10_epoch_run_after_warmup_with_best_pt_and_final_validation(tmp_path, device, caplog):
    from ultralytics import YOLO

    # val/seg_loss is a valid name (segmentation) that this detection run never produces: reported, not fatal
    alert = ValLossAlert(above={"val/loss": 1.0, "val/seg_loss": 1.0}, rise=None, warmup=1, action="stop", strict=True)
    recorder = Recorder(strict=True)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "alerts.jsonl").write_text('{"epoch": 99}\n')  # an earlier run's, as results.csv it goes
    with caplog.at_level(logging.INFO, logger="ultralytics"):
        model = train(tmp_path, alert, recorder, device=device, epochs=10)
    run_dir = model.trainer.save_dir
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if "val_loss_alert:" in r.getMessage()]
    epoch_lines = [(level, m) for level, m in logged if "epoch 2:" in m]  # one line for the epoch, no doubled WARNING
    assert len(epoch_lines) == 1 and epoch_lines[0][0] == logging.ERROR
    assert "epoch 2: above on val/loss (13." in epoch_lines[0][1] and "> 1); stopping" in epoch_lines[0][1]
    assert all(m.count("WARNING") <= 1 and "CRITICAL" not in m for _, m in logged), logged  # Ultralytics says it once
    assert any(
        level == logging.ERROR and "stopping training after epoch 2 (above on val/loss)" in m for level, m in logged
    )
    assert any(level == logging.WARNING and "val/seg_loss not produced by this detect run" in m for level, m in logged)

    # epoch 1 is warm-up; epoch 2 fires and stops; then Ultralytics' own final validation of best.pt and on_train_end
    assert [(r.kind, r.rule, r.epoch, r.action) for r in alert.records] == [("alert", "above", 2, "stop")]
    fit_ends = [s for s in recorder.snapshots]
    assert [(s.epoch, s.is_final_eval) for s in fit_ends] == [(1, False), (2, False), (2, True)]
    assert [e[0] for e in recorder.events][-2:] == ["on_train_end", "teardown"]
    assert recorder.outcomes[0].status == "stopped_early" and (
        recorder.outcomes[0].epoch,
        recorder.outcomes[0].epochs,
    ) == (2, 10)
    assert len(results_rows(run_dir)) == 2
    assert [a["epoch"] for a in read_alerts(run_dir)] == [2]

    best = YOLO(run_dir / "weights" / "best.pt")  # written, and loadable after the final evaluation stripped it
    assert best.ckpt["epoch"] == -1 and model.trainer.metrics  # stripped = final form; final metrics present
