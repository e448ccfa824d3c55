"""The small files that make a run resumable elsewhere, published with ``last.pt`` in its resume set under ``run/``.

``args.yaml`` and ``results.csv`` (Ultralytics'), ``fitness.csv`` / ``fitness.jsonl`` (the fitness report's record,
which is its resume state) and every hook's ``weights/<name>.state.json``. They are read by :func:`capture` on the
bus' writer thread, in order with every hook's state writes, once every hook has written its state of the epoch
(see :class:`~yolo_hooks.mirror.hook.BestMirror`): the files of one set describe the epoch of its last.pt, never a
later one (results.csv, which Ultralytics appends to itself, is cut to that epoch).

Examples:
    >>> [name for _, name in run_files("/nonexistent")]
    []
"""

from __future__ import annotations

from pathlib import Path

from ..core.files import read_json_text
from .resume_set import cut_results

PREFIX = "run/"
TOP_LEVEL = ("args.yaml", "results.csv", "fitness.csv", "fitness.jsonl")


def run_files(save_dir: str | Path) -> list[tuple[Path, str]]:
    """``(local path, name in the set)`` of every run file present now."""
    save_dir = Path(save_dir)
    found = [(save_dir / name, PREFIX + name) for name in TOP_LEVEL if (save_dir / name).is_file()]
    weights = save_dir / "weights"
    if weights.is_dir():
        found += [(p, f"{PREFIX}weights/{p.name}") for p in sorted(weights.glob("*.state.json")) if p.is_file()]
    return found


def capture(save_dir: str | Path, epoch: int) -> list[tuple[str, bytes]]:
    """``(name in the set, bytes)`` of every run file as it is now, results.csv cut to epochs ``1..epoch``.

    Call it on the bus' writer thread (state files are rewritten in place there, so none is read mid-write).
    """
    captured = []
    for path, name in run_files(save_dir):
        if name.endswith(".state.json"):  # never read while its writer rewrites it; None when it does not parse
            data = read_json_text(path)
        else:
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # replaced by its writer meanwhile (atomic rename)
                data = None
        if data is None:
            continue
        if name == PREFIX + "results.csv":
            data = cut_results(data, epoch)
        captured.append((name, data))
    return captured
