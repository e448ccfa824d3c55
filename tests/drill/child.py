"""The training process of the fault drill (run as a subprocess so the drill can SIGKILL it).

    python child.py CONFIG.json PROJECT EPOCHS CONTROL_DIR [resume]

At the end of every training epoch it writes ``CONTROL_DIR/reached_<epoch>`` and waits for ``go_<epoch>``, so
that the drill can break things (endpoint, mirror folder) at exact epochs. At epoch ``NAN_EPOCH`` it puts a NaN
into ``val/box_loss`` before any hook reads the epoch. In the first process, at epoch ``KILL_EPOCH``, it stops
right after Ultralytics wrote last.pt and before any hook saw the epoch (``paused_<epoch>``), the worst moment
for a SIGKILL: last.pt is one epoch ahead of every hook's saved state. At teardown it writes every hook's error
counts.
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

NAN_EPOCH = 3
KILL_EPOCH = 5


def main(config_path: str, project: str, epochs: str, control: str, resume: str = "") -> None:
    from ultralytics import YOLO

    import yolo_hooks

    control_dir = Path(control)
    phase = "resumed" if resume else "first"

    def inject_nan(trainer):
        if trainer.epoch + 1 == NAN_EPOCH and "val/box_loss" in (trainer.metrics or {}):
            trainer.metrics["val/box_loss"] = float("nan")

    def handshake(trainer):
        if "val/box_loss" not in (trainer.metrics or {}):
            return  # the final evaluation of best.pt has no validation losses
        epoch = trainer.epoch + 1
        (control_dir / f"reached_{epoch}").write_text(phase)
        deadline = time.time() + 120
        while not (control_dir / f"go_{epoch}").exists() and time.time() < deadline:
            time.sleep(0.02)

    config = json.loads(Path(config_path).read_text())
    if resume:
        model = YOLO(Path(project) / "run" / "weights" / "last.pt")
    else:
        model = YOLO("yolo11n.yaml")
    def pause_for_the_kill(trainer):
        if not resume and trainer.epoch + 1 == KILL_EPOCH:
            (control_dir / f"paused_{KILL_EPOCH}").write_text("last.pt written, no hook has seen the epoch")
            time.sleep(600)

    model.add_callback("on_fit_epoch_end", inject_nan)  # before attach: every hook sees the NaN
    model.add_callback("on_model_save", pause_for_the_kill)  # before attach: runs before every hook's on_model_save
    hooks = yolo_hooks.attach(model, config)
    model.add_callback("on_fit_epoch_end", handshake)  # after every hook has handled the epoch

    def report_errors(trainer):
        errors = {hook.name: hook.error_counts for hook in hooks}
        (control_dir / f"errors_{phase}.json").write_text(json.dumps(errors))

    model.add_callback("teardown", report_errors)
    if resume:
        model.train(resume=True)
    else:
        model.train(data=str(Path(os.environ.get("YOLO_HOOKS_TEST_SESSION", ROOT)) / "datasets" / "coco8.yaml"), epochs=int(epochs), imgsz=160, batch=4, workers=0,
                    plots=False, amp=False, seed=0, deterministic=True, device="cpu", project=project, name="run",
                    exist_ok=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
