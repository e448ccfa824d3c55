"""Every example config stays valid, and none carries a secret: its webhook URLs, tokens and passwords come only from
the environment, so an unset one is the promised ConfigError instead of a post to a placeholder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yolo_hooks import ConfigError, build_hooks, cli, load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # a reference without a ":-default"


def required_vars(path: Path) -> list[str]:
    """The variables ``path`` references without a default (comments left out)."""
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return sorted(set(REQUIRED_VAR.findall(text)))


def set_env(monkeypatch, names: list[str]) -> None:
    """Values that pass validation and go nowhere (URLs to a closed port on loopback)."""
    for name in names:
        monkeypatch.setenv(name, f"http://127.0.0.1:9/{name.lower()}" if name.endswith("_URL") else f"test-{name}")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_is_valid_once_its_secrets_are_set(path, capsys, monkeypatch):
    set_env(monkeypatch, required_vars(path))
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err
    assert "hook(s) OK" in capsys.readouterr().out


@pytest.mark.parametrize("path", [p for p in EXAMPLES if "notify" in p.read_text()], ids=lambda p: p.name)
def test_every_secret_in_an_example_comes_from_the_environment_without_a_default(path, monkeypatch):
    names = required_vars(path)
    assert names and all(re.search(r"URL|SECRET|TOKEN|PASSWORD", n) for n in names)
    set_env(monkeypatch, names[1:])
    monkeypatch.delenv(names[0], raising=False)
    with pytest.raises(ConfigError, match=names[0]):
        build_hooks(load_config(path))
    defaults = re.findall(r"\$\{([A-Z_]+):-", path.read_text(encoding="utf-8"))
    assert not [d for d in defaults if re.search(r"URL|SECRET|TOKEN|PASSWORD", d)]


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


def test_the_demo_hooks_config_attaches(tmp_path):
    """The README's main command must not die on a renamed option: its hooks build as ``attach`` would build them."""
    hooks = build_hooks(_demo_module().hooks_config("http://127.0.0.1:9/hook", tmp_path / "mirror"))
    assert {h.config_name for h in hooks} == {"fitness_report", "val_loss_alert", "early_stop", "notify", "best_mirror"}


@pytest.mark.training
def test_two_runs_of_the_demo_on_one_machine_record_the_same_fitness(tmp_path, capsys):
    """The demo is seeded and deterministic: on one machine two runs write the same fitness.csv, times aside (on
    another CPU or torch version the numbers may differ, which the docs say)."""
    import csv

    demo = _demo_module()

    def numbers(save_dir: Path) -> list[dict[str, str]]:
        with open(save_dir / "fitness.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        timing = {"time", "epoch_time", "elapsed", "eta"}
        return [{k: v for k, v in row.items() if not any(word in k for word in timing)} for row in rows]

    first, second = (numbers(demo.main(epochs=3, out=tmp_path / name)) for name in ("a", "b"))
    assert len(first) == 3 and first == second
    assert "messages" in capsys.readouterr().out  # the closing summary counts what arrived
