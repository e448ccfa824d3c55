"""Right counts and labels on every task: a classify ``model.val()`` report counts its images, and segment / pose
lines keep the (B)/(M)/(P) suffixes that tell the box metrics from the mask / keypoint ones."""

from __future__ import annotations

import pytest
from ultralytics import YOLO
from ultralytics.utils.metrics import ClassifyMetrics, DetMetrics, OBBMetrics, PoseMetrics, SegmentMetrics

import yolo_hooks
from tests.fitness.helpers import captured_log
from yolo_hooks.fitness.modes import ModeReports, format_val
from yolo_hooks.fitness.record import format_summary

# task -> (its metric keys, the labels its lines must show, labels they must not show)
TASKS = {
    "detect": (DetMetrics().keys, ["P 0.1", "mAP50-95 0.4"], ["(B)"]),
    "obb": (OBBMetrics().keys, ["P 0.1", "mAP50-95 0.4"], ["(B)"]),
    "segment": (SegmentMetrics().keys, ["P(B) 0.1", "mAP50-95(B) 0.4", "P(M) 0.5", "mAP50-95(M) 0.8"], []),
    "pose": (PoseMetrics().keys, ["P(B) 0.1", "mAP50-95(B) 0.4", "P(P) 0.5", "mAP50-95(P) 0.8"], []),
    "classify": (ClassifyMetrics().keys, ["top1 0.1", "top5 0.2"], []),
}


def values(keys: list[str]) -> dict[str, float]:
    return {k: round(0.1 * (i + 1), 1) for i, k in enumerate(keys)}


def val_report(keys: list[str]) -> dict:
    return {"model": "best.pt", "data": "data.yaml", "split": "val", "images": 4, "fitness": 0.5,
            "metrics": values(keys), "speed_ms": {"inference": 1.0}, "time_s": 0.5}  # fmt: skip


def summary(keys: list[str]) -> dict:
    return {"reason": "finished", "epochs_run": 3, "last_epoch": 3, "epochs": 3, "duration": 12.0, "best_epoch": 2,
            "best_fitness": 0.5, "best_metrics": values(keys), "error": None, "files": {}}  # fmt: skip


@pytest.mark.parametrize("task", TASKS)
def test_val_report_line_labels_each_metric_of_the_task(task):
    keys, shown, hidden = TASKS[task]
    line = format_val(val_report(keys))
    assert all(label in line for label in shown) and not any(label in line for label in hidden), line


@pytest.mark.parametrize("task", TASKS)
def test_best_epoch_line_labels_each_metric_of_the_task(task):
    keys, shown, hidden = TASKS[task]
    line = format_summary(summary(keys)).splitlines()[1]
    assert line.startswith("best epoch 2: fitness 0.5000")
    assert all(label in line for label in shown) and not any(label in line for label in hidden), line


# --- real model.val() on tiny task datasets made from coco8 --------------------------------------------------------

VAL = dict(imgsz=64, batch=4, workers=0, device="cpu", plots=False, verbose=False)


@pytest.mark.training
def test_classify_val_report_counts_its_images(task_data, make_tasks, tmp_path):
    data, images = task_data["classify"], make_tasks.count_images(task_data["classify"])
    model, hook = YOLO("yolo11n-cls.yaml"), ModeReports()
    yolo_hooks.attach(model, hook)
    with captured_log() as lines:
        model.val(data=str(data), project=str(tmp_path), name="val", **VAL)
    assert hook.reports.last_val_report["images"] == images > 0
    assert any(f" {images} images " in line and "top1 " in line for line in lines)


@pytest.mark.training
@pytest.mark.parametrize("task,second", [("segment", "M"), ("pose", "P")])
def test_segment_and_pose_val_reports_keep_box_and_task_labels_apart(task, second, task_data, make_tasks, tmp_path):
    data = task_data[task]
    model, hook = YOLO(f"yolo11n-{'seg' if task == 'segment' else 'pose'}.yaml"), ModeReports()
    yolo_hooks.attach(model, hook)
    with captured_log() as lines:
        model.val(data=str(data), project=str(tmp_path), name="val", **VAL)
    line = next(line for line in lines if "reports: val" in line)
    assert hook.reports.last_val_report["images"] == make_tasks.count_images(data)
    assert "P(B) " in line and f"P({second}) " in line and "mAP50-95(B) " in line and f"mAP50-95({second}) " in line

# The best-epoch line of a real segment / pose training: tests/tasks/test_every_task.py (one training per task).
