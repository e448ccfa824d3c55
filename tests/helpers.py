"""Small hooks and helpers used by several tests."""

from __future__ import annotations

import collections
import logging
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from yolo_hooks import Hook
from yolo_hooks.core.worker import THREAD_PREFIX
from yolo_hooks.plateau.early_stop import EarlyStopping


class Recorder(Hook):
    """Records (event, epoch, is_final_eval) for every trainer event, and the object type for the others."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.events: list[tuple] = []
        self.snapshots = []
        self.outcomes = []

    def _rec(self, name, obj):
        self.events.append((name, getattr(obj, "epoch", None)))

    def on_pretrain_routine_start(self, t):
        self._rec("on_pretrain_routine_start", t)

    def on_pretrain_routine_end(self, t):
        self._rec("on_pretrain_routine_end", t)

    def on_train_start(self, t):
        self._rec("on_train_start", t)

    def on_train_epoch_start(self, t):
        self._rec("on_train_epoch_start", t)

    def on_train_epoch_end(self, t):
        self._rec("on_train_epoch_end", t)

    def on_model_save(self, t):
        self._rec("on_model_save", t)

    def on_fit_epoch_end(self, t):
        self._rec("on_fit_epoch_end", t)
        self.snapshots.append(self.snapshot(t))

    def on_train_end(self, t):
        self._rec("on_train_end", t)

    def teardown(self, t):
        self._rec("teardown", t)
        self.outcomes.append(self.outcome(t))

    def on_val_start(self, v):
        self.events.append(("on_val_start", type(v).__name__))

    def on_val_end(self, v):
        self.events.append(("on_val_end", type(v).__name__))

    def on_predict_start(self, p):
        self.events.append(("on_predict_start", type(p).__name__))

    def on_predict_end(self, p):
        self.events.append(("on_predict_end", type(p).__name__))

    def on_export_start(self, e):
        self.events.append(("on_export_start", type(e).__name__))

    def on_export_end(self, e):
        self.events.append(("on_export_end", type(e).__name__))


class Raiser(Hook):
    """Raises ``error`` in ``event`` (from epoch ``at_epoch`` on) and counts how often it was called."""

    def __init__(self, event: str = "on_train_batch_end", error: BaseException | None = None, at_epoch: int = 0, **kw):
        super().__init__(**kw)
        self.event, self.error, self.at_epoch, self.calls = event, error or RuntimeError("boom"), at_epoch, 0

    def on_train_batch_end(self, trainer):
        self._maybe_raise("on_train_batch_end", trainer)

    def on_fit_epoch_end(self, trainer):
        self._maybe_raise("on_fit_epoch_end", trainer)

    def _maybe_raise(self, event, trainer):
        if event == self.event:
            self.calls += 1
            if trainer.epoch >= self.at_epoch:
                raise self.error


class KeepStateOfEpoch(Hook):
    """Copies the hooks' state files as they are at the end of ``epoch`` (rank 0; attached after the other hooks)."""

    def __init__(self, epoch: int, folder: Path):
        super().__init__(name="keep_state")
        self.epoch, self.folder = epoch, Path(folder)

    def on_fit_epoch_end(self, trainer):
        if self.is_main_process and self.snapshot(trainer).epoch == self.epoch:
            self._bus.flush_writes()  # state files are written by the bus' background writer
            self.folder.mkdir(parents=True, exist_ok=True)
            for state in (Path(trainer.save_dir) / "weights").glob("*.state.json"):
                shutil.copy(state, self.folder / state.name)


class LoggedEarlyStop(EarlyStopping):
    """EarlyStopping that also keeps every line it logs, as (level, message), in ``logged``."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.logged: list[tuple[str, str]] = []

    def log(self, message, level="info", colour=None):
        self.logged.append((level, message))
        super().log(message, level, colour)


def flush_state(hook) -> None:
    """Wait until the state files the hook saved are on disk (the bus writes them on a background thread)."""
    if hook._bus is not None:
        hook._bus.flush_writes()


class Listener(Hook):
    """Collects what the other hooks of the model publish, as a notifier would."""

    def __init__(self):
        super().__init__(name="listener")
        self.published = []

    def on_published(self, event):
        self.published.append(event)

    def kinds(self):
        return [e.kind for e in self.published]


def bests(fitness: list[float]) -> list[tuple[float, int]]:
    """(trainer.best_fitness, stopper.best_epoch) after each epoch, by Ultralytics' rules."""
    out, best, stopper_best, best_epoch = [], None, 0.0, 0
    for epoch, f in enumerate(fitness, start=1):
        best = f if best is None or best < f else best
        if f > stopper_best or stopper_best == 0:
            best_epoch, stopper_best = epoch, f
        out.append((best, best_epoch))
    return out


@contextmanager
def captured_log():
    """Lines logged through Ultralytics' LOGGER while the block runs (all levels)."""
    from ultralytics.utils import LOGGER

    lines: list[str] = []

    class Sink(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    sink = Sink(level=logging.DEBUG)
    LOGGER.addHandler(sink)
    try:
        yield lines
    finally:
        LOGGER.removeHandler(sink)


def live_threads() -> list[threading.Thread]:
    """The yolo_hooks threads running now (none is expected after a run has ended and been flushed)."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX) and t.is_alive()]


def time_callbacks(model, hook) -> dict[str, list[float]]:
    """Wrap ``hook``'s registered callbacks on ``model``; returns event -> seconds spent on the calling thread."""
    from yolo_hooks.core.hook import GuardedCallback

    spent: dict[str, list[float]] = collections.defaultdict(list)

    def timed(callback):
        def call(obj):
            start = time.perf_counter()
            try:
                return callback(obj)
            finally:
                spent[callback.event].append(time.perf_counter() - start)

        return call

    for event, callbacks in model.callbacks.items():
        model.callbacks[event] = [
            timed(cb) if isinstance(cb, GuardedCallback) and cb.hook is hook else cb for cb in callbacks
        ]
    return spent
