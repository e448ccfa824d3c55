"""The one module that knows what differs between Ultralytics releases: its rules, and what it does in a real run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import ultralytics

from tests.conftest import train
from tests.helpers import Raiser, Recorder
from yolo_hooks.core import compat

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, version", [
    ("8.3.253", (8, 3, 253)),
    ("8.4.177", (8, 4, 177)),
    ("8.4.0.dev0", (8, 4, 0)),
    ("8.4.190rc1", (8, 4, 190)),
])
def test_parse_version(text, version):
    assert compat.parse_version(text) == version


def test_the_installed_release_is_at_least_the_floor_that_pyproject_declares():
    declared = re.search(r'"ultralytics>=([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert declared == compat.FLOOR
    assert compat.VERSION >= compat.parse_version(compat.FLOOR), ultralytics.__version__


@pytest.mark.parametrize("since, flag", [
    ((8, 4, 177), "TEARDOWN_ON_FAILURE"),
    ((8, 4, 52), "FINAL_EVAL_RAISES_EPOCH"),
    ((8, 4, 140), "DDP_WORKERS_GET_CALLBACKS"),
    ((8, 4, 172), "STOPPER_RESUMED"),
])
def test_each_difference_is_switched_by_the_release_that_made_it(since, flag):
    assert getattr(compat, flag) == (compat.VERSION >= since)


class TeardownCounter(Recorder):
    """Counts ``teardown`` calls and what ``sys.exc_info()`` held in each."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.teardowns: list[str | None] = []

    def teardown(self, t):
        import sys

        super().teardown(t)
        exc = sys.exc_info()[0]
        self.teardowns.append(exc.__name__ if exc else None)


@pytest.mark.training
@pytest.mark.parametrize("error, status", [(RuntimeError("boom"), "crashed"), (KeyboardInterrupt(), "interrupted")])
@pytest.mark.parametrize("wrap", [False, True], ids=["installed-release", "wrapped-as-on-old-releases"])
def test_a_failed_run_reaches_every_teardown_exactly_once_with_the_exception_set(tmp_path, monkeypatch, error, status,
                                                                                  wrap):
    """On every release a crash or Ctrl-C reaches teardown once, while the exception propagates. ``wrap`` forces the
    old-release path (train() wrapped) on the installed release too: where Ultralytics' own ``finally`` already
    fired teardown, the wrapper must not fire it again."""
    if wrap:
        monkeypatch.setattr(compat, "TEARDOWN_ON_FAILURE", False)
    counter = TeardownCounter()
    with pytest.raises(type(error)):
        train(tmp_path, counter, Raiser("on_train_batch_end", error=error, at_epoch=1, strict=True), epochs=3,
              imgsz=64)
    assert counter.teardowns == [type(error).__name__]
    assert counter.outcomes[0].status == status and counter.outcomes[0].epoch == 2


@pytest.mark.training
def test_a_finished_run_reaches_teardown_once_without_an_exception(tmp_path, monkeypatch):
    monkeypatch.setattr(compat, "TEARDOWN_ON_FAILURE", False)  # the wrapper is installed, and must stay silent
    counter = TeardownCounter()
    model = train(tmp_path, counter, epochs=1, imgsz=64)
    assert counter.teardowns == [None] and counter.outcomes[0].status == "finished"
    assert "train" in vars(model.trainer)  # the wrapper was installed


@pytest.mark.training
def test_the_final_evaluation_is_told_by_event_order_and_numbered_as_the_last_epoch(tmp_path):
    """8.3.x fires the final evaluation without raising trainer.epoch; the snapshot must not take it for a repeat of
    the last epoch."""
    recorder = Recorder(strict=True)
    train(tmp_path, recorder, epochs=3, imgsz=64)
    assert [(s.epoch, s.is_final_eval) for s in recorder.snapshots] == [(1, False), (2, False), (3, False), (3, True)]
    assert recorder.snapshots[-1].val_losses == {}
