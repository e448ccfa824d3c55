"""Which ``model.tune()`` iteration (or Ray Tune trial) this process is, if any: every message of one names it.

The tuning process (:mod:`yolo_hooks.env.tune`) sets ``YOLO_HOOKS_TUNE`` for the iterations it starts; an iteration
counts the records the tuner has appended so far to know its own number. In a Ray Tune trial the trial sets it
itself (:mod:`yolo_hooks.env.ray_trial`), with ``"kind": "ray"`` and its number.

Examples:
    >>> import os; os.environ.pop(TUNE_ENV, None) and None
    >>> iteration_label()
    ''
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .files import read_jsonl

TUNE_ENV = "YOLO_HOOKS_TUNE"  # {"dir", "results", "iterations"}; a Ray trial's: {"kind": "ray", "trial", ...}
RESULTS_FILE = "tune_results.ndjson"  # what Ultralytics' Tuner appends one record per iteration to


def iteration_context() -> dict[str, Any] | None:
    """``{"dir", "iterations", "iteration"}`` when this process is an iteration of a tune, else None; a Ray Tune
    trial's also has ``"kind": "ray"``, its ``trial_id`` and ``trial_dir`` (Ray's folder of the trial).

    The iteration number is one more than the records in the results file: the tuner appends a record only after
    the iteration's subprocess has ended. A Ray trial's number is its trial id's index, plus one.
    """
    raw = os.environ.get(TUNE_ENV)
    if not raw:
        return None
    try:
        context = json.loads(raw)
        tune_dir = Path(context["dir"])
        if context.get("kind") == "ray":
            return {**context, "iteration": int(context["trial"])}
        results = Path(context.get("results") or tune_dir / RESULTS_FILE)
    except (ValueError, KeyError, TypeError):
        return None
    return {"dir": str(tune_dir), "iterations": context.get("iterations"), "iteration": len(read_jsonl(results)) + 1}


def iteration_label() -> str:
    """``"tune iteration 2/300"`` in an iteration of a tune, ``"Ray Tune trial 2/10"`` in a trial, else ``""``
    (shown in every notification title)."""
    context = iteration_context()
    if context is None:
        return ""
    total = f"/{context['iterations']}" if context.get("iterations") else ""
    what = "Ray Tune trial" if context.get("kind") == "ray" else "tune iteration"
    return f"{what} {context['iteration']}{total}"


def stopped_by_ray(exc_type: type | None) -> bool:
    """True for the ``SystemExit`` with which Ray Tune ends a trial's training from inside ``tune.report``: its
    scheduler (ASHA) stopping it early, and every trial at its last epoch (ASHA's ``max_t`` is the epochs)."""
    if exc_type is None or not issubclass(exc_type, SystemExit):
        return False
    context = iteration_context()
    return context is not None and context.get("kind") == "ray"
