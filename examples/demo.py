"""The main job: every yolo_hooks hook working together on the bundled coco8, on CPU, offline.

It starts a webhook receiver on 127.0.0.1 that prints what it receives, trains yolo11n.yaml for a few epochs
with the fitness report, val-loss alert, early stop, notifications (to that receiver) and the best.pt mirror (to
a local folder) attached, and ends by printing where every artifact is.

Run from anywhere: ``python examples/demo.py`` (about a minute on 2 CPU cores).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # nothing to download: random init, bundled data
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo_hooks_cfg_"))

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "demo"


def hooks_config(webhook_url: str, mirror_dir: Path) -> dict:
    """The same thing a hooks.yaml would say (see examples/*.yaml)."""
    return {
        "fitness_report": {"csv": True, "plot": True},
        # a random-init model's total validation loss is ~13: a ceiling of 12 makes a real alert fire
        "val_loss_alert": {"above": {"val/loss": 12.0}, "warmup": 0},
        # fitness stays 0.0 for a random-init model on 8 images: stops after 1 + patience epochs
        "early_stop": {"patience": 3},
        "notify": [{"format": "json", "url": webhook_url, "events": None, "flush_timeout": 10}],
        "best_mirror": {"to": str(mirror_dir), "keep": 2, "flush_timeout": 60},
    }


def main(epochs: int = 6) -> None:
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.receiver import WebhookReceiver

    shutil.rmtree(OUT, ignore_errors=True)
    mirror_dir = OUT / "mirror"
    with WebhookReceiver(echo=print) as receiver:
        model = YOLO("yolo11n.yaml")
        yolo_hooks.attach(model, hooks_config(receiver.url, mirror_dir))
        model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=epochs, imgsz=320, batch=4, workers=0,
                    device="cpu", project=str(OUT), name="train", exist_ok=True)
        save_dir = Path(model.trainer.save_dir)
        received = receiver.delivered()

    sidecar = json.loads((mirror_dir / "best.json").read_text()) if (mirror_dir / "best.json").exists() else {}
    print("\nyolo_hooks demo: where everything is")
    rows = [
        ("fitness record", save_dir / "fitness.csv"),
        ("fitness curve", save_dir / "fitness.png"),
        ("run summary", save_dir / "fitness_summary.json"),
        ("val-loss alerts", save_dir / "alerts.jsonl"),
        ("early stop", save_dir / "early_stop.json"),
        ("mirrored best.pt", mirror_dir / "best.pt"),
    ]
    for label, path in rows:
        print(f"  {label:<17} {path}{'' if path.exists() else '  (missing!)'}")
    print(f"  {'mirror sha256':<17} {sidecar.get('sha256', '?')} ({sidecar.get('size', '?')} bytes, verified)")
    print(f"  {'messages':<17} {len(received)} received by the webhook receiver: "
          + ", ".join(m.get("event", "?") for m in received))
    outbox = save_dir / "notify_outbox.jsonl"
    if outbox.exists():
        print(f"  {'outbox':<17} {outbox} (undelivered; `yolo-hooks outbox replay` resends)")


if __name__ == "__main__":
    main()
