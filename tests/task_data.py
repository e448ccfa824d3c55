"""Tiny segment / pose / classify datasets made at test time from the committed coco8 (no download).

Segment labels are each box as a rectangle polygon, pose labels each box with 17 keypoints on its outline, and the
classify set sorts coco8's images into two class folders. Enough for a real ``model.val()`` or a 1-epoch training
of each task on 2 CPU cores; the numbers are meaningless, the keys, counts and labels are Ultralytics' own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.conftest import ROOT

COCO8 = ROOT / "datasets" / "coco8"
SPLITS = ("train", "val")
KEYPOINTS = 17
FLIP_IDX = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _boxes(label: Path) -> list[tuple[int, float, float, float, float]]:
    rows = [line.split() for line in label.read_text().splitlines() if line.strip()]
    return [(int(r[0]), *map(float, r[1:5])) for r in rows]


def _task_dataset(root: Path, kind: str, line) -> Path:
    for split in SPLITS:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for image in sorted((COCO8 / "images" / split).glob("*.jpg")):
            shutil.copy(image, root / "images" / split / image.name)
            label = COCO8 / "labels" / split / f"{image.stem}.txt"
            rows = _boxes(label) if label.exists() else []
            (root / "labels" / split / label.name).write_text("".join(line(*row) + "\n" for row in rows))
    names = yaml.safe_load((ROOT / "datasets" / "coco8.yaml").read_text())["names"]
    config = {"path": str(root), "train": "images/train", "val": "images/val", "names": names}
    if kind == "pose":
        config.update(kpt_shape=[KEYPOINTS, 3], flip_idx=FLIP_IDX, names={0: "person"})
    path = root.parent / f"{root.name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def segment_dataset(tmp: Path) -> Path:
    """coco8 with each box as a polygon; returns the data yaml."""

    def line(c, x, y, w, h):
        x0, y0, x1, y1 = x - w / 2, y - h / 2, x + w / 2, y + h / 2
        return f"{c} {x0:.5f} {y0:.5f} {x1:.5f} {y0:.5f} {x1:.5f} {y1:.5f} {x0:.5f} {y1:.5f}"

    return _task_dataset(tmp / "coco8-seg", "segment", line)


def pose_dataset(tmp: Path) -> Path:
    """coco8 boxes as one class with 17 visible keypoints spread over each box; returns the data yaml."""

    def line(c, x, y, w, h):
        points = " ".join(f"{x - w / 2 + w * (i % 5) / 4:.5f} {y - h / 2 + h * (i // 5) / 3:.5f} 2"
                          for i in range(KEYPOINTS))
        return f"0 {x:.5f} {y:.5f} {w:.5f} {h:.5f} {points}"

    return _task_dataset(tmp / "coco8-pose", "pose", line)


def classify_dataset(tmp: Path) -> Path:
    """coco8's images in two class folders per split (``person`` when a person is labelled, else ``other``);
    returns the dataset folder."""
    root = tmp / "coco8-cls"
    for split in SPLITS:
        for image in sorted((COCO8 / "images" / split).glob("*.jpg")):
            label = COCO8 / "labels" / split / f"{image.stem}.txt"
            person = label.exists() and any(c == 0 for c, *_ in _boxes(label))
            folder = root / split / ("person" if person else "other")
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(image, folder / image.name)
    for split in SPLITS:  # every class present in every split
        for name in ("person", "other"):
            folder = root / split / name
            if not folder.exists() or not any(folder.iterdir()):
                folder.mkdir(parents=True, exist_ok=True)
                shutil.copy(next((COCO8 / "images" / split).glob("*.jpg")), folder / "extra.jpg")
    return root


def image_count(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.jpg"))
