"""The wheel as a user installs it: run from outside the source tree with the installed package only.

Every hook attached to one model, one epoch of yolo11n.yaml on a copy of the bundled coco8, and the loopback
receiver must get ``train_end``; the package must come from the wheel's site-packages, and ``yolo-hooks check``
must run from its console script.

Usage: python wheel_smoke.py DATASETS_FOLDER
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DATASETS = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else None
work = Path(tempfile.mkdtemp(prefix="yolo_hooks_wheel_smoke_"))
os.environ["YOLO_OFFLINE"] = "1"
os.environ["YOLO_CONFIG_DIR"] = str(work / "settings")
os.chdir(work)


def main(datasets: Path) -> int:
    shutil.copytree(datasets, work / "datasets", ignore=shutil.ignore_patterns("*.cache"))
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.notify.receiver import WebhookReceiver

    where = Path(yolo_hooks.__file__).resolve()
    assert "site-packages" in where.parts, f"yolo_hooks imported from {where}, not from an installed wheel"
    print(f"yolo_hooks {yolo_hooks.__version__} from {where.parent}")
    with WebhookReceiver() as receiver:
        config = {
            "fitness_report": True,
            "val_loss_alert": True,
            "early_stop": {"patience": 5},
            "lr_on_plateau": {"patience": 3},
            "notify": [{"format": "json", "url": receiver.url, "events": "all"}],
            "best_mirror": {"to": [str(work / "mirror")]},
            "detection_alert": {"classes": ["person"]},
            "watchdog": True,
        }
        model = YOLO("yolo11n.yaml")
        hooks = yolo_hooks.attach(model, config)
        assert sorted(h.config_name for h in hooks) == sorted(config), [h.config_name for h in hooks]
        model.train(data=str(work / "datasets" / "coco8.yaml"), epochs=1, imgsz=64, batch=4, workers=0, plots=False,
                    device="cpu", project=str(work / "runs"), name="smoke", exist_ok=True)
        events = [m.get("event") for m in receiver.delivered()]
    print(f"received: {', '.join(events)}")
    assert "train_end" in events, events
    assert (work / "mirror" / "best.pt").is_file(), "the mirror has no best.pt"
    hooks_yaml = work / "hooks.yaml"
    hooks_yaml.write_text("fitness_report: true\nearly_stop: {patience: 3}\n")
    cli = Path(sys.executable).parent / "yolo-hooks"
    check = subprocess.run([str(cli), "check", str(hooks_yaml)], capture_output=True, text=True)
    assert check.returncode == 0 and "2 hook(s) OK" in check.stdout, check.stdout + check.stderr
    print("wheel smoke test: OK")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(DATASETS))
    finally:
        shutil.rmtree(work, ignore_errors=True)
