"""Build tiny segment, pose, classify and obb datasets from the bundled coco8 images and box labels.

Ultralytics can download coco8-seg / coco8-pose / ... but nothing may be downloaded here, so every task gets its
dataset from the 8 images we already ship:

- **segment**: each box becomes a 16-point polygon (the ellipse inscribed in the box);
- **pose**: each box's 4 corners become 4 visible keypoints (``kpt_shape: [4, 3]``, flipped left/right in pairs);
- **obb**: each box's 4 corners become an oriented box (axis-aligned, which is a valid oriented box);
- **classify**: each box is cropped into a folder named after its class; the crops of a class alternate between
  train and val, so val only holds classes that train has.

Usage::

    python datasets/make_tasks.py OUT_DIR        # writes OUT_DIR/coco8-<task>/ and OUT_DIR/coco8-<task>.yaml

From Python, ``make_tasks(out_dir)`` returns ``{task: data}`` where ``data`` is what ``model.train(data=...)``
takes (a YAML path, or the folder for classify).
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import cv2

COCO8 = Path(__file__).resolve().parent / "coco8"
COCO8_YAML = COCO8.parent / "coco8.yaml"
SPLITS = ("train", "val")
TASKS = ("segment", "pose", "classify", "obb")
POLYGON_POINTS = 16
MIN_CROP = 10  # pixels a side; Ultralytics rejects smaller images ("image size <10 pixels")


def coco8_names() -> dict[int, str]:
    """Class names of coco8.yaml (read without a YAML dependency: ``  <id>: <name>`` lines)."""
    names = {}
    for line in COCO8_YAML.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.strip().partition(":")
        if sep and key.isdigit():
            names[int(key)] = value.strip()
    return names


def coco8_boxes(split: str) -> dict[Path, list[tuple[int, float, float, float, float]]]:
    """``{image: [(cls, x_center, y_center, width, height), ...]}`` (normalized) for one coco8 split."""
    out = {}
    for image in sorted((COCO8 / "images" / split).glob("*.jpg")):
        label = COCO8 / "labels" / split / f"{image.stem}.txt"
        rows = [line.split() for line in label.read_text().splitlines() if line.strip()] if label.exists() else []
        out[image] = [(int(r[0]), *map(float, r[1:5])) for r in rows]
    return out


def corners(x: float, y: float, w: float, h: float) -> list[tuple[float, float]]:
    """Top-left, top-right, bottom-right, bottom-left corners of a normalized box."""
    return [(x - w / 2, y - h / 2), (x + w / 2, y - h / 2), (x + w / 2, y + h / 2), (x - w / 2, y + h / 2)]


def polygon(x: float, y: float, w: float, h: float, points: int = POLYGON_POINTS) -> list[tuple[float, float]]:
    """The ellipse inscribed in a normalized box, as ``points`` vertices."""
    return [(x + w / 2 * math.cos(2 * math.pi * i / points), y + h / 2 * math.sin(2 * math.pi * i / points))
            for i in range(points)]


def _clip(value: float) -> float:
    return min(max(value, 0.0), 1.0)


def _xy(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{_clip(px):.6f} {_clip(py):.6f}" for px, py in points)


def label_line(task: str, cls: int, x: float, y: float, w: float, h: float) -> str:
    """One label line of ``task`` made from one coco8 box."""
    if task == "segment":
        return f"{cls} {_xy(polygon(x, y, w, h))}"
    if task == "obb":
        return f"{cls} {_xy(corners(x, y, w, h))}"
    if task == "pose":
        keypoints = " ".join(f"{_clip(px):.6f} {_clip(py):.6f} 2" for px, py in corners(x, y, w, h))
        return f"{cls} {x:.6f} {y:.6f} {w:.6f} {h:.6f} {keypoints}"
    raise ValueError(f"no label format for task {task!r}; expected one of segment, pose, obb")


def _yaml(root: Path, names: dict[int, str], extra: str = "") -> str:
    lines = ["# made by datasets/make_tasks.py from the bundled coco8", f"path: {root}", "train: images/train",
             "val: images/val", extra.rstrip(), "names:"]
    return "\n".join(line for line in lines if line) + "\n" + "".join(f"  {i}: {n}\n" for i, n in names.items())


def make_labelled(task: str, out_dir: Path) -> Path:
    """coco8 with ``task`` labels under ``out_dir/coco8-<task>``; returns its data YAML."""
    root = out_dir / f"coco8-{task}"
    for split in SPLITS:
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for image, boxes in coco8_boxes(split).items():
            shutil.copyfile(image, root / "images" / split / image.name)
            text = "".join(label_line(task, *box) + "\n" for box in boxes)
            (root / "labels" / split / f"{image.stem}.txt").write_text(text)
    extra = "kpt_shape: [4, 3]\nflip_idx: [1, 0, 3, 2]  # corners tl, tr, br, bl: a left/right flip swaps pairs" \
        if task == "pose" else ""
    data = out_dir / f"coco8-{task}.yaml"
    data.write_text(_yaml(root, coco8_names(), extra))
    return data


def make_classify(out_dir: Path) -> Path:
    """coco8's boxes cropped into ``out_dir/coco8-classify/{train,val}/<class name>/``; returns the folder.

    Only classes with at least two crops are kept, alternating train / val, so every val class is a train class.
    """
    root = out_dir / "coco8-classify"
    names = coco8_names()
    crops: dict[int, list] = {}
    for split in SPLITS:
        for image, boxes in coco8_boxes(split).items():
            pixels = cv2.imread(str(image))
            height, width = pixels.shape[:2]
            for i, (cls, x, y, w, h) in enumerate(boxes):
                x0, y0 = int(_clip(x - w / 2) * width), int(_clip(y - h / 2) * height)
                x1, y1 = int(_clip(x + w / 2) * width), int(_clip(y + h / 2) * height)
                if x1 - x0 >= MIN_CROP and y1 - y0 >= MIN_CROP:
                    crops.setdefault(cls, []).append((f"{image.stem}_{i}.jpg", pixels[y0:y1, x0:x1]))
    for cls, items in sorted(crops.items()):
        if len(items) < 2:
            continue
        for k, (name, crop) in enumerate(items):
            folder = root / SPLITS[k % 2] / names[cls].replace(" ", "_")
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / name), crop)
    return root


def make_tasks(out_dir: str | Path, tasks: tuple[str, ...] = TASKS) -> dict[str, Path]:
    """Build every task's dataset under ``out_dir``; returns ``{task: data}`` for ``model.train(data=...)``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return {task: make_classify(out_dir) if task == "classify" else make_labelled(task, out_dir) for task in tasks}


def count_images(data: Path, split: str = "val") -> int:
    """Images in one split of a dataset made here (what a validation of that split should count)."""
    folder = data / split if data.is_dir() else data.parent / data.stem / "images" / split
    return sum(1 for p in folder.rglob("*.jpg"))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python datasets/make_tasks.py OUT_DIR")
    for task, data in make_tasks(sys.argv[1]).items():
        print(f"{task:<9} {data}  ({count_images(data)} val images)")
