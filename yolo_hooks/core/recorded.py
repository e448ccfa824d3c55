"""Past epochs rebuilt from what the run recorded on disk (results.csv and last.pt), for ``resume=True``.

A hook's saved state can be one epoch behind last.pt (the process died after Ultralytics wrote last.pt and before
the hook saved its state); these functions rebuild that epoch so the hook can ``catch_up``. The live, per-epoch
view of the trainer is :func:`yolo_hooks.core.run.take_snapshot`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .run import EpochSnapshot, to_float


def results_rows(save_dir: str | Path) -> dict[int, dict[str, str]]:
    """results.csv rows by 1-based epoch (the last row of an epoch wins); empty when the file cannot be read."""
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
    row = results_rows(trainer.save_dir).get(epoch)
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
    for epoch, row in results_rows(save_dir).items():
        value = to_float(row.get("time"))
        if value is not None:
            times[epoch] = value
    return times


def time_before(save_dir: str | Path, start_epoch: int) -> float:
    """Training time of the processes that ran epochs ``1..start_epoch`` (a resumed run goes on from them), as
    results.csv recorded it: its ``time`` restarts with each process, so the time of each process' last row, summed.
    0.0 for a fresh run."""
    times = recorded_times(Path(save_dir)) if start_epoch > 0 else {}
    total, previous = 0.0, None
    for epoch in sorted(e for e in times if e <= start_epoch):
        if previous is not None and times[epoch] < previous:  # a new process: the one before ended at `previous`
            total += previous
        previous = times[epoch]
    return total + (previous or 0.0)


def recorded_snapshot(trainer, epoch: int, values: dict[str, float | None],
                      best: tuple[float | None, int | None] = (None, None)) -> EpochSnapshot:
    """The :class:`EpochSnapshot` of completed ``epoch`` rebuilt from what the run recorded (``values`` of
    :func:`~yolo_hooks.core.recorded.recorded_epoch_values`), for a hook catching up on an epoch it missed.

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
