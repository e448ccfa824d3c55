"""val / predict / export reports on real weights, compared with what Ultralytics itself returns."""

from __future__ import annotations

import os
import time
from collections import Counter

import numpy as np
import pytest

import yolo_hooks
from tests.conftest import COCO8, COCO8_VAL_IMAGES
from tests.fitness.helpers import Listener, captured_log
from yolo_hooks.core import compat
from yolo_hooks.fitness.report import FitnessReport


@pytest.fixture
def model(trained_weights):
    from ultralytics import YOLO

    return YOLO(trained_weights)


def test_val_report_equals_what_model_val_returns(model, tmp_path):
    report, listener = FitnessReport(strict=True), Listener()
    yolo_hooks.attach(model, report, listener)
    with captured_log() as lines:
        metrics = model.val(data=str(COCO8), imgsz=160, batch=4, workers=0, plots=False, project=str(tmp_path),
                            name="v")
    rep = report.reports.last_val_report
    expected = {k: v for k, v in metrics.results_dict.items() if k != "fitness"}
    assert rep["metrics"] == pytest.approx(expected) and rep["fitness"] == pytest.approx(metrics.fitness)
    assert rep["images"] == len(os.listdir(COCO8_VAL_IMAGES)) == 4
    assert rep["speed_ms"] == pytest.approx(metrics.speed)
    assert [e.kind for e in listener.published] == ["val_report"] and listener.published[0].data == rep
    assert len([line for line in lines if line.startswith("fitness_report: val ")]) == 1


def test_predict_report_counts_images_classes_and_latency_from_the_predictor(model):
    report, listener = FitnessReport(strict=True), Listener()
    yolo_hooks.attach(model, report, listener)
    start = time.perf_counter()
    results = model.predict(source=str(COCO8_VAL_IMAGES), imgsz=160, conf=0.001, verbose=False)
    wall = time.perf_counter() - start
    rep = report.reports.last_predict_report
    assert rep["images"] == len(results) == 4 and rep["source"] == str(COCO8_VAL_IMAGES)
    counts = Counter(r.names[int(c)] for r in results for c in r.boxes.cls.tolist())
    assert rep["detections_per_class"] == dict(counts) and rep["detections"] == sum(counts.values())
    latencies = [sum(r.speed.values()) for r in results]  # the predictor's own per-image profiler shares
    for q in (50, 90, 99):
        assert rep["latency_ms"][f"p{q}"] == pytest.approx(np.percentile(latencies, q))
    speed = compat.predict_speed(model.predictor, {k: np.mean([r.speed[k] for r in results]) for k in results[0].speed})
    assert rep["latency_ms"]["mean"] == pytest.approx(sum(speed.values()))
    assert rep["speed_ms"] == pytest.approx(speed)
    assert 0 < rep["wall_time_s"] <= wall and rep["throughput_ips"] == pytest.approx(4 / rep["wall_time_s"])
    assert [e.kind for e in listener.published] == ["predict_report"]


def test_export_report_names_the_file_its_size_and_time(model):
    report, listener = FitnessReport(strict=True), Listener()
    yolo_hooks.attach(model, report, listener)
    start = time.perf_counter()
    out = model.export(format="torchscript", imgsz=160)
    wall = time.perf_counter() - start
    rep = report.reports.last_export_report
    assert rep["format"] == "torchscript" and rep["file"] == str(out)
    assert rep["size_bytes"] == os.path.getsize(out) > 1_000_000
    assert 0 < rep["export_time_s"] <= wall
    assert [e.kind for e in listener.published] == ["export_report"]


def test_reports_switched_off_in_hooks_yaml_stay_silent(model, tmp_path):
    (report,) = yolo_hooks.attach(model, {"fitness_report": {"val": False, "predict": False, "export": False}})
    listener = Listener()
    yolo_hooks.attach(model, listener)
    model.val(data=str(COCO8), imgsz=160, batch=4, workers=0, plots=False, project=str(tmp_path), name="v")
    model.predict(source=str(COCO8_VAL_IMAGES), imgsz=160, verbose=False)
    assert (report.reports.last_val_report, report.reports.last_predict_report) == (None, None)
    assert listener.published == []
