"""Mirror every new best.pt of a short coco8 training to a second folder, verified, and check the copy.

    python examples/best_mirror.py [destination-folder-or-fsspec-URL]

With no argument the copy goes to ./runs/mirror-backup. For S3 (needs ``pip install "yolo-hooks[cloud]"`` and
credentials in the usual AWS variables or profile): ``python examples/best_mirror.py s3://my-bucket/exp1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

from ultralytics import YOLO  # noqa: E402

import yolo_hooks  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(destination: str) -> None:
    model = YOLO("yolo11n.yaml")
    mirror = yolo_hooks.BestMirror(to=destination, keep=2, last_every=1, flush_timeout=120)
    yolo_hooks.attach(model, mirror)
    model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=2, imgsz=160, batch=4, workers=0,
                plots=False, device="cpu", project=str(ROOT / "runs"), name="mirror-demo", exist_ok=True)

    print("\nmirror results:")
    for r in mirror.results:
        print(f"  {'ok  ' if r.ok else 'FAIL'} {r.kind:6s} {r.file:12s} epoch {r.epoch} -> {r.destination}"
              + (f"  sha256 {r.sha256[:12]}" if r.ok else f"  {r.error}"))
    if "://" not in destination:
        best = Path(model.trainer.best)
        copy = Path(destination) / "best.pt"
        same = hashlib.sha256(copy.read_bytes()).hexdigest() == hashlib.sha256(best.read_bytes()).hexdigest()
        print(f"\n{copy} identical to {best}: {same}")
        print("best.json:", json.dumps({k: v for k, v in json.loads((copy.parent / "best.json").read_text()).items()
                                        if k in ("kind", "epoch", "fitness", "size", "sha256", "versions")}))
        print("predicts:", len(YOLO(copy).predict(str(ROOT / "datasets/coco8/images/val"), imgsz=160, verbose=False)), "images")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "runs" / "mirror-backup"))
