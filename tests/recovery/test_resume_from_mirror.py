"""`yolo-hooks resume s3://...` on a fresh machine: a run stopped after 3 of 6 epochs, its local folder deleted,
goes on from the mirror (moto S3 on loopback) and ends with every epoch exactly once in fitness.csv."""

from __future__ import annotations

import csv
import shutil

import pytest

from tests.conftest import _InterruptAt, train
from yolo_hooks.cli import main

pytestmark = pytest.mark.training


def test_resume_from_s3_continues_every_epoch_exactly_once(tmp_path, s3_server):
    from ultralytics import YOLO

    import yolo_hooks

    url = "s3://mirror-bucket/resume-test"
    config = {"fitness_report": {"plot": False}, "early_stop": {"patience": 50},
              "best_mirror": {"to": {"url": url, "storage_options": {"endpoint_url": s3_server}}, "last_every": 1,
                              "keep": 0}}
    hooks_yaml = tmp_path / "hooks.yaml"
    import yaml

    hooks_yaml.write_text(yaml.safe_dump(config))
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, str(hooks_yaml))
    model.add_callback("on_train_epoch_start", _InterruptAt(3))  # epochs 1-3 complete, then the machine is gone
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "first", model=model, epochs=6, imgsz=64)
    shutil.rmtree(tmp_path / "first")

    resumed = tmp_path / "fresh-machine" / "run"
    assert main(["resume", url, f"hooks={hooks_yaml}", f"dir={resumed}"]) == 0

    with open(resumed / "fitness.csv", newline="") as f:
        epochs = [int(row["epoch"]) for row in csv.DictReader(f)]
    assert epochs == [1, 2, 3, 4, 5, 6]
    with open(resumed / "results.csv", newline="") as f:
        assert [int(float(row["epoch"].strip() if "epoch" in row else row[" epoch"])) for row in csv.DictReader(
            f, skipinitialspace=True)] == [1, 2, 3, 4, 5, 6]
    state = yolo_hooks.core.files.read_json(resumed / "weights" / "early_stop.state.json")
    assert state["epoch"] == 6 and state["state"]
