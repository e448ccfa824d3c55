"""A real training whose loss turns NaN: each of Ultralytics' reloads of last.pt is published as `nan_recovered`
(attempt n of 3, epoch, which loss), and the crash after the last one says so, with the forensics a person needs:
traceback tail, versions, host, device, last completed epoch, where last.pt / best.pt are, how to resume."""

from __future__ import annotations

import json

import pytest

from tests.conftest import train
from tests.helpers import Listener
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.training


def nan_loss_from(epoch: int):
    """Make the training loss NaN at the end of every 0-based ``epoch`` >= ``epoch`` (before validation)."""
    def callback(trainer):
        if trainer.epoch >= epoch:
            import torch

            trainer.loss = torch.full_like(trainer.loss, float("nan"))
    return callback


def test_each_nan_recovery_is_published_and_the_final_failure_is_a_crash_that_says_so(tmp_path):
    from ultralytics import YOLO

    import yolo_hooks

    receiver = WebhookReceiver().start()
    model = YOLO("yolo11n.yaml")
    model.add_callback("on_train_epoch_end", nan_loss_from(epoch=1))
    listener = Listener()
    hooks = [*yolo_hooks.build_hooks({"notify": [{"format": "json", "url": receiver.url, "events": "all"}],
                                      "fitness_report": {"plot": False}}), listener]
    with pytest.raises(RuntimeError, match="NaN persisted"):
        train(tmp_path, *hooks, model=model, epochs=3, imgsz=64)

    recoveries = [e.data for e in listener.published if e.kind == "nan_recovered"]
    assert [(r["attempt"], r["max_attempts"], r["epoch"], r["loss"]) for r in recoveries] == [
        (1, 3, 2, "total loss"), (2, 3, 2, "total loss"), (3, 3, 2, "total loss")]
    hooks[0].flush(10)
    received = receiver.delivered()
    assert [m["event"] for m in received].count("nan_recovered") == 3
    crash = next(m for m in received if m["event"] == "crash")
    assert "NaN" in crash["text"] and "3 of 3" in crash["text"]
    facts = crash["data"]["forensics"]
    assert facts["exc_type"] == "RuntimeError" and "NaN persisted" in facts["message"]
    assert any("_handle_nan_recovery" in line or "RuntimeError" in line for line in facts["traceback"])
    assert facts["python"] and facts["torch"] and facts["ultralytics"] and facts["host"] and facts["device"] == "cpu"
    assert facts["last_completed_epoch"] == 1 and facts["nan_recoveries"] == 4
    assert facts["last_pt"].endswith("last.pt") and facts["best_pt"].endswith("best.pt") and facts["resumable"]
    assert facts["resume"] == f"yolo-hooks train resume=True model={facts['last_pt']} hooks=<your hooks.yaml>"
    summary = json.loads((tmp_path / "run" / "fitness_summary.json").read_text())
    assert summary["status"] == "crashed" and summary["forensics"]["resume"] == facts["resume"]
    receiver.stop()
