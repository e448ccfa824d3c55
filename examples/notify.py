"""Notifications end to end, on loopback only: a receiver that is up, one that is down, the outbox, a replay.

    .venv/bin/python examples/notify.py

A 2-epoch coco8 training sends to two JSON endpoints: ``ops`` (listening: messages arrive as they happen) and
``backup`` (down for the whole run: training is not slowed, and its messages end up in the run's outbox). Then
``backup`` comes back and ``yolo-hooks outbox replay`` delivers what it missed, with the original message ids.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks import cli
    from yolo_hooks.notify.receiver import WebhookReceiver

    work = ROOT / "runs" / "notify_example"
    shutil.rmtree(work, ignore_errors=True)
    ops = WebhookReceiver(echo=print).start()
    backup = WebhookReceiver(echo=print).start()
    backup.stop()  # down: connection refused (it keeps its port for later)
    hooks = work / "hooks.yaml"
    hooks.write_text(
        "notify:\n"
        f"  - {{name: ops, format: json, url: '{ops.url}', progress_every: 1}}\n"
        f"  - {{name: backup, format: json, url: '{backup.url}', retries: 2, flush_timeout: 2}}\n"
    )
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, str(hooks))
    model.train(data=str(ROOT / "datasets" / "coco8.yaml"), epochs=2, imgsz=160, batch=4, workers=0, plots=False,
                project=str(work), name="train", exist_ok=True)
    save_dir = model.trainer.save_dir

    print(f"\n$ yolo-hooks outbox dir={save_dir}")
    cli.main(["outbox", f"dir={save_dir}"])
    backup.start()  # the backup endpoint is back
    print(f"\n$ yolo-hooks outbox replay hooks={hooks} dir={save_dir}")
    cli.main(["outbox", "replay", f"hooks={hooks}", f"dir={save_dir}"])
    print(f"\nops received {len(ops.unique_ids())} message(s), backup {len(backup.unique_ids())} (after replay)")
    ops.stop()
    backup.stop()


if __name__ == "__main__":
    main()
