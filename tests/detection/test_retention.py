"""Retention of the alerts folder: `keep: {files, megabytes, days}` as a table, then a real hook filling a folder
past each limit: the oldest events go whole (files and lines), the event being written never does."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import yolo_hooks
from yolo_hooks.detection.hook import DetectionAlert
from yolo_hooks.detection.retention import EventFiles, expired

from .conftest import coco8_names

MB = 1e6


@pytest.mark.parametrize(
    "keep, now, current, expected",
    [
        ({"files": 10}, 100.0, None, []),  # within every limit
        ({"files": 4}, 100.0, None, ["a"]),  # 5 files: the oldest event goes
        ({"files": 1}, 100.0, None, ["a", "b"]),
        ({"files": 1}, 100.0, "b", ["a", "c"]),  # never the event being written, even over the limit
        ({"megabytes": 0.25}, 100.0, None, ["a"]),  # 0.3 MB in all
        ({"megabytes": 0.15}, 100.0, None, ["a", "b"]),
        ({"days": 50 / 86400}, 100.0, None, ["a"]),  # older than 50 s
        ({"days": 50 / 86400, "files": 1}, 100.0, None, ["a", "b"]),  # every limit holds
    ],
)
def test_the_oldest_events_go_first_until_every_limit_holds(keep, now, current, expected):
    events = [EventFiles("b", 60.0, 2, int(0.1 * MB)), EventFiles("a", 10.0, 2, int(0.1 * MB)),
              EventFiles("c", 90.0, 1, int(0.1 * MB))]  # fmt: skip
    assert expired(events, keep, now, current) == expected


def frame(track: int, conf: float):
    """A Results of one person (track ``track``) on a noisy frame (each JPEG a few tens of kB)."""
    from ultralytics.engine.results import Results

    image = np.random.default_rng(track).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    return Results(image, path="camera", names=coco8_names(),
                   boxes=torch.tensor([[100, 60, 160, 200, track, conf, 0]], dtype=torch.float32))  # fmt: skip


def run_events(model, hook, events: int) -> None:
    """``events`` people in turn, each seen 3 frames (more confident on the second: its best frame is a file of its
    own) then gone long enough for its event to end."""
    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)  # builds model.predictor
    predictor = model.predictor
    yolo_hooks.attach(model, hook)
    hook.on_predict_start(predictor)
    for track in range(1, events + 1):
        for conf in (0.6, 0.9, 0.7, None, None):
            predictor.results = [frame(track, conf) if conf else frame(track, 0.01)]
            hook.on_predict_batch_end(predictor)
            hook.close(30)  # each frame's files written before the next: the order of events is the test's


def event_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name not in ("alerts.jsonl", "index.html"))


def lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "alerts.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("keep", [{"files": 5}, {"megabytes": 0.5}])
def test_a_folder_filled_past_its_limit_keeps_the_newest_events(model, tmp_path, keep):
    hook = DetectionAlert(classes=["person"], min_conf=0.5, end_after="2 frames", folder=str(tmp_path), keep=keep,
                          strict=True)  # fmt: skip
    run_events(model, hook, events=8)
    files = event_files(tmp_path)
    kept = {r["event_id"] for r in lines(tmp_path)}
    assert 2 * 8 == 16 > len(files) and 1 <= len(kept) < 8  # 8 events of 2 files each were written
    if "files" in keep:
        assert len(files) <= keep["files"]
    else:
        assert sum(p.stat().st_size for p in files) <= keep["megabytes"] * MB
    newest = [r for r in hook.records if r["kind"] == "detection_end"][-1]
    assert newest["event_id"] in kept and Path(newest["image"]).exists()  # the one written last stays
    assert {re.search(r"\d{8}-\d{6}-[0-9a-f]{6}", p.name)[0] for p in files} == kept  # files and lines go together
    order = [r["event_id"] for r in hook.records if r["kind"] == "detection"]
    assert kept == set(order[-len(kept):])  # the newest stayed, the oldest went
    page = (tmp_path / "index.html").read_text()
    assert all(e in page for e in kept) and newest["event_id"] in page
    assert not any(e in page for e in set(order) - kept)  # nor a link to a file retention removed


def test_events_older_than_days_go_with_their_files_and_lines(model, tmp_path):
    old = tmp_path / "gate_cam_20261101-000000-aaaaaa_frame3.jpg"
    old.parent.mkdir(parents=True, exist_ok=True)
    old.write_bytes(b"jpeg")
    ten_days_ago = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 10 * 86400))
    (tmp_path / "alerts.jsonl").write_text(json.dumps({
        "kind": "detection", "event_id": "20261101-000000-aaaaaa", "time": ten_days_ago, "rule": "gate",
        "camera": "cam", "image": str(old)}) + "\n")  # fmt: skip
    hook = DetectionAlert(classes=["person"], min_conf=0.5, end_after="2 frames", folder=str(tmp_path),
                          keep={"days": 7}, strict=True)  # fmt: skip
    run_events(model, hook, events=1)
    assert not old.exists()
    assert [r["kind"] for r in lines(tmp_path)] == ["detection", "detection_end"]
    assert len(event_files(tmp_path)) == 2 and os.path.exists(hook.records[-1]["image"])
