"""The main job: every yolo_hooks hook working together on a run that visibly learns, on CPU, offline.

It draws a tiny, easy dataset on the spot with OpenCV (coloured circles, squares and triangles on plain
backgrounds), starts a webhook receiver on 127.0.0.1 that prints what it receives, trains a random-init
yolo11n.yaml on it with the fitness report, val-loss alert, early stop, notifications (to that receiver) and the
best.pt mirror (to a local folder) attached, and ends by printing where every artifact is. Fitness rises for a
few epochs, flattens, and early stopping ends the plateau; the val-loss alert fires when validation loss climbs
back above its best.

Run from anywhere: ``python examples/demo.py`` (about 21 epochs of 48 images at 96 pixels: a minute or two on
2 CPU cores). The tests train on the bundled coco8 instead.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # nothing to download: random init, data drawn here
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp
OUT = ROOT / "runs" / "demo"
SHAPES = ("circle", "square", "triangle")
TRAIN_ARGS = dict(imgsz=96, batch=8, workers=0, device="cpu", optimizer="SGD", lr0=0.02, nbs=8, warmup_epochs=1,
                  mosaic=0.0, close_mosaic=0, plots=False, seed=0, deterministic=True)


def make_shapes(root: Path, train: int = 48, val: int = 16, size: int = 96, seed: int = 0) -> Path:
    """Draw a detection dataset of one or two filled shapes per image on a plain background; returns its YAML.

    Shapes are big (a quarter to a half of the image) and strongly coloured, so a random-init YOLO finds them
    within a few epochs on a CPU.
    """
    import cv2
    import numpy as np

    rng = np.random.default_rng(seed)
    for split, count in (("train", train), ("val", val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            image = np.full((size, size, 3), rng.integers(20, 90, 3), dtype=np.uint8)  # dark plain background
            labels, boxes = [], []
            for _ in range(int(rng.integers(1, 3))):
                cls = int(rng.integers(len(SHAPES)))
                side = int(rng.integers(size // 4, size // 2))
                x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
                if any(x0 < bx + bs and bx < x0 + side and y0 < by + bs and by < y0 + side for bx, by, bs in boxes):
                    continue  # no overlaps: every labelled shape is fully visible
                boxes.append((x0, y0, side))
                colour = tuple(int(v) for v in rng.integers(140, 256, 3))
                if SHAPES[cls] == "circle":
                    cv2.circle(image, (x0 + side // 2, y0 + side // 2), side // 2, colour, -1)
                elif SHAPES[cls] == "square":
                    cv2.rectangle(image, (x0, y0), (x0 + side, y0 + side), colour, -1)
                else:
                    points = np.array([[x0 + side // 2, y0], [x0, y0 + side], [x0 + side, y0 + side]], np.int32)
                    cv2.fillPoly(image, [points], colour)
                cx, cy = (x0 + side / 2) / size, (y0 + side / 2) / size
                labels.append(f"{cls} {cx:.6f} {cy:.6f} {side / size:.6f} {side / size:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{i:03d}.png"), image)
            (root / "labels" / split / f"{i:03d}.txt").write_text("\n".join(labels) + "\n")
    data = root.with_suffix(".yaml")
    names = "".join(f"  {i}: {name}\n" for i, name in enumerate(SHAPES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}")
    return data


def hooks_config(webhook_url: str, mirror_dir: Path) -> dict:
    """The same thing a hooks.yaml would say (see examples/*.yaml)."""
    return {
        "fitness_report": {"csv": True, "plot": True},
        # validation loss 15% above its best so far, after 3 warm-up epochs: the model starts to overfit
        "val_loss_alert": {"rise": "15%", "warmup": 3},
        # after 10 warm-up epochs (a random-init model's first mAPs are noise), fitness must improve by more than
        # 0.01 within 5 epochs, or training stops
        "early_stop": {"patience": 5, "min_delta": 0.01, "warmup": 10},
        "notify": [{"format": "json", "url": webhook_url, "events": None, "flush_timeout": 10}],
        "best_mirror": {"to": str(mirror_dir), "keep": 2, "flush_timeout": 60},
    }


def main(epochs: int = 45, out: Path = OUT) -> Path:
    """Run the demo into ``out``; returns the training's folder."""
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.notify.receiver import WebhookReceiver

    shutil.rmtree(out, ignore_errors=True)
    data = make_shapes(out / "shapes")
    mirror_dir = out / "mirror"
    arrived: list[str] = []  # what the receiver got, printed at each epoch's end: never inside a progress bar

    def show_arrived(_job=None) -> None:
        while arrived:
            print(f"  {arrived.pop(0)}")

    with WebhookReceiver(echo=arrived.append) as receiver:
        model = YOLO("yolo11n.yaml")
        yolo_hooks.attach(model, hooks_config(receiver.url, mirror_dir), yolo_hooks.on("on_fit_epoch_end", show_arrived))
        model.train(data=str(data), epochs=epochs, project=str(out), name="train", exist_ok=True, **TRAIN_ARGS)
        save_dir = Path(model.trainer.save_dir)
        received = receiver.delivered()
    show_arrived()

    sidecar = json.loads((mirror_dir / "best.json").read_text()) if (mirror_dir / "best.json").exists() else {}
    print("\nyolo_hooks demo: where everything is")
    rows = [
        ("dataset", data),
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
    counts = Counter(m.get("event", "?") for m in received)
    print(f"  {'messages':<17} {len(received)} received by the webhook receiver: "
          + ", ".join(f"{n} {event}" for event, n in counts.most_common()))
    outbox = save_dir / "notify_outbox.jsonl"
    if outbox.exists():
        print(f"  {'outbox':<17} {outbox} (undelivered; `yolo-hooks outbox replay` resends)")
    return save_dir


if __name__ == "__main__":
    main()
