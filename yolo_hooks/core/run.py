"""What a hook needs to know about the run: rank, the per-epoch snapshot, and how the run ended.

The trainer is read once per epoch into a frozen :class:`EpochSnapshot` of plain floats, so hooks never poke
trainer internals (tensors, numpy scalars, optional attributes) each in their own way.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    @property
    def ok(self) -> bool:
        """True when training ended without an exception."""
        return self.status in {"finished", "stopped_early"}


@dataclass
class RunState:
    """Per-trainer bookkeeping shared by every hook of the run (lives on the trainer, never pickled)."""

    last_train_epoch: int | None = None
    train_start: float = field(default_factory=time.time)
    snapshot_key: tuple | None = None
    snapshot: EpochSnapshot | None = None
    outcome: RunOutcome | None = None


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


def take_snapshot(trainer) -> EpochSnapshot:
    """Read ``trainer`` once for this epoch; later calls in the same event return the cached snapshot."""
    state = run_state(trainer)
    # on_train_epoch_end fires for every training epoch; the final evaluation of best.pt fires only on_fit_epoch_end.
    is_final = state.last_train_epoch is not None and trainer.epoch != state.last_train_epoch
    # epoch_time changes between on_model_save and on_fit_epoch_end of the same epoch: part of the key
    key = (id(trainer), trainer.epoch, is_final, to_float(trainer.fitness), to_float(getattr(trainer, "epoch_time", None)))
    if state.snapshot_key == key and state.snapshot is not None:
        return state.snapshot
    metrics_all = trainer.metrics or {}
    fitness = to_float(trainer.fitness)
    best = to_float(trainer.best_fitness)
    stopper = getattr(trainer, "stopper", None)
    best_epoch = getattr(stopper, "best_epoch", None) if stopper is not None else None
    train_losses = _floats(trainer.label_loss_items(trainer.tloss)) if trainer.tloss is not None else {}
    snap = EpochSnapshot(
        epoch=trainer.epoch + (0 if is_final else 1),
        epochs=int(trainer.epochs),
        is_final_eval=is_final,
        fitness=fitness,
        best_fitness=best,
        best_epoch=int(best_epoch) if best_epoch is not None and best is not None else None,
        is_best=(not is_final) and fitness is not None and best is not None and fitness == best,
        metrics=_floats(metrics_all, exclude="val/"),
        val_losses={} if is_final else _floats(metrics_all, prefix="val/"),
        train_losses=train_losses,
        lr=_floats(getattr(trainer, "lr", None)),
        epoch_time=to_float(getattr(trainer, "epoch_time", None)),
        elapsed=time.time() - getattr(trainer, "train_time_start", state.train_start),
        start_epoch=int(getattr(trainer, "start_epoch", 0)),
        stop=bool(getattr(trainer, "stop", False)),
        task=str(getattr(trainer.args, "task", "detect")),
        save_dir=Path(trainer.save_dir),
        best_path=Path(getattr(trainer, "best", Path(trainer.save_dir) / "weights" / "best.pt")),
        last_path=Path(getattr(trainer, "last", Path(trainer.save_dir) / "weights" / "last.pt")),
    )
    state.snapshot_key, state.snapshot = key, snap
    return snap


def take_outcome(trainer) -> RunOutcome:
    """How the run ended; call it from ``teardown`` (the exception being propagated is still in ``sys.exc_info``)."""
    exc_type, exc, _ = sys.exc_info()
    epoch = getattr(trainer, "epoch", None)
    epochs = getattr(trainer, "epochs", None)
    epoch1 = epoch + 1 if isinstance(epoch, int) else None
    if exc_type is not None and issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
        return RunOutcome("interrupted", exc_type.__name__, str(exc), epoch1, epochs)
    if exc_type is not None:
        return RunOutcome("crashed", exc_type.__name__, str(exc), epoch1, epochs)
    early = bool(getattr(trainer, "stop", False)) and epoch1 is not None and epochs is not None and epoch1 < epochs
    return RunOutcome("stopped_early" if early else "finished", None, None, epoch1, epochs)


def _results_rows(save_dir: str | Path) -> dict[int, dict[str, str]]:
    """results.csv rows by 1-based epoch (the last row of an epoch wins); empty when the file cannot be read."""
    import csv

    rows: dict[int, dict[str, str]] = {}
    try:
        with open(Path(save_dir) / "results.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                row = {k.strip(): v for k, v in row.items() if k}
                try:
                    rows[int(float(row["epoch"]))] = row
                except (KeyError, TypeError, ValueError):
                    continue
    except OSError:
        pass
    return rows


def recorded_epoch_values(trainer, epoch: int) -> dict[str, float | None] | None:
    """What the run recorded for completed 1-based ``epoch``: its ``results.csv`` row plus ``fitness`` from last.pt.

    On ``resume=True`` a hook's state can be one epoch behind last.pt (the process died after Ultralytics wrote
    last.pt and before the hook saved its state); this lets the hook catch up on that epoch. Keys and totals are
    those of :meth:`EpochSnapshot.values`. None when the epoch is not on disk; ``fitness`` is None unless the
    epoch is the one in last.pt.
    """
    row = _results_rows(trainer.save_dir).get(epoch)
    if row is None:
        return None
    values: dict[str, float | None] = {k: to_float(v) for k, v in row.items() if k not in {"epoch", "time"}}
    values["fitness"] = None
    if epoch == int(getattr(trainer, "start_epoch", 0) or 0):  # last.pt holds this epoch: read its fitness
        try:
            import torch

            ckpt = torch.load(Path(trainer.last), map_location="cpu", weights_only=False)
            if ckpt.get("epoch", -2) + 1 == epoch:
                values["fitness"] = to_float((ckpt.get("train_metrics") or {}).get("fitness"))
        except Exception:  # no last.pt, or unreadable: fitness stays unknown
            pass
    val = [v for k, v in values.items() if k.startswith("val/") and v is not None]
    train = [v for k, v in values.items() if k.startswith("train/") and v is not None]
    values["val/loss"] = sum(val) if val else None
    values["train/loss"] = sum(train) if train else None
    return values


def recorded_times(save_dir: Path) -> dict[int, float]:
    """results.csv's ``time`` by epoch (the last row of an epoch wins): seconds from the training start of the
    process that ran the epoch to just before it wrote last.pt. Empty when the file cannot be read."""
    times: dict[int, float] = {}
    for epoch, row in _results_rows(save_dir).items():
        value = to_float(row.get("time"))
        if value is not None:
            times[epoch] = value
    return times


def recorded_snapshot(trainer, epoch: int, values: dict[str, float | None],
                      best: tuple[float | None, int | None] = (None, None)) -> EpochSnapshot:
    """The :class:`EpochSnapshot` of completed ``epoch`` rebuilt from what the run recorded (``values`` of
    :func:`~yolo_hooks.core.run.recorded_epoch_values`), for a hook catching up on an epoch it missed.

    Best fitness and best epoch: the trainer's own for the epoch in last.pt (restored from it on resume), else
    ``best`` (what the caller knows from the epoch before). Times are estimates from results.csv's ``time``
    column, which Ultralytics takes just before writing last.pt: ``elapsed`` is the epoch's ``time``;
    ``epoch_time`` the difference to the row before when that one is smaller (same process), else the whole
    ``time`` (the epoch was its process' first). Off by about one checkpoint save; and wrong when a resumed
    process' first epoch outlasted the whole training of the process before it. ``time`` is the rebuild's.
    None of it (nor ``elapsed`` 0.0) when results.csv has no time for the epoch.
    """
    def only(prefix: str, total: str) -> dict[str, float]:
        parts = {k: v for k, v in values.items() if k.startswith(prefix) and k != total and v is not None}
        return parts or ({total: values[total]} if values.get(total) is not None else {})

    best_fitness, best_epoch = best
    if epoch == int(getattr(trainer, "start_epoch", 0) or 0):  # last.pt holds this epoch's best bookkeeping
        best_fitness = to_float(getattr(trainer, "best_fitness", None))
        stopper_epoch = getattr(getattr(trainer, "stopper", None), "best_epoch", None)
        best_epoch = int(stopper_epoch) if stopper_epoch is not None and best_fitness is not None else None
    times = recorded_times(trainer.save_dir)
    elapsed, before = times.get(epoch), times.get(epoch - 1)
    epoch_time = elapsed
    if elapsed is not None and before is not None and before < elapsed:  # the row before is of the same process
        epoch_time = elapsed - before
    fitness = values.get("fitness")
    save_dir = Path(trainer.save_dir)
    return EpochSnapshot(
        epoch=epoch,
        epochs=int(trainer.epochs),
        is_final_eval=False,
        fitness=fitness,
        best_fitness=best_fitness,
        best_epoch=best_epoch,
        is_best=fitness is not None and fitness == best_fitness,
        metrics={k: v for k, v in values.items() if k.startswith("metrics/") and v is not None},
        val_losses=only("val/", "val/loss"),
        train_losses=only("train/", "train/loss"),
        lr={k: v for k, v in values.items() if k.startswith("lr/") and v is not None},
        epoch_time=epoch_time,
        elapsed=elapsed or 0.0,
        start_epoch=int(getattr(trainer, "start_epoch", 0) or 0),
        stop=False,
        task=str(getattr(trainer.args, "task", "detect")),
        save_dir=save_dir,
        best_path=Path(getattr(trainer, "best", save_dir / "weights" / "best.pt")),
        last_path=Path(getattr(trainer, "last", save_dir / "weights" / "last.pt")),
    )


