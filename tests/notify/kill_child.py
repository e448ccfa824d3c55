"""A training that is SIGKILLed after every hook handled an epoch and sent its messages, but before any hook's
state of it was saved.

    python kill_child.py CONFIG.json PROJECT CONTROL_DIR [resume]

At epoch ``KILL_EPOCH`` of the first process no hook's state is written (the kill comes after the messages went
out and before the writer reached the states), and a callback registered after the hooks writes
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
if "YOLO_CONFIG_DIR" not in os.environ:  # set by the test that starts this process
    os.environ["YOLO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="yolo_hooks_cfg_")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

KILL_EPOCH, EPOCHS = 2, 3


def main(config_path: str, project: str, control: str, resume: str = "") -> None:
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.core.hook import Hook

    control_dir = Path(control)
    model = YOLO(Path(project) / "run" / "weights" / "last.pt") if resume else YOLO("yolo11n.yaml")
    save_state = Hook.save_state

    def save_state_before_the_kill(hook, trainer, epoch):
        if resume or epoch != KILL_EPOCH:
            save_state(hook, trainer, epoch)

    Hook.save_state = save_state_before_the_kill

    def wait_for_the_kill(trainer):
        if not resume and trainer.epoch + 1 == KILL_EPOCH:
            (control_dir / "handled").write_text("every hook handled the epoch; none saved its state")
            time.sleep(600)

    yolo_hooks.attach(model, json.loads(Path(config_path).read_text()))
    model.add_callback("on_fit_epoch_end", wait_for_the_kill)  # after the hooks
    if resume:
        model.train(resume=True)
    else:
        model.train(data=str(Path(os.environ.get("YOLO_HOOKS_TEST_SESSION", ROOT)) / "datasets" / "coco8.yaml"), epochs=EPOCHS, imgsz=64, batch=4, workers=0,
                    plots=False, amp=False, seed=0, deterministic=True, device="cpu", project=project, name="run",
                    exist_ok=True, val=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
