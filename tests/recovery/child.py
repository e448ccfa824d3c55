"""A training to be SIGKILLed at the end of the run (run as a subprocess by the recovery tests).

    python child.py PROJECT WEBHOOK_URL MIRROR_DIR CONTROL_DIR WHEN

``WHEN`` is ``final_val`` (the final validation of best.pt: last.pt is already stripped) or ``train_end`` (before
any hook's ``on_train_end``). There the child writes ``CONTROL_DIR/paused`` and sleeps until it is killed. The
mirror is a real folder whose writes are slow, so an upload is half-way when the kill comes. With ``WHEN`` ``end``
the child never pauses: the test kills it when the run's marker says what it waits for (its end-of-run work under
way, or done); the mirror is less slow then, and the end of the run waits for it (up to 120 s).
"""

from __future__ import annotations

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

EPOCHS = 2  # epoch 1's best.pt is still being uploaded (slowly) during epoch 2 and the final validation


def main(project: str, url: str, mirror: str, control: str, when: str) -> None:
    from ultralytics import YOLO

    import yolo_hooks
    from tests.mirror.support import SlowStore

    def pause(what: str):
        deadline = time.time() + 60  # kill mid-upload: wait until the slow copy's temporary is in the mirror
        while not list(Path(mirror).glob(".*tmp-*")) and time.time() < deadline:
            time.sleep(0.05)
        (Path(control) / "paused").write_text(what)
        time.sleep(600)

    def at_final_validation(validator):
        if when == "final_val" and not getattr(validator, "training", True):
            pause("final validation")

    def at_train_end(trainer):
        if when == "train_end":
            pause("on_train_end")

    model = YOLO("yolo11n.yaml")
    model.add_callback("on_val_start", at_final_validation)
    model.add_callback("on_train_end", at_train_end)  # before attach: no hook has ended the run
    yolo_hooks.attach(model, {
        "fitness_report": {"plot": False},
        "notify": [{"format": "json", "url": url, "retries": 1, "backoff": 0.1}],
    }, yolo_hooks.BestMirror(to=SlowStore(mirror, seconds_per_mib=0.3 if when == "end" else 1.5), keep=0),
        end_timeout=120 if when == "end" else None)
    model.train(data=str(Path(os.environ.get("YOLO_HOOKS_TEST_SESSION", ROOT)) / "datasets" / "coco8.yaml"), epochs=EPOCHS, imgsz=64, batch=4, workers=0, plots=False,
                amp=False, seed=0, deterministic=True, device="cpu", project=project, name="run", exist_ok=True,
                verbose=False)


if __name__ == "__main__":
    main(*sys.argv[1:])
