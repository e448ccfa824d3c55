"""What a hook needs to know about the run: rank, the per-epoch snapshot, and how the run ended.

The trainer is read once per epoch into a frozen :class:`EpochSnapshot` of plain floats, so hooks never poke
trainer internals (tensors, numpy scalars, optional attributes) each in their own way.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from .tune_context import stopped_by_ray

STATE_ATTR = "_yolo_hooks_run"  # where a trainer carries its RunState (trainers are never pickled)


def rank() -> int:
    """This process' global rank: -1 without DDP, 0..N-1 in DDP workers (read at call time, not import time)."""
    return int(os.environ.get("RANK", -1))


def is_main_process() -> bool:
    """True on the process that does once-per-run side effects (messages, files, copies)."""
    return rank() in {-1, 0}


def to_float(value: Any) -> float | None:
    """A tensor, numpy scalar or number as a plain float; None stays None."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class EpochSnapshot:
    """One training epoch (or the final evaluation of best.pt) as plain data.

    ``epoch`` is 1-based like Ultralytics' console and ``results.csv``. The extra ``on_fit_epoch_end`` that
    Ultralytics fires after validating best.pt has ``is_final_eval=True``, the number of the last training epoch,
    and no validation losses.

    Examples:
        >>> def on_fit_epoch_end(self, trainer):
        ...     snap = self.snapshot(trainer)
        ...     if not snap.is_final_eval and snap.is_best:
        ...         print(f"new best {snap.fitness:.4f} at epoch {snap.epoch}/{snap.epochs}")
    """

    epoch: int
    epochs: int
    is_final_eval: bool
    fitness: float | None
    best_fitness: float | None
    best_epoch: int | None
    is_best: bool
    metrics: dict[str, float]
    val_losses: dict[str, float]
    train_losses: dict[str, float]
    lr: dict[str, float]
    epoch_time: float | None
    elapsed: float
    start_epoch: int
    stop: bool
    task: str
    save_dir: Path
    best_path: Path
    last_path: Path
    time: float = field(default_factory=time.time)

    @property
    def val_loss_total(self) -> float | None:
        """Sum of the validation losses, or None when there are none (final evaluation, ``val=False``)."""
        return sum(self.val_losses.values()) if self.val_losses else None

    @property
    def train_loss_total(self) -> float | None:
        """Sum of the training losses."""
        return sum(self.train_losses.values()) if self.train_losses else None

    def values(self) -> dict[str, float | None]:
        """Every monitored number by its Ultralytics key, plus ``fitness``, ``val/loss`` and ``train/loss``."""
        out: dict[str, float | None] = {**self.train_losses, **self.metrics, **self.val_losses, **self.lr}
        out["fitness"] = self.fitness
        out["val/loss"] = self.val_loss_total
        out["train/loss"] = self.train_loss_total
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the snapshot."""
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        for k in ("save_dir", "best_path", "last_path"):
            d[k] = str(d[k])
        return d


@dataclass(frozen=True)
class RunOutcome:
    """How a training run ended, as seen from ``teardown`` (Ultralytics calls it in ``train()``'s ``finally``).

    ``status`` is ``finished``, ``stopped_early``, ``interrupted`` (KeyboardInterrupt / SystemExit) or ``crashed``.
    """

    status: str
    exc_type: str | None = None
    message: str | None = None
    epoch: int | None = None
    epochs: int | None = None
    duration: float | None = None  # seconds, see run_duration
    stopped_by: str | None = None  # who asked the run to stop, and why (a run-control stop), when someone did

    @property
    def ok(self) -> bool:
        """True when training ended without an exception."""
        return self.status in {"finished", "stopped_early"}


@dataclass
class RunState:
    """Per-trainer bookkeeping shared by every hook of the run (lives on the trainer, never pickled)."""

    last_train_epoch: int | None = None  # 0-based trainer.epoch at the latest on_train_epoch_end
    epoch_pending: bool = False  # an on_train_epoch_end not yet followed by its on_fit_epoch_end
    in_final_eval: bool = False  # this on_fit_epoch_end had no on_train_epoch_end before it: best.pt's validation
    teardown_done: bool = False
    train_start: float = field(default_factory=time.time)
    time_before: float = 0.0  # training time of the processes a resumed run goes on from (see run_duration)
    duration: float | None = None  # the run's duration, fixed at the end of training (see run_duration)
    snapshot_key: tuple | None = None
    snapshot: EpochSnapshot | None = None
    outcome: RunOutcome | None = None
    stopped_by: str | None = None  # set by a hook that stops the run on someone's request: who, and why


def run_state(trainer) -> RunState:
    """The trainer's RunState, created on first use."""
    state = trainer.__dict__.get(STATE_ATTR)
    if state is None:
        state = RunState()
        trainer.__dict__[STATE_ATTR] = state
    return state


def _floats(mapping: dict | None, prefix: str | None = None, exclude: str | None = None) -> dict[str, float]:
    out = {}
    for key, value in (mapping or {}).items():
        if (prefix and not key.startswith(prefix)) or (exclude and key.startswith(exclude)):
            continue
        number = to_float(value)
        if number is not None:
            out[key] = number
    return out


def _as_path(value: Any) -> Path | None:
    """``value`` as a Path without building a new one when it is one already (the trainer's are)."""
    if value is None or isinstance(value, Path):
        return value
    return Path(value)


def take_snapshot(trainer) -> EpochSnapshot:
    """Read ``trainer`` once for this epoch; later calls in the same event return the cached snapshot."""
    state = run_state(trainer)
    epoch, is_final = _epoch(trainer, state)
    # epoch_time changes between on_model_save and on_fit_epoch_end of the same epoch: part of the key
    key = (id(trainer), epoch, is_final, to_float(trainer.fitness), to_float(getattr(trainer, "epoch_time", None)))
    if state.snapshot_key == key and state.snapshot is not None:
        return state.snapshot
    snap = read_trainer(trainer, state).snapshot()
    state.snapshot_key, state.snapshot = key, snap
    return snap


def _epoch(trainer, state: RunState) -> tuple[int, bool]:
    """The 1-based epoch an event is about, and whether it is the final evaluation of best.pt."""
    # Told by event order (RunTracker), not by trainer.epoch: only 8.4.52+ raise the epoch for the final evaluation.
    is_final = state.in_final_eval
    return (state.last_train_epoch if is_final and state.last_train_epoch is not None else trainer.epoch) + 1, is_final


class TrainerReading(NamedTuple):
    """What :func:`take_snapshot` reads from the trainer, as Ultralytics left it: attribute reads only (tensors,
    numpy scalars and the trainer's own dicts, which it replaces rather than changes), so that taking it costs the
    training thread next to nothing; :meth:`snapshot` turns it into plain floats, on any thread."""

    plain: dict[str, Any]  # the EpochSnapshot fields that need no conversion (epoch, paths, task...)
    fitness: Any
    best_fitness: Any
    best_epoch: Any
    metrics: Any
    train_losses: Any  # a callable giving the training losses by key, or None
    lr: Any
    epoch_time: Any

    @property
    def epoch(self) -> int:
        return self.plain["epoch"]

    @property
    def best_path(self) -> Path:
        return self.plain["best_path"]

    @property
    def last_path(self) -> Path:
        return self.plain["last_path"]

    def snapshot(self) -> EpochSnapshot:
        """The :class:`EpochSnapshot` of this reading."""
        fitness, best = to_float(self.fitness), to_float(self.best_fitness)
        final = self.plain["is_final_eval"]
        return EpochSnapshot(
            **self.plain,
            fitness=fitness,
            best_fitness=best,
            best_epoch=int(self.best_epoch) if self.best_epoch is not None and best is not None else None,
            is_best=(not final) and fitness is not None and best is not None and fitness == best,
            metrics=_floats(self.metrics, exclude="val/"),
            val_losses={} if final else _floats(self.metrics, prefix="val/"),
            train_losses=_floats(self.train_losses()) if self.train_losses is not None else {},
            lr=_floats(self.lr),
            epoch_time=to_float(self.epoch_time),
        )


def read_trainer(trainer, state: RunState | None = None) -> TrainerReading:
    """This epoch's :class:`TrainerReading` of ``trainer`` (see :func:`take_snapshot`)."""
    state = state or run_state(trainer)
    epoch, is_final = _epoch(trainer, state)
    stopper = getattr(trainer, "stopper", None)
    tloss = trainer.tloss
    save_dir = _as_path(trainer.save_dir)
    plain = dict(
        epoch=epoch,
        epochs=int(trainer.epochs),
        is_final_eval=is_final,
        elapsed=time.time() - getattr(trainer, "train_time_start", state.train_start),
        start_epoch=int(getattr(trainer, "start_epoch", 0)),
        stop=bool(getattr(trainer, "stop", False)),
        task=str(getattr(trainer.args, "task", "detect")),
        save_dir=save_dir,
        best_path=_as_path(getattr(trainer, "best", None)) or save_dir / "weights" / "best.pt",
        last_path=_as_path(getattr(trainer, "last", None)) or save_dir / "weights" / "last.pt",
    )
    return TrainerReading(
        plain=plain,
        fitness=trainer.fitness,
        best_fitness=trainer.best_fitness,
        best_epoch=getattr(stopper, "best_epoch", None) if stopper is not None else None,
        metrics=trainer.metrics,
        train_losses=None if tloss is None else functools.partial(trainer.label_loss_items, tloss),
        lr=getattr(trainer, "lr", None),
        epoch_time=getattr(trainer, "epoch_time", None),
    )


def run_duration(trainer) -> float:
    """The run's **duration**, in seconds: its training time, from Ultralytics' start of training
    (``trainer.train_time_start``, the clock of its own "epochs completed in" line and of results.csv's ``time``) to
    the end of training (the first call: the core makes it at ``on_train_end``, or in ``teardown`` after a failure),
    plus, for a resumed run, the training time of the processes it goes on from (``time_before``, as results.csv
    recorded it). The one measure that train_end, crash messages, the fitness summary and forensics give."""
    state = run_state(trainer)
    if state.duration is None:
        start = getattr(trainer, "train_time_start", None)
        start = start if isinstance(start, (int, float)) else state.train_start
        state.duration = state.time_before + max(0.0, time.time() - start)
    return state.duration


def take_outcome(trainer) -> RunOutcome:
    """How the run ended; call it from ``teardown`` (the exception being propagated is still in ``sys.exc_info``)."""
    exc_type, exc, _ = sys.exc_info()
    epoch = getattr(trainer, "epoch", None)
    epochs = getattr(trainer, "epochs", None)
    epoch1 = epoch + 1 if isinstance(epoch, int) else None
    duration = run_duration(trainer)
    if stopped_by_ray(exc_type):  # Ray Tune ends every trial so, at its last epoch too: no interrupt
        last = epoch1 is not None and epochs is not None and epoch1 >= epochs
        return RunOutcome("finished" if last else "stopped_early", None,
                          None if last else "stopped by Ray Tune's scheduler", epoch1, epochs, duration)
    if exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        return RunOutcome("interrupted", exc_type.__name__, str(exc), epoch1, epochs, duration)
    if exc_type is not None:
        return RunOutcome("crashed", exc_type.__name__, str(exc), epoch1, epochs, duration)
    stopped = bool(getattr(trainer, "stop", False))
    early = stopped and epoch1 is not None and epochs is not None and epoch1 < epochs
    by = run_state(trainer).stopped_by if stopped else None
    return RunOutcome("stopped_early" if early else "finished", None, None, epoch1, epochs, duration, by)
