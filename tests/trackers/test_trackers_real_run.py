"""Our events in the user's tracker, for real: a training with Ultralytics' MLflow integration (a file store in the
test's folder) and its W&B integration (offline) switched on, then what was logged read back from MLflow's store and
from W&B's run file.

Ultralytics logs to neither under pytest (its W&B integration asserts that no test runs when it is imported, its
MLflow integration logs only in a test whose name holds ``test_mlflow``): the training runs in a child process
without ``PYTEST_CURRENT_TEST``, with a settings folder of its own (the suite's turns both off).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COCO8, ROOT
from tests.trackers.wandb_file import read_run

pytest.importorskip("mlflow")
pytest.importorskip("wandb")

TRAIN = """
import sys
from ultralytics import YOLO, settings
settings.update({{"mlflow": True, "wandb": True, "raytune": False}})
import yolo_hooks

class Boom:
    def __call__(self, trainer):
        if {crash} and trainer.epoch == 1:
            raise RuntimeError("CUDA out of memory (a test's)")

model = YOLO("yolo11n.yaml")
yolo_hooks.attach(model, {{"early_stop": {{"patience": 1}}, "best_mirror": {{"to": [{mirror!r}]}},
                           "val_loss_alert": {{"above": 0.001, "repeat_every": 2, "warmup": 0}}, "trackers": True}})
model.add_callback("on_train_epoch_end", Boom())
model.train(data={data!r}, epochs=4, imgsz=64, batch=4, workers=0, plots=False, amp=False, device="cpu",
            project={project!r}, name="run", exist_ok=True)
"""


def train_with_trackers(tmp_path: Path, crash: bool) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env.update(YOLO_CONFIG_DIR=str(tmp_path / "settings"), WANDB_MODE="offline", WANDB_SILENT="true",
               MLFLOW_TRACKING_URI=(tmp_path / "mlruns").as_uri(), MLFLOW_ALLOW_FILE_STORE="true",
               MLFLOW_EXPERIMENT_NAME="yolo_hooks_test",
               PYTHONPATH=os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)])))  # a floor first
    code = TRAIN.format(crash=crash, mirror=str(tmp_path / "mirror"), data=str(COCO8), project=str(tmp_path))
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)


def mlflow_run(tmp_path: Path):
    from mlflow import MlflowClient

    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"  # MLflow 3 keeps its file store for those who ask for it
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("yolo_hooks_test").experiment_id])
    tags = {k: v for k, v in run.data.tags.items() if k.startswith("yolo_hooks.")}
    params = {k: v for k, v in run.data.params.items() if k.startswith("yolo_hooks.")}
    artifacts = {}
    for name in ("events.jsonl", "alerts.txt"):
        path = client.download_artifacts(run.info.run_id, f"yolo_hooks/{name}", dst_path=str(tmp_path / "artifacts"))
        artifacts[name] = Path(path).read_text()
    return run, tags, params, artifacts


def wandb_run(tmp_path: Path) -> dict:
    (path,) = tmp_path.rglob("offline-run-*/run-*.wandb")  # in the run folder (8.4), in the cwd (8.3.253)
    return read_run(path)


@pytest.mark.training
def test_an_early_stopped_run_tells_mlflow_and_wandb_why_where_its_best_is_and_what_alerted(tmp_path):
    result = train_with_trackers(tmp_path, crash=False)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert "trackers: our events go to MLflow run" in result.stdout + result.stderr

    run, tags, params, artifacts = mlflow_run(tmp_path)
    assert run.info.status == "FINISHED"  # as Ultralytics ended it: we only add to the run
    assert tags["yolo_hooks.outcome"] == "stopped_early" and tags["yolo_hooks.stopped_epoch"] == "2"
    assert tags["yolo_hooks.outcome_reason"].startswith("stopped early at epoch 2/4: stopping at epoch 2/4 (patience)")
    # 4 losses alert at epoch 1; with repeat_every=2 not again at epoch 2
    assert tags["yolo_hooks.best_epoch"] in {"1", "2"} and tags["yolo_hooks.alerts"] == "4"
    best = Path(tags["yolo_hooks.mirror"])
    assert best == tmp_path / "mirror" / "best.pt"
    assert tags["yolo_hooks.mirror_sha256"] == hashlib.sha256(best.read_bytes()).hexdigest()
    assert params == {"yolo_hooks.version": __import__("yolo_hooks").__version__,
                      "yolo_hooks.hooks": "early_stop,best_mirror,val_loss_alert,trackers,control"}
    events = [json.loads(line) for line in artifacts["events.jsonl"].splitlines()]
    assert [e["kind"] for e in events].count("alert") == 4 and "early_stop" in [e["kind"] for e in events]
    assert "WARNING  early_stop" in artifacts["alerts.txt"] and "CRITICAL alert" in artifacts["alerts.txt"]

    recorded = wandb_run(tmp_path)
    alerts = recorded["alerts"]
    # each loss's alert has a title of its own (W&B holds back a repeat of a title within wait_duration), and waits
    # a little less than repeat_every=2 epochs: our repeats get through, nothing sooner
    assert {a["title"] for a in alerts} >= {"val_loss_alert: above val/box_loss", "early_stop: fitness"}
    assert {a["level"] for a in alerts} == {"ERROR", "WARN"}
    summary = {k: v for k, v in recorded["summary"].items() if k.startswith("yolo_hooks/")}
    assert summary["yolo_hooks/outcome"] == "stopped_early" and summary["yolo_hooks/stopped_epoch"] == 2
    assert summary["yolo_hooks/alerts"] == 4


@pytest.mark.training
def test_a_crash_is_a_wandb_alert_and_the_mlflow_runs_outcome(tmp_path):
    result = train_with_trackers(tmp_path, crash=True)
    assert result.returncode != 0 and "CUDA out of memory (a test's)" in result.stderr

    run, tags, _, _ = mlflow_run(tmp_path)
    from yolo_hooks.core.compat import VERSION

    # 8.4 ends it in teardown as failed; 8.3.253 has no MLflow teardown: MLflow's own exit handler ends it
    assert run.info.status == ("FAILED" if VERSION >= (8, 4) else "FINISHED")
    assert tags["yolo_hooks.outcome"] == "crashed"
    assert tags["yolo_hooks.outcome_reason"] == "crashed at epoch 2/4: RuntimeError: CUDA out of memory (a test's)"
    recorded = wandb_run(tmp_path)
    crash = [a for a in recorded["alerts"] if a["title"] == "crash"]
    assert len(crash) == 1 and crash[0]["level"] == "ERROR" and "RuntimeError" in crash[0]["text"]
    assert recorded["summary"]["yolo_hooks/outcome"] == "crashed"
