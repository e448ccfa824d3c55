"""A training with a mirror that lags two epochs behind, to be SIGKILLed mid-run (a subprocess of the resume tests).

    python lagging_child.py PROJECT STORE CONTROL_DIR HOOKS EPOCHS KILL_AT

``STORE`` is a folder, or JSON ``{"url": ..., "storage_options": {...}}`` for an fsspec store; ``HOOKS`` the JSON of
the other hooks. At the start of every epoch the child writes the completed epochs to ``CONTROL_DIR/progress`` (the
store's clock: each last.pt it copies takes two epochs), then waits until the mirror is idle or holds a last.pt (on
two shared cores the mirror's lowest-priority threads would otherwise not copy a 26 MB best.pt to S3 within the whole
run). From the start of 0-based epoch ``KILL_AT`` (``KILL_AT``
epochs complete) on, at the first epoch start at least one epoch after the store finished writing a last.pt (so that
the small files of that copy are there too), it writes ``CONTROL_DIR/paused`` and sleeps until it is killed.
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


def main(project: str, store: str, control: str, hooks: str, epochs: str, kill_at: str) -> None:
    from ultralytics import YOLO

    import yolo_hooks
    from tests.conftest import TRAIN_DEFAULTS
    from tests.mirror.support import LaggingFsspecStore, LaggingStore

    progress = Path(control) / "progress"

    def at_epoch_start(trainer):
        progress.write_text(str(trainer.epoch))
        quiet_by = time.time() + 120
        while not (mirror.holding or hook.wait(0.05)) and time.time() < quiet_by:
            time.sleep(0.05)
        written = progress.with_suffix(".last_written")
        if trainer.epoch >= int(kill_at) and written.exists() and trainer.epoch > int(written.read_text()):
            (Path(control) / "paused").write_text(str(trainer.epoch))
            time.sleep(600)

    if store.startswith("{"):
        spec = json.loads(store)
        mirror = LaggingFsspecStore(spec["url"], spec["storage_options"], progress)
    else:
        mirror = LaggingStore(store, progress)
    model = YOLO("yolo11n.yaml")
    model.add_callback("on_train_epoch_start", at_epoch_start)  # before attach: it runs before every hook's
    hook = yolo_hooks.BestMirror(to=mirror, last_every=1, keep=0)
    yolo_hooks.attach(model, json.loads(hooks), hook)
    data = Path(os.environ.get("YOLO_HOOKS_TEST_SESSION", ROOT)) / "datasets" / "coco8.yaml"
    model.train(**{**TRAIN_DEFAULTS, "imgsz": 64}, data=str(data), epochs=int(epochs), device="cpu", project=project,
                name="run", exist_ok=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
