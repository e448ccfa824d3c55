"""datasets/make_tasks.py: the task datasets are what Ultralytics expects, derived box by box from coco8."""

from __future__ import annotations

import pytest

from tests.conftest import load_make_tasks

make_tasks = load_make_tasks()


def test_a_box_becomes_a_polygon_inside_it():
    points = make_tasks.polygon(0.5, 0.5, 0.4, 0.2)
    assert len(points) == make_tasks.POLYGON_POINTS
    assert all(0.3 - 1e-9 <= x <= 0.7 + 1e-9 and 0.4 - 1e-9 <= y <= 0.6 + 1e-9 for x, y in points)
    assert (min(x for x, _ in points), max(x for x, _ in points)) == pytest.approx((0.3, 0.7))


@pytest.mark.parametrize("task, fields", [("segment", 1 + 2 * make_tasks.POLYGON_POINTS), ("obb", 9), ("pose", 5 + 12)])
def test_label_lines_have_the_task_layout(task, fields):
    line = make_tasks.label_line(task, 3, 0.5, 0.5, 0.2, 0.4)
    assert len(line.split()) == fields and line.split()[0] == "3"


def test_pose_keypoints_are_the_box_corners_and_visible():
    values = [float(v) for v in make_tasks.label_line("pose", 0, 0.5, 0.5, 0.2, 0.4).split()[5:]]
    corners = [tuple(values[i:i + 2]) for i in range(0, 12, 3)]
    assert corners == [pytest.approx(c) for c in make_tasks.corners(0.5, 0.5, 0.2, 0.4)]
    assert values[2::3] == [2.0] * 4


def test_every_task_dataset_is_built_from_every_coco8_box(task_data, make_tasks):
    boxes = {split: make_tasks.coco8_boxes(split) for split in make_tasks.SPLITS}
    for task in ("segment", "pose", "obb"):
        root = task_data[task].parent / task_data[task].stem
        for split, images in boxes.items():
            for image, rows in images.items():
                label = root / "labels" / split / f"{image.stem}.txt"
                assert len(label.read_text().splitlines()) == len(rows), (task, label)
        assert make_tasks.count_images(task_data[task]) == 4
    classify = task_data["classify"]
    train_classes = {p.name for p in (classify / "train").iterdir()}
    val_classes = {p.name for p in (classify / "val").iterdir()}
    assert val_classes <= train_classes and len(train_classes) >= 3
    assert make_tasks.count_images(classify) == sum(1 for _ in (classify / "val").rglob("*.jpg")) > 0
