"""The small files that make a run resumable elsewhere, mirrored with ``last.pt`` under ``run/``.

``args.yaml`` and ``results.csv`` (Ultralytics'), ``fitness.csv`` / ``fitness.jsonl`` (the fitness report's record,
which is its resume state) and every hook's ``weights/<name>.state.json``. They are read when the upload runs (on
the store's thread), so they may be an epoch behind or ahead of last.pt: a resume brings hooks up to date
from results.csv (see :class:`yolo_hooks.core.lifecycle.RunTracker`) and cuts records past last.pt.

Examples:
    >>> [name for _, name in run_files("/nonexistent")]
    []
"""

from __future__ import annotations

from pathlib import Path

PREFIX = "run/"
TOP_LEVEL = ("args.yaml", "results.csv", "fitness.csv", "fitness.jsonl")


def run_files(save_dir: str | Path) -> list[tuple[Path, str]]:
    """``(local path, name in the store)`` of every run file present now."""
    save_dir = Path(save_dir)
    found = [(save_dir / name, PREFIX + name) for name in TOP_LEVEL if (save_dir / name).is_file()]
    weights = save_dir / "weights"
    if weights.is_dir():
        found += [(p, f"{PREFIX}weights/{p.name}") for p in sorted(weights.glob("*.state.json")) if p.is_file()]
    return found
