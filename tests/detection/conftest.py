"""A video made from the coco8 images, a random-init model that knows coco8's class names, a permissive tracker."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATASETS

FPS, SIZE, REPEAT = 10, (320, 240), 3  # every coco8 image shown for 3 frames: 24 frames of 320x240 at 10 fps
# A random-init model scores every box around 2e-4: this low a threshold makes real Results carry boxes.
LOW_CONF = 1e-6
PREDICT = dict(conf=LOW_CONF, imgsz=96, verbose=False, exist_ok=True)


@pytest.fixture(scope="session")
def coco8_video(tmp_path_factory) -> Path:
    """24 frames at 10 fps written with cv2.VideoWriter from the 8 coco8 images."""
    import cv2

    path = tmp_path_factory.mktemp("video") / "coco8.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for image in sorted((DATASETS / "coco8" / "images").glob("*/*.jpg")):
        frame = cv2.resize(cv2.imread(str(image)), SIZE)
        for _ in range(REPEAT):
            writer.write(frame)
    writer.release()
    return path


def coco8_names() -> dict[int, str]:
    import yaml

    return {int(k): v for k, v in yaml.safe_load((DATASETS / "coco8.yaml").read_text())["names"].items()}


@pytest.fixture
def model():
    """A random-init yolo11n with coco8's class names, as a model trained on coco8 carries them."""
    from ultralytics import YOLO

    yolo = YOLO("yolo11n.yaml")
    yolo.model.names = coco8_names()
    return yolo


@pytest.fixture(scope="session")
def tracker_yaml(tmp_path_factory) -> Path:
    """ByteTrack with thresholds a random-init model's scores can pass."""
    from ultralytics.utils import ROOT as ULTRALYTICS

    text = (ULTRALYTICS / "cfg" / "trackers" / "bytetrack.yaml").read_text()
    for key in ("track_high_thresh", "track_low_thresh", "new_track_thresh"):
        text = "\n".join(f"{key}: 0.0" if line.startswith(f"{key}:") else line for line in text.splitlines())
    text = text.replace("fuse_score: True", "fuse_score: False")  # scores of 2e-4 would sink every IoU match
    path = tmp_path_factory.mktemp("tracker") / "bytetrack_low.yaml"
    path.write_text(text + "\n")
    return path
