"""What the trackers are told, as tables: events -> MLflow tags and W&B alerts, the outcome -> its fields."""

from __future__ import annotations

import json

import pytest

from yolo_hooks.trackers.records import (
    alert_args,
    alerts_text,
    as_summary,
    as_tags,
    event_tags,
    events_jsonl,
    outcome_fields,
    repeat_wait,
    wants_alert,
)


def event(kind_, message="", severity="info", source=None, **data):
    return {"kind": kind_, "source": source or kind_, "severity": severity, "message": message, "data": data,
            "time": 0.0, "id": "x"}


STOP = event("early_stop", "val/loss did not improve for 3 epochs", "warning", epoch=7, monitor="val/loss")
ALERT = event("alert", "val/box_loss 9.1 is above 8", "critical", "val_loss_alert", epoch=3, rule="above",
              loss="val/box_loss", repeat_every=2)
MIRRORED = event("mirror_done", "best best.pt mirrored", "info", "best_mirror", epoch=5, kind="best",
                 store="s3://bucket/runs", file="best.pt", sha256="ab" * 32)


@pytest.mark.parametrize("record, tags", [
    (STOP, {"yolo_hooks.early_stop": "epoch 7: val/loss did not improve for 3 epochs"}),
    (ALERT, {"yolo_hooks.alert": "epoch 3: val/box_loss 9.1 is above 8"}),
    (MIRRORED, {"yolo_hooks.mirror": "s3://bucket/runs/best.pt", "yolo_hooks.mirror_sha256": "ab" * 32,
                "yolo_hooks.mirror_epoch": "5"}),
    ({**MIRRORED, "data": {**MIRRORED["data"], "kind": "last"}}, {}),  # last.pt copies are not the best
    (event("fitness_summary", "done"), {}),
    (event("lr_reduced", "lr 0.01 -> 0.001", epoch=12), {"yolo_hooks.lr_reduced": "epoch 12: lr 0.01 -> 0.001"}),
])  # fmt: skip
def test_each_event_sets_the_tag_of_its_kind(record, tags):
    assert event_tags(record) == tags


@pytest.mark.parametrize("record, minimum, alert", [
    (ALERT, "warning", True), (STOP, "warning", True), (STOP, "critical", False), (MIRRORED, "info", False),
    (event("alert_recovered", "back", "info"), "warning", False), (ALERT, None, False),
])  # fmt: skip
def test_which_events_are_wandb_alerts(record, minimum, alert):
    assert wants_alert(record, minimum) is alert


def test_an_alert_has_a_title_per_rule_and_loss_a_level_from_its_severity_and_waits_for_its_repeat():
    assert alert_args(ALERT, repeat_wait(2, 3, 30.0)) == {
        "title": "val_loss_alert: above val/box_loss", "text": "epoch 3: val/box_loss 9.1 is above 8",
        "level": "ERROR", "wait_duration": 18.0}  # 0.9 x 2 epochs x 10 s an epoch
    assert alert_args(STOP) == {"title": "early_stop: val/loss", "level": "WARN",
                                "text": "epoch 7: val/loss did not improve for 3 epochs"}  # W&B's default wait
    assert repeat_wait(None, 3, 30.0) is None and repeat_wait(2, 0, 30.0) is None


@pytest.mark.parametrize("outcome, events, reason", [
    ({"status": "finished", "epoch": 30, "epochs": 30}, [], "finished all 30 epochs"),
    ({"status": "stopped_early", "epoch": 7, "epochs": 30}, [STOP],
     "stopped early at epoch 7/30: val/loss did not improve for 3 epochs"),
    ({"status": "stopped_early", "epoch": 9, "epochs": 30}, [], "stopped early at epoch 9/30: Ultralytics' patience"),
    ({"status": "stopped_early", "epoch": 1, "epochs": 3, "message": "stopped by Ray Tune's scheduler"}, [],
     "stopped early at epoch 1/3: stopped by Ray Tune's scheduler"),
    ({"status": "crashed", "epoch": 4, "epochs": 30, "exc_type": "RuntimeError", "message": "CUDA out of memory"},
     [], "crashed at epoch 4/30: RuntimeError: CUDA out of memory"),
    ({"status": "interrupted", "epoch": 2, "epochs": 30}, [], "interrupted at epoch 2/30"),
])  # fmt: skip
def test_the_outcome_says_why_the_run_ended(outcome, events, reason):
    assert outcome_fields(outcome, events, None, None)["outcome_reason"] == reason


def test_the_outcome_has_the_best_epoch_the_mirrored_best_and_the_alert_count():
    fields = outcome_fields({"status": "finished", "epoch": 10, "epochs": 10}, [ALERT, ALERT, MIRRORED], (6, 0.41),
                            None)
    assert fields == {"outcome": "finished", "outcome_reason": "finished all 10 epochs", "stopped_epoch": 10,
                      "alerts": 2, "best_epoch": 6, "best_fitness": 0.41, "mirror": "s3://bucket/runs/best.pt",
                      "mirror_sha256": "ab" * 32}
    # fitness_report's summary, when there is one, counts the best as it does
    assert outcome_fields({"status": "finished"}, [], (6, 0.41), {"best_epoch": 5, "best_fitness": 0.4})[
        "best_epoch"] == 5
    assert as_tags({"outcome": "finished", "best_epoch": 6}) == {"yolo_hooks.outcome": "finished",
                                                                 "yolo_hooks.best_epoch": "6"}
    assert as_summary({"best_epoch": 6}) == {"yolo_hooks/best_epoch": 6}


def test_the_artifacts_are_strict_json_lines_and_one_line_per_alert():
    nan = event("alert", "val/loss is nan", "critical", "val_loss_alert", epoch=2, value=float("nan"))
    lines = events_jsonl([nan, MIRRORED]).splitlines()
    assert json.loads(lines[0])["data"]["value"] == "nan" and len(lines) == 2
    assert alerts_text([nan, MIRRORED]) == "CRITICAL alert            epoch 2: val/loss is nan  [val_loss_alert]\n"
    assert alerts_text([MIRRORED]) == "no alerts\n"
