"""Every example config stays valid: `yolo-hooks check` accepts it as shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from yolo_hooks import cli

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_is_valid(path, capsys):
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err
    assert "hook(s) OK" in capsys.readouterr().out


def test_there_are_example_configs():
    assert {"hooks.yaml", "notify.yaml"} <= {p.name for p in EXAMPLES}


def _demo_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("demo", Path(__file__).resolve().parents[1] / "examples" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_demo_draws_its_dataset_with_one_label_per_shape(tmp_path):
    """The demo trains on shapes it draws itself; each label box must sit on pixels of its shape's colour."""
    import cv2
    import numpy as np

    demo = _demo_module()
    data = demo.make_shapes(tmp_path / "shapes", train=6, val=2, size=96)
    assert f"path: {tmp_path / 'shapes'}" in data.read_text() and "2: triangle" in data.read_text()
    for split, count in (("train", 6), ("val", 2)):
        images = sorted((tmp_path / "shapes" / "images" / split).glob("*.png"))
        assert len(images) == count
        for image in images:
            pixels = cv2.imread(str(image))
            background = pixels[0, 0].astype(int)
            for line in (tmp_path / "shapes" / "labels" / split / f"{image.stem}.txt").read_text().splitlines():
                cls, x, y, w, h = line.split()
                assert int(cls) in range(len(demo.SHAPES)) and 0 < float(w) <= 0.5 and 0 < float(h) <= 0.5
                cx, cy = int(float(x) * 96), int(float(y) * 96 + (float(h) * 96 / 4 if cls == "2" else 0))
                assert np.abs(pixels[cy, cx].astype(int) - background).sum() > 60  # the centre is painted
