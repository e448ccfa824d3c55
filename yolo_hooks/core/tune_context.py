"""Which ``model.tune()`` iteration this process is, if any: every message of an iteration names it.

The tuning process (:mod:`yolo_hooks.env.tune`) sets ``YOLO_HOOKS_TUNE`` for the iterations it starts; an iteration
counts the records the tuner has appended so far to know its own number.

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

TUNE_ENV = "YOLO_HOOKS_TUNE"  # set by the tuning process for its iterations: {"dir", "results", "iterations"}
RESULTS_FILE = "tune_results.ndjson"  # what Ultralytics' Tuner appends one record per iteration to


def iteration_context() -> dict[str, Any] | None:
    """``{"dir", "iterations", "iteration"}`` when this process is an iteration of a tune, else None.

    The iteration number is one more than the records in the results file: the tuner appends a record only after
    the iteration's subprocess has ended.
    """
    raw = os.environ.get(TUNE_ENV)
    if not raw:
        return None
    try:
        context = json.loads(raw)
        tune_dir = Path(context["dir"])
        results = Path(context.get("results") or tune_dir / RESULTS_FILE)
    except (ValueError, KeyError, TypeError):
        return None
    return {"dir": str(tune_dir), "iterations": context.get("iterations"), "iteration": len(read_jsonl(results)) + 1}


def iteration_label() -> str:
    """``"tune iteration 2/300"`` in an iteration of a tune, else ``""`` (shown in every notification title)."""
    context = iteration_context()
    if context is None:
        return ""
    total = f"/{context['iterations']}" if context.get("iterations") else ""
    return f"tune iteration {context['iteration']}{total}"
