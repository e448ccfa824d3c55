"""One measure of a run's duration (core.run.run_duration), named `duration` everywhere: the train_end and
interrupt / crash messages, fitness_summary.json and its forensics say the same number, and a resumed run's
duration counts the training of the process it goes on from."""

from __future__ import annotations

import csv

import pytest

from tests.conftest import train_interrupted_then_resumed
from yolo_hooks import FitnessReport, Notify
from yolo_hooks.core.numbers import format_duration
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.training


def test_the_messages_the_summary_and_the_forensics_give_one_duration(tmp_path):
    with WebhookReceiver() as receiver:
        def make_hooks():
            return [FitnessReport(plot=False), Notify(format="json", url=receiver.url, events=["train_end", "interrupt"])]

        first, resumed, _ = train_interrupted_then_resumed(tmp_path, make_hooks, epochs=3, interrupt_at=2, imgsz=64)
        delivered = {m["event"]: m for m in receiver.delivered()}

    interrupted = first[0].summary
    assert interrupted["status"] == "interrupted"
    assert delivered["interrupt"]["data"]["duration"] == interrupted["duration"] == interrupted["forensics"]["duration"]
    assert delivered["interrupt"]["fields"]["Duration"] == format_duration(interrupted["duration"])

    summary = resumed[0].summary
    assert delivered["train_end"]["data"]["duration"] == summary["duration"]
    assert f"in {format_duration(summary['duration'])}" in delivered["train_end"]["text"]
    with open(tmp_path / "run" / "results.csv", newline="") as f:
        times = {int(float(r["epoch"])): float(r["time"]) for r in csv.DictReader(f, skipinitialspace=True)}
    # epochs 1-2 ran in the first process (results.csv's time restarts with the resumed one)
    assert times[3] < times[2] < summary["duration"]
    assert summary["duration"] == pytest.approx(times[2] + times[3], abs=15)  # plus the final validation
