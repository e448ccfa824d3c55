"""A training with the hooks of a spec, in a process of its own, so that a test can SIGKILL it and resume it.

Run as ``python -m tests.control.child spec.json``: ``{"hooks": "hooks.yaml", "train": {...}}`` trains from
yolo11n.yaml; ``{"hooks": ..., "resume": "last.pt"}`` resumes.
"""

from __future__ import annotations

import json
import sys


def main(spec_path: str) -> None:
    from ultralytics import YOLO

    import yolo_hooks

    spec = json.loads(open(spec_path, encoding="utf-8").read())
    model = YOLO(spec["resume"]) if spec.get("resume") else YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, spec["hooks"])
    if spec.get("resume"):
        model.train(resume=True)
    else:
        model.train(**spec["train"])


if __name__ == "__main__":
    main(sys.argv[1])
