"""The review page of detection alerts, on generated scenes (CPU, offline; a few minutes the first time).

Trains the small shape detector of the test suite (``datasets/scene_train.py``, cached in the work folder), tracks
three generated scenes with their rules attached (``datasets/scene_rules.py``: enter, leave, a line each way,
loitering; a parked object and a big one that must not fire) writing into ONE alerts folder, as three cameras
would, and prints where the page is. With ``--screenshot PNG`` and Debian's ``chromium`` installed, it also takes a
screenshot of the page (docs/detection_alert_review.jpg is one, saved as JPEG).

Run from anywhere: ``python examples/review_page.py [work_dir] [--screenshot docs/detection_alert_review.png]``;
then ``yolo-hooks review <work_dir>/alerts`` serves it, or open ``<work_dir>/alerts/index.html``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics"))  # not ~/.config, not /tmp
sys.path.insert(0, str(ROOT / "datasets"))


def main(work: Path, screenshot: Path | None) -> None:
    import make_scene
    import scene_rules
    import scene_train

    weights = work / "train" / "weights" / "best.pt"
    if not weights.exists():
        weights = scene_train.train_scene_model(work)
    seen = 0
    for seed in (0, 1, 2):
        truth = work / "videos" / f"scene_{seed}.json"
        if not truth.exists():
            make_scene.make_scene(truth.parent, seed)
        run = scene_rules.run_scene(weights, truth, work, before=2, after=2)  # one alerts folder for the three
        print(f"scene {seed}: {len(run['alerts']) - seen} alerts")
        seen = len(run["alerts"])
    page = work / "alerts" / "index.html"
    print(f"the review page: {page}")
    if screenshot:
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is None:
            raise SystemExit("--screenshot needs chromium (apt-get install -y chromium)")
        with tempfile.TemporaryDirectory() as profile:
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--disable-background-networking", "--no-first-run", f"--user-data-dir={profile}",
                            f"--screenshot={screenshot.resolve()}", "--window-size=1200,820",
                            "--virtual-time-budget=3000", page.as_uri()],
                           check=True, capture_output=True, env={**os.environ, "HOME": profile, "TMPDIR": profile})
        print(f"screenshot: {screenshot}")


if __name__ == "__main__":
    args = sys.argv[1:]
    shot = Path(args[args.index("--screenshot") + 1]) if "--screenshot" in args else None
    rest = [a for i, a in enumerate(args) if a != "--screenshot" and (i == 0 or args[i - 1] != "--screenshot")]
    main(Path(rest[0]) if rest else ROOT / "runs" / "review_page", shot)
