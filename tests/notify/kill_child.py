"""A training that is SIGKILLed after every hook handled an epoch but before any hook's state of it was saved.

    python kill_child.py CONFIG.json PROJECT CONTROL_DIR [resume]

At epoch ``KILL_EPOCH`` of the first process, a callback registered before the hooks parks the bus' state writer
(so every hook's state write of that epoch waits, unwritten), and a callback registered after them writes
``CONTROL_DIR/handled`` and waits for the kill. The resumed process runs to the end.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo_hooks_cfg_"))
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

KILL_EPOCH, EPOCHS = 2, 3


def main(config_path: str, project: str, control: str, resume: str = "") -> None:
    from ultralytics import YOLO

    import yolo_hooks

    control_dir, bus = Path(control), {}
    model = YOLO(Path(project) / "run" / "weights" / "last.pt") if resume else YOLO("yolo11n.yaml")

    def park_state_writes(trainer):
        if not resume and trainer.epoch + 1 == KILL_EPOCH:
            bus["bus"].writer.submit(lambda: time.sleep(600))

    def wait_for_the_kill(trainer):
        if not resume and trainer.epoch + 1 == KILL_EPOCH:
            (control_dir / "handled").write_text("every hook handled the epoch; none saved its state")
            time.sleep(600)

    model.add_callback("on_fit_epoch_end", park_state_writes)  # before the hooks
    hooks = yolo_hooks.attach(model, json.loads(Path(config_path).read_text()))
    bus["bus"] = hooks[0]._bus
    model.add_callback("on_fit_epoch_end", wait_for_the_kill)  # after the hooks
    if resume:
        model.train(resume=True)
    else:
        model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=EPOCHS, imgsz=64, batch=4, workers=0,
                    plots=False, amp=False, seed=0, deterministic=True, device="cpu", project=project, name="run",
                    exist_ok=True, val=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
