"""Hooks survive cloudpickle at any moment of a run, as Ultralytics' DDP launch needs."""

from __future__ import annotations

import cloudpickle
import pytest

from tests.conftest import train
from yolo_hooks import Hook
from yolo_hooks.core.hook import GuardedCallback
from yolo_hooks.core.lifecycle import RunTracker
from yolo_hooks.core.worker import BackgroundWorker


class Busy(Hook):
    """Holds a started thread and an open file once the run is going: both must be left out of pickles."""

    _transient = ("_worker", "_file")

    def __init__(self, path):
        super().__init__(strict=True)
        self.path, self._worker, self._file, self.epochs_seen, self.pickled = path, None, None, [], []

    def on_fit_epoch_end(self, trainer):
        if self._worker is None:
            self._worker, self._file = BackgroundWorker("busy"), open(self.path, "a")
        self._worker.submit(lambda: None)
        self.epochs_seen.append(trainer.epoch)
        # what Ultralytics does when it launches DDP workers: pickle every registered callback
        self.pickled.append(cloudpickle.dumps(trainer.callbacks))


@pytest.mark.training
def test_callbacks_pickle_mid_run_with_threads_and_files_open(tmp_path, device):
    busy = Busy(tmp_path / "busy.log")
    train(tmp_path, busy, device=device, epochs=2)
    assert len(busy.pickled) == 3  # two epochs and the final evaluation

    callbacks = cloudpickle.loads(busy.pickled[1])
    (restored,) = [c.hook for c in callbacks["on_fit_epoch_end"] if isinstance(c, GuardedCallback) and isinstance(c.hook, Busy)]
    assert restored._worker is None and restored._file is None  # resources are recreated lazily in the worker
    assert restored.epochs_seen == [0, 1]
    # hooks restored together keep sharing one bus
    (tracker,) = [c.hook for c in callbacks["on_train_epoch_end"] if isinstance(getattr(c, "hook", None), RunTracker)]
    assert restored._bus is tracker.bus


def test_unstarted_hooks_round_trip():
    busy = Busy("unused")
    clone = cloudpickle.loads(cloudpickle.dumps(busy))
    assert clone.path == "unused" and clone.error_counts == {}
