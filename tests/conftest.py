"""Shared fixtures: offline Ultralytics, the bundled coco8, and a real (tiny) training helper."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports ultralytics: no downloads, and settings in a throwaway folder.
os.environ["YOLO_OFFLINE"] = "1"
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo_hooks_cfg_"))
os.environ.setdefault("NO_COLOR", "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
COCO8 = ROOT / "datasets" / "coco8.yaml"
COCO8_VAL_IMAGES = ROOT / "datasets" / "coco8" / "images" / "val"

# The smallest settings that still exercise every event: 2 cores, ~1-2 s per epoch.
TRAIN_DEFAULTS = dict(imgsz=160, batch=4, workers=0, plots=False, amp=False, seed=0, deterministic=True, verbose=False)


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA device"))])
def device(request) -> str:
    """Every training test runs on CPU, and on CUDA where a GPU is present."""
    return request.param


def train(tmp_path: Path, *hooks, device: str = "cpu", epochs: int = 2, model=None, attach_kwargs=None, **overrides):
    """Train yolo11n.yaml (random init) on the bundled coco8 with ``hooks`` attached; returns the YOLO model.

    The run's folder is ``tmp_path / "run"`` (``model.trainer.save_dir``).
    """
    from ultralytics import YOLO

    import yolo_hooks

    model = model or YOLO("yolo11n.yaml")
    if hooks:
        yolo_hooks.attach(model, *hooks, **(attach_kwargs or {}))
    args = dict(TRAIN_DEFAULTS, data=str(COCO8), epochs=epochs, device=device, project=str(tmp_path), name="run")
    args.update(overrides)
    args.setdefault("exist_ok", True)
    model.train(**args)
    return model


@pytest.fixture(scope="session")
def trained_weights(tmp_path_factory) -> Path:
    """best.pt of a 1-epoch coco8 training, made by the tests themselves (no weights can be downloaded here)."""
    tmp = tmp_path_factory.mktemp("weights")
    model = train(tmp, epochs=1)
    return Path(model.trainer.best)
