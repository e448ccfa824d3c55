"""Per-epoch fitness report on a short coco8 training, then the val / predict / export reports.

Run from the repository root (offline, CPU, bundled coco8)::

    python examples/fitness_report.py            # 30 epochs at imgsz=160, a minute or two on a laptop CPU
    python examples/fitness_report.py 5          # fewer epochs

Writes runs/fitness_report/train/{fitness.csv, fitness.jsonl, fitness_summary.json, fitness.png}.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp
sys.path.insert(0, str(ROOT))


def main(epochs: int = 30) -> None:
    from ultralytics import YOLO

    import yolo_hooks

    data = str(ROOT / "datasets" / "coco8.yaml")
    model = YOLO("yolo11n.yaml")
    # Same as `fitness_report: {csv: true, jsonl: true, plot: true, predict: true}` in a hooks.yaml file.
    config = {"fitness_report": {"csv": True, "jsonl": True, "plot": True, "predict": True}}
    (report,) = yolo_hooks.attach(model, config)
    # nbs=4: with 4 training images, one optimizer step per batch (the default nbs=64 steps once every 16 epochs)
    model.train(data=data, epochs=epochs, imgsz=160, batch=4, nbs=4, workers=0, device="cpu", plots=False,
                project=str(ROOT / "runs" / "fitness_report"), name="train", exist_ok=True)
    print("summary:", {k: report.summary[k] for k in ("status", "best_epoch", "best_fitness", "epochs_run")})

    # The other modes, on the weights this run produced (the same hook reports them).
    trained = YOLO(model.trainer.best)
    yolo_hooks.attach(trained, report)
    trained.val(data=data, imgsz=160, batch=4, workers=0, plots=False, project=str(ROOT / "runs" / "fitness_report"),
                name="val", exist_ok=True)
    trained.predict(source=str(ROOT / "datasets" / "coco8" / "images" / "val"), imgsz=160, conf=0.01, verbose=False)
    trained.export(format="torchscript", imgsz=160)
    for name in ("last_val_report", "last_predict_report", "last_export_report"):
        print(name, getattr(report.reports, name))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
