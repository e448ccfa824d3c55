"""The main job: a short coco8 training on CPU with yolo_hooks attached, offline, on the bundled data.

Run from anywhere: ``python examples/demo.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo_hooks_cfg_"))

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, yolo_hooks.on("on_fit_epoch_end", lambda t: print(f"epoch {t.epoch + 1}: fitness {t.fitness}")))
    model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=3, imgsz=320, batch=4, workers=0, device="cpu",
                project=str(ROOT / "runs" / "demo"), name="train", exist_ok=True)


if __name__ == "__main__":
    main()
