"""The watchdog says `stalled` when no batch finishes in time, `progress_resumed` when batches come again, can dump
every thread's stack, never touches the training, and leaves no thread behind."""

from __future__ import annotations

import threading
import time

import cloudpickle
import pytest

from tests.conftest import train
from tests.helpers import Listener
from yolo_hooks import ConfigError
from yolo_hooks.recovery.watchdog import Watchdog, stall_limit


@pytest.mark.parametrize("phase, limits, batches, validations, expected", [
    ("training", {}, [], [], 600.0),                                  # nothing seen yet: 10 minutes
    ("training", {}, [100.0, 300.0, 200.0], [], 1000.0),              # 5x the median batch time
    ("training", {"stall_after": 30}, [100.0], [], 30),               # configured
    ("first_batch", {}, [1.0], [], 1800.0),
    ("first_batch", {"first_batch": 5}, [], [], 5),
    ("dataloading", {"dataloading": 7, "stall_after": 1}, [], [], 7),  # its own threshold
    ("validation", {}, [], [700.0], 2100.0),                          # 3x the longest validation
    ("validation", {"validation": 9}, [], [700.0], 9),
])
def test_stall_limit(phase, limits, batches, validations, expected):
    assert stall_limit(phase, limits, batches, validations) == expected


@pytest.mark.parametrize("options, match", [
    ({"stall_after": 0}, "stall_after"),
    ({"validation": "soon"}, "validation"),
    ({"action": "kill"}, "action"),
])
def test_bad_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        Watchdog(**options)


def sleep_in_batch(epoch: int, seconds: float):
    def callback(trainer):
        if trainer.epoch == epoch and not getattr(trainer, "_slept", False):
            trainer._slept = True
            time.sleep(seconds)
    return callback


@pytest.mark.training
def test_a_batch_that_hangs_is_reported_once_and_its_end_too(tmp_path, log_lines):
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    model.add_callback("on_train_batch_end", sleep_in_batch(epoch=1, seconds=4.0))  # before the watchdog's
    pickled = []
    model.add_callback("on_fit_epoch_end", lambda trainer: pickled.append(cloudpickle.dumps(trainer.callbacks)))  # DDP
    watchdog, listener = Watchdog(stall_after=1.5, first_batch=120, dataloading=120, validation=120, action="dump"), Listener()
    train(tmp_path, watchdog, listener, model=model, epochs=2, imgsz=64, batch=2)

    stalls = [e for e in listener.published if e.kind == "stalled"]
    resumed = [e for e in listener.published if e.kind == "progress_resumed"]
    hung = [e for e in stalls if e.data["epoch"] == 2 and e.data["phase"] == "training"]
    assert len(hung) == 1 and hung[0].data["seconds"] >= 1.5
    assert "test_watchdog.py" in hung[0].data["where"]  # where the training thread is stuck: in the sleeping callback
    assert len(resumed) == len(stalls)  # every stall ended
    said = [line for line in log_lines if "training moves again" in line]  # printed as well as published
    assert len(said) == len(resumed) and all(line.startswith("watchdog:") for line in said)
    stacks = (tmp_path / "run" / "stalled_stacks_1.txt").read_text()
    assert hung[0].data["stacks"].endswith("stalled_stacks_1.txt")
    assert "Thread 0x" in stacks and "test_watchdog.py" in stacks  # faulthandler's dump of every thread
    assert not [t for t in threading.enumerate() if t.name == "yolo_hooks-watchdog"]  # no thread outlives the run
    assert model.trainer.epoch == 1  # the training ran to its end, untouched
    assert pickled and all(cloudpickle.loads(p) for p in pickled)  # picklable while its thread runs
