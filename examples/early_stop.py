"""Early stopping by fitness (and learning-rate reduction on plateau) on a short coco8 training.

A random-init yolo11n keeps fitness at 0.0 on coco8 for many epochs. Ultralytics' own ``patience`` counts every such
epoch as an improvement, so the run would go on for all 20 epochs; ``early_stop`` ends it after 3 and says why.

Run from anywhere: ``python examples/early_stop.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp

HOOKS = {
    # stop after 2 epochs without fitness improving by more than 1 %, or at once if fitness reaches 0.9
    "early_stop": {"monitor": "fitness", "patience": 2, "min_delta": "1%", "stop_at": 0.9},
    # halve the base learning rate after 1 epoch without a lower validation loss
    "lr_on_plateau": {"monitor": "val/loss", "patience": 1, "factor": 0.5},
}


def main() -> None:
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, HOOKS)
    # patience=1000: leave the decision to early_stop (Ultralytics' stopper still runs; whichever fires first wins)
    model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=20, patience=1000, imgsz=160, batch=4, workers=0,
                device="cpu", project=str(ROOT / "runs" / "early_stop"), name="train", exist_ok=True)
    report = Path(model.trainer.save_dir) / "early_stop.json"
    print(f"\n{report}:\n{json.dumps(json.loads(report.read_text()), indent=2)}")


if __name__ == "__main__":
    main()
