"""``model.tune(use_ray=True)`` on a real local Ray cluster, in a process of an installed copy: the hooks of
``YOLO_HOOKS`` and of ``attach()`` reach every trial, and the tuning process tells the tune's story once."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import COCO8
from yolo_hooks.notify.receiver import WebhookReceiver

pytest.importorskip("ray")

SEARCH = """
import json, sys, time
import ray
from ray import tune
from ultralytics import YOLO
from ultralytics.utils import NUM_THREADS
import yolo_hooks

started = time.time()
model = YOLO("yolo11n.yaml")
yolo_hooks.attach(model, {{"notify": [{{"format": "json", "url": {attached!r}, "name": "attached",
                                        "events": ["train_start", "train_end", "crash", "tune_start",
                                                   "tune_new_best", "tune_end"]}}]}})
# two trials at once, whatever the machine: each asks for NUM_THREADS CPUs (fewer than that: it waits for ever)
ray.init(num_cpus=2 * NUM_THREADS, include_dashboard=False, _temp_dir={ray_dir!r}, log_to_driver=False)
grid = model.tune(use_ray=True, space={{"lr0": tune.grid_search([0.005, -1.0])}}, grace_period=1, iterations=1,
                  search_alg="random", data={data!r}, epochs=2, imgsz=64, batch=4, workers=0, plots=False,
                  amp=False, device="cpu", project={project!r}, verbose=False)
print(json.dumps({{"seconds": round(time.time() - started, 1), "errors": grid.num_errors,
                  "ray_running": ray.is_initialized()}}))
"""


@pytest.mark.training
def test_every_trial_gets_the_hooks_and_the_tuning_process_tells_the_story_once(installed, tmp_path):
    import shutil
    import tempfile

    ray_dir = tempfile.mkdtemp(prefix="yh_ray_")  # short: Ray's sockets live under it (107 characters at most)
    try:
        with WebhookReceiver() as receiver:
            (tmp_path / "hooks.yaml").write_text(f"fitness_report: {{csv: true}}\nnotify:\n"
                                                 f"  - {{format: json, url: '{receiver.url_for('/env')}'}}\n")
            code = SEARCH.format(attached=receiver.url_for("/attached"), ray_dir=ray_dir, data=str(COCO8),
                                 project=str(tmp_path / "runs"))
            # Ultralytics' defaults (raytune on: the suite's settings turn it off), no W&B (8.3.253 adds its logger to
            # every search when wandb is installed), no Ray auth token written into the home folder
            result = installed.python_code(code, cwd=tmp_path, YOLO_HOOKS=str(tmp_path / "hooks.yaml"),
                                           YOLO_CONFIG_DIR=str(tmp_path / "settings"), RAY_AUTH_MODE="disabled",
                                           WANDB_MODE="disabled", timeout=900)
            assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
            by_path = {"/env": [], "/attached": []}
            for request in receiver.requests:
                by_path[request["path"]].append(request["json"])
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    run = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"Ray search of 2 trials x 2 epochs: {run['seconds']} s in its process")
    assert run["errors"] == 1 and run["ray_running"] is False  # Ultralytics shuts Ray down after the search

    # YOLO_HOOKS' destination chose no events: nothing from the trials, the tune's story from the tuning process
    env = by_path["/env"]
    assert [m["event"] for m in env] == ["tune_start", "crash", "tune_new_best", "tune_end"] \
        or [m["event"] for m in env] == ["tune_start", "tune_new_best", "crash", "tune_end"]
    crash = next(m for m in env if m["event"] == "crash")
    assert crash["title"].startswith("💥 Ray Tune trial 2/2 crashed")
    assert "'lr0=-1.0' is an invalid value" in crash["text"]
    summary = env[-1]["data"]["summary"]
    assert summary["iterations_planned"] == 2 and summary["iterations_run"] == 2 and summary["iterations_failed"] == 1
    trials = {t["iteration"]: t for t in summary["iterations"]}
    assert (trials[1]["status"], trials[1]["epochs"], trials[1]["hyperparameters"]) == ("finished", 2, {"lr0": 0.005})
    assert trials[2]["status"] == "crashed" and trials[2]["hyperparameters"] == {"lr0": -1.0}
    assert summary["fitness_metric"] == "metrics/mAP50-95(B)" and summary["best"]["iteration"] == 1
    weights = Path(summary["best"]["weights"])
    assert weights.is_file() and weights.parent.parent == Path(trials[1]["save_dirs"]["coco8"])
    assert json.loads((Path(summary["tune_dir"]) / "tune_summary.json").read_text()) == summary

    # attach()'s destination chose its events: the trial's own train_start / train_end, naming the trial (the trial
    # crashed before its trainer existed says nothing itself), and one crash from the tuning process
    attached = by_path["/attached"]
    assert Counter(m["event"] for m in attached) == Counter(
        {"tune_start": 1, "train_start": 1, "train_end": 1, "crash": 1, "tune_new_best": 1, "tune_end": 1})
    train_end = next(m for m in attached if m["event"] == "train_end")
    assert "(Ray Tune trial 1/2)" in train_end["title"] and train_end["run"]["tune"] == "Ray Tune trial 1/2"

    # the trial's own run folder has YOLO_HOOKS' files; Ray's SystemExit at its last epoch is no interrupt
    trial_run = Path(trials[1]["save_dirs"]["coco8"])
    assert len((trial_run / "fitness.csv").read_text().strip().splitlines()) == 3  # header + both epochs
    assert json.loads((trial_run / "yolo_hooks_run.json").read_text())["status"] == "finished"
    assert json.loads((trial_run / "fitness_summary.json").read_text())["status"] == "finished"
