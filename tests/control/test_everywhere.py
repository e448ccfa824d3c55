"""Every training with yolo_hooks gets run control: attach() adds it once (a configured one replaces the default),
`yolo-hooks train` has it without hooks=, and it pickles for DDP workers at any moment."""

from __future__ import annotations

import subprocess
import sys
import time

import cloudpickle
import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.conftest import COCO8, ROOT
from tests.control.support import SECRET
from yolo_hooks.control.cli import control_command
from yolo_hooks.control.hook import RunControl
from yolo_hooks.control.inbox import read_audit
from yolo_hooks.core.hook import GuardedCallback


def controls(model) -> list[RunControl]:
    tracker = next(cb.hook for cb in model.callbacks["on_train_epoch_end"] if isinstance(cb, GuardedCallback))
    return [h for h in tracker.bus.hooks if isinstance(h, RunControl)]


def registered(model, hook) -> list[str]:
    return [event for event, cbs in model.callbacks.items() for cb in cbs
            if isinstance(cb, GuardedCallback) and cb.hook is hook]


def test_every_model_gets_one_control_and_a_configured_one_replaces_it():
    model = YOLO("yolo11n.yaml")
    early = yolo_hooks.EarlyStopping()
    yolo_hooks.attach(model, early)
    default, = controls(model)
    assert yolo_hooks.attached(model) == [early]  # the core's own, as the run tracker
    assert "on_train_batch_end" in registered(model, default)
    yolo_hooks.attach(model, {"control": {"listen": "127.0.0.1:0", "secret": SECRET}})
    configured, = controls(model)
    assert configured is not default and configured.endpoint is not None and configured.name == "control"
    assert registered(model, default) == [] and "on_train_batch_end" in registered(model, configured)
    assert yolo_hooks.attached(model) == [early, configured]
    tracker_bus = controls(model)[0]._bus
    assert tracker_bus.hooks[-1] is configured  # run hooks finish after the others


def test_a_configured_control_first_means_no_default_at_all():
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, {"control": {"listen": 8765, "secret": SECRET}, "early_stop": True})
    assert len(controls(model)) == 1 and controls(model)[0].endpoint.address == "127.0.0.1:8765"


def test_control_pickles_with_its_secret_scrubbed_nowhere_and_its_sources_left_behind():
    hook = RunControl(listen="127.0.0.1:0", secret=SECRET)
    hook._sources = object()  # what a training starts: never sent to a DDP worker
    again = cloudpickle.loads(cloudpickle.dumps(hook))
    assert again._sources is None and again.endpoint == hook.endpoint
    assert hook.describe()["secret"] == "***"


@pytest.mark.training
def test_yolo_hooks_train_without_hooks_takes_commands(tmp_path):
    run = tmp_path / "run"
    args = [sys.executable, "-m", "yolo_hooks.cli", "train", "model=yolo11n.yaml", f"data={COCO8}", "epochs=20",
            "imgsz=64", "batch=4", "workers=0", "plots=False", "amp=False", "device=cpu", f"project={tmp_path}",
            "name=run"]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 300
        while not (run / "results.csv").exists() and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.2)
        assert control_command("extend", [str(run), "--patience", "1"]) == 0  # Ultralytics' own patience
        assert control_command("stop", [str(run), "--now"]) == 0
        assert proc.wait(300) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    audit = read_audit(run)
    assert [(r["command"], r["result"]) for r in audit] == [("patience", "done"), ("stop", "done")]
    assert audit[0]["text"] == "Ultralytics' patience 100 -> 1 (no early_stop hook in this run)"
    assert len((run / "results.csv").read_text().splitlines()[1:]) < 20
