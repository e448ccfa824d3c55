"""Validation-loss alerts on a short coco8 training (CPU, offline, bundled data).

A random-init yolo11n starts near val/loss 13.4, so a ceiling of 12 fires at once; ``action: stop`` on that rule
would end the run cleanly instead. A tiny hook prints what a notifier would receive.

Run from anywhere: ``python examples/val_loss_alert.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp


def main() -> None:
    from ultralytics import YOLO

    import yolo_hooks

    class PrintPublished(yolo_hooks.Hook):
        """What a notification hook would be handed."""

        def on_published(self, event):
            print(f"published {event.kind} ({event.severity}): {event.message}")

    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(
        model,
        yolo_hooks.ValLossAlert(
            above={"val/loss": 12}, rise="25%", jump="50%", warmup=1, repeat_every=2, action={"nonfinite": "stop"}
        ),
        PrintPublished(),
    )
    model.train(
        data=str(ROOT / "datasets" / "coco8.yaml"),
        epochs=3,
        imgsz=160,
        batch=4,
        workers=0,
        device="cpu",
        project=str(ROOT / "runs" / "val_loss_alert"),
        name="train",
        exist_ok=True,
        plots=False,
    )
    print((Path(model.trainer.save_dir) / "alerts.jsonl").read_text())


if __name__ == "__main__":
    main()
