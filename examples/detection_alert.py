"""Detection alerts with images on a video made from the bundled coco8 images (CPU, offline).

A random-init yolo11n only scores boxes around 2e-4, so this example predicts at ``conf=1e-6`` and watches every
box (``min_conf: 0``); with your own trained weights use your usual thresholds. The model is given coco8's class
names, as a model trained on coco8 carries them. Files land in ``<run>/alerts/``: the annotated JPEG, a contact
sheet of 2 frames before and 2 after, an MP4 clip, and ``alerts.jsonl``.

Run from anywhere: ``python examples/detection_alert.py [out_dir]``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp


def make_video(path: Path) -> Path:
    """24 frames of 320x240 at 10 fps: each coco8 image for 3 frames."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    for image in sorted((ROOT / "datasets" / "coco8" / "images").glob("*/*.jpg")):
        for _ in range(3):
            writer.write(cv2.resize(cv2.imread(str(image)), (320, 240)))
    writer.release()
    return path


def main(out: Path) -> None:
    import yaml
    from ultralytics import YOLO

    import yolo_hooks

    out.mkdir(parents=True, exist_ok=True)  # OpenCV's VideoWriter writes nothing, silently, into a missing folder
    video = make_video(out / "coco8.mp4")
    model = YOLO("yolo11n.yaml")
    model.model.names = yaml.safe_load((ROOT / "datasets" / "coco8.yaml").read_text())["names"]

    class PrintPublished(yolo_hooks.Hook):
        """What a notifier would be handed (``notify`` sends it with the image)."""

        def on_published(self, event):
            print(f"published {event.kind} ({event.severity}): {event.message} -> {event.data['image']}")

    alert = yolo_hooks.DetectionAlert(
        name="person_lower_half", classes=["person"], min_conf=0.0,
        zone=[[0, 0.5], [1, 0.5], [1, 1], [0, 1]],  # the lower half of the frame, as fractions
        min_duration="3 frames", cooldown="1s", before=2, after=2, clip=True,
    )  # fmt: skip
    yolo_hooks.attach(model, alert, PrintPublished())
    for _ in model.predict(str(video), stream=True, conf=1e-6, imgsz=96, verbose=False, project=str(out), name="p"):
        pass
    alert.close(30)  # the frame loop never waited for the image files; wait for them here, before reading them
    print(f"{alert.fired} alert(s); files in {alert.records[-1]['image'].rsplit('/', 1)[0] if alert.records else '-'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "runs" / "detection_alert")
