"""Pure parts of the fitness report: the per-epoch record, the console line, the end-of-run summary, and which
records a resumed run keeps. The files they go to are :mod:`yolo_hooks.fitness.files`.

Everything here works on plain dicts and writes nothing, so the rules (deltas, ETA, best epoch, resume cut) are
tested by tables.

Examples:
    >>> rec = build_record(snap, previous=None, epoch_times=[2.0], time_offset=0.0)  # doctest: +SKIP
    >>> format_line(rec, colour=False)  # doctest: +SKIP
    'epoch 1/3  fitness 0.0123 ★ new best  P 0.51 R 0.33 mAP50 0.12 mAP50-95 0.012 ...'
"""

from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, Iterable

from ..core.colour import paint
from ..core.numbers import format_duration

# How each end status reads in the log and in the summary's ``reason``.
END_REASONS = {
    "finished": "finished all epochs",
    "stopped_early": "stopped early",
    "crashed": "crashed",
    "interrupted": "interrupted",
    "killed": "killed",
}

# Short console names for common metric words; keys themselves always come from the trainer.
_SHORT = (("precision", "P"), ("recall", "R"), ("accuracy_top1", "top1"), ("accuracy_top5", "top5"))
_SUFFIX = re.compile(r"(\([A-Z]\))$")


# --- the record ---------------------------------------------------------------------------------------------------
def _clean(value: Any) -> Any:
    """Non-finite floats become None (JSON has no NaN); everything else is kept."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def eta_seconds(epoch_times: list[float], epoch: int, epochs: int) -> float | None:
    """Mean epoch time x epochs left; None before the first timed epoch."""
    times = [t for t in epoch_times if t is not None and math.isfinite(t)]
    if not times:
        return None
    return sum(times) / len(times) * max(epochs - epoch, 0)


def build_record(snap, previous: dict | None, epoch_times: list[float], time_offset: float = 0.0) -> dict[str, Any]:
    """One training epoch as a flat dict: the snapshot's numbers plus deltas, best bookkeeping and ETA.

    Args:
        snap: this epoch's :class:`~yolo_hooks.core.run.EpochSnapshot` (not the final evaluation).
        previous: the previous epoch's record (None for the first epoch of the run).
        epoch_times: durations of every epoch recorded so far, this one included (drives the ETA).
        time_offset: training seconds spent before a resume (so ``total_time`` spans the whole run).
    """
    fitness, best = snap.fitness, snap.best_fitness
    prev_fitness = previous.get("fitness") if previous else None
    prev_best = previous.get("best_fitness") if previous else None
    best_epoch = snap.best_epoch if snap.best_epoch else (snap.epoch if snap.is_best else None)
    rec: dict[str, Any] = {
        "epoch": snap.epoch,
        "epochs": snap.epochs,
        "phase": "train",
        "fitness": fitness,
        "best_fitness": best,
        "best_epoch": best_epoch,
        "is_best": snap.is_best,  # Ultralytics' rule: best.pt was written this epoch (ties included)
        "improved": fitness is not None and (prev_best is None or fitness > prev_best),
        "delta_prev": None if fitness is None or prev_fitness is None else fitness - prev_fitness,
        "delta_best": None if fitness is None or prev_best is None else fitness - prev_best,
        "epochs_since_best": None if best_epoch is None else snap.epoch - best_epoch,
    }
    rec.update(snap.train_losses)
    rec.update(snap.metrics)
    rec.update(snap.val_losses)
    rec.update(snap.lr)
    rec["train/loss"] = snap.train_loss_total
    rec["val/loss"] = snap.val_loss_total
    rec["epoch_time"] = snap.epoch_time
    rec["elapsed"] = snap.elapsed
    rec["total_time"] = time_offset + snap.elapsed
    rec["eta"] = eta_seconds(epoch_times, snap.epoch, snap.epochs)
    return {k: _clean(v) for k, v in rec.items()}


def build_final_record(snap, fitness: float | None) -> dict[str, Any]:
    """The evaluation of best.pt that Ultralytics runs after the last epoch: metrics only, ``phase='final'``."""
    rec = {"epoch": snap.epoch, "epochs": snap.epochs, "phase": "final", "weights": str(snap.best_path),
           "fitness": fitness, "best_epoch": snap.best_epoch}
    rec.update(snap.metrics)
    rec["total_time"] = snap.elapsed
    return {k: _clean(v) for k, v in rec.items()}


# --- the console line ---------------------------------------------------------------------------------------------
def short_name(key: str, drop_suffix: bool) -> str:
    """``metrics/precision(B)`` -> ``P`` (or ``P(B)`` when several suffixes are shown side by side)."""
    name = key.split("/", 1)[-1]
    if drop_suffix:
        name = _SUFFIX.sub("", name)
    for word, short in _SHORT:
        if name.startswith(word):
            name = short + name[len(word):]
    return name


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.4f}"


def metric_keys(record: dict[str, Any]) -> list[str]:
    """The ``metrics/*`` keys of a record, in the trainer's order."""
    return [k for k in record if k.startswith("metrics/")]


@lru_cache(maxsize=32)
def short_names(keys: tuple[str, ...]) -> tuple[str, ...]:
    """Console names for a run's metric keys; the ``(B)``-style suffix is dropped when all keys share it.

    Cached: the key set is the same every epoch, and this is on the training thread.
    """
    suffixes = {m.group(1) for k in keys if (m := _SUFFIX.search(k))}
    return tuple(short_name(k, len(suffixes) <= 1) for k in keys)


def format_line(record: dict[str, Any], colour: bool) -> str:
    """One compact console line for a training epoch record."""
    keys = tuple(metric_keys(record))
    metrics = " ".join(f"{name} {_num(record[k], 3)}" for name, k in zip(short_names(keys), keys))
    if record.get("improved"):
        marker = " " + paint("★ new best", colour, "green", "bold")
    elif record.get("is_best"):
        marker = " " + paint("= best (tie)", colour, "green")
    else:
        since = record.get("epochs_since_best")
        marker = (f" (best {_num(record.get('best_fitness'))} @{record.get('best_epoch')}, "
                  f"{_signed(record.get('delta_best'))}, {since} ep w/o gain)")
    lrs = [record[k] for k in record if k.startswith("lr/")]
    lr = "-" if not lrs else f"{lrs[0]:.3g}" if len(set(lrs)) == 1 else "/".join(f"{x:.3g}" for x in lrs)
    parts = [
        paint(f"epoch {record['epoch']}/{record['epochs']}", colour, "bold"),
        f"fitness {paint(_num(record.get('fitness')), colour, 'bold')} ({_signed(record.get('delta_prev'))}){marker}",
        metrics,
        f"loss {_num(record.get('train/loss'), 3)}/{_num(record.get('val/loss'), 3)}",
        f"lr {lr}",
        f"{format_duration(record.get('epoch_time'))}/ep",
        f"ETA {format_duration(record.get('eta'))}",
    ]
    return "  ".join(p for p in parts if p)


# --- the summary --------------------------------------------------------------------------------------------------
def build_summary(records: list[dict], final: dict | None, outcome, *, save_dir: str, files: dict[str, str],
                  resumed_from: int | None = None) -> dict[str, Any]:
    """End-of-run summary from the epoch records, the final evaluation record and the run's outcome."""
    best = None
    if records:
        best_epoch = records[-1].get("best_epoch")
        best = next((r for r in reversed(records) if r["epoch"] == best_epoch), None)
        if best is None:  # no trainer best epoch: highest fitness, latest on ties (Ultralytics' rule)
            scored = [r for r in records if r.get("fitness") is not None]
            best = max(reversed(scored), key=lambda r: r["fitness"]) if scored else None
    times = [r["epoch_time"] for r in records if r.get("epoch_time") is not None]
    status = getattr(outcome, "status", "finished")
    return {
        "status": status,
        "reason": END_REASONS.get(status, status),
        "error": None if not getattr(outcome, "exc_type", None) else f"{outcome.exc_type}: {outcome.message}",
        "epochs_run": len(records),
        "epochs": records[-1]["epochs"] if records else getattr(outcome, "epochs", None),
        "last_epoch": records[-1]["epoch"] if records else None,
        "resumed_from": resumed_from,
        "best_epoch": best["epoch"] if best else None,
        "best_fitness": best["fitness"] if best else None,
        "best_metrics": {k: best[k] for k in metric_keys(best)} if best else {},
        "final_eval": final,
        "duration": getattr(outcome, "duration", None),  # the run's (core.run.run_duration), as train_end says it
        "mean_epoch_time": sum(times) / len(times) if times else None,
        "save_dir": save_dir,
        "files": files,
    }


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as a few log lines."""
    names = short_names(tuple(summary["best_metrics"]))  # (B)/(M)/(P) kept when the run has several
    best_metrics = " ".join(f"{name} {_num(v, 3)}" for name, v in zip(names, summary["best_metrics"].values()))
    lines = [
        f"training {summary['reason']} after {summary['epochs_run']} epoch(s) "
        f"(last {summary['last_epoch']}/{summary['epochs']}) in {format_duration(summary['duration'])}",
        f"best epoch {summary['best_epoch']}: fitness {_num(summary['best_fitness'])}  {best_metrics}".rstrip(),
    ]
    if summary.get("error"):
        lines.append(f"error: {summary['error']}")
    if summary.get("files"):
        lines.append("saved " + ", ".join(summary["files"].values()))
    return "\n".join(lines)


# --- resume ------------------------------------------------------------------------------------------------------
def keep_for_resume(records: Iterable[dict], start_epoch: int) -> list[dict]:
    """Training records of epochs ``1..start_epoch`` (the completed ones in last.pt), each epoch once (last wins).

    Rows of later epochs (written after last.pt was saved, or by a run resumed from an older last.pt) and the
    final evaluation of an earlier run are dropped, so the resumed run neither duplicates nor loses an epoch.
    """
    by_epoch: dict[int, dict] = {}
    for rec in records:
        if rec.get("phase", "train") == "train" and 1 <= rec["epoch"] <= start_epoch:
            by_epoch[rec["epoch"]] = rec
    return [by_epoch[e] for e in sorted(by_epoch)]
