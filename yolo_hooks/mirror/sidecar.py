"""The ``best.json`` / ``last.json`` written next to a mirrored checkpoint: what it is, and how to check it.

Examples:
    >>> doc = sidecar("best.pt", "best", FileCheck(3, "ab" * 32), {"epoch": 2, "fitness": 0.5}, ["best-epoch002.pt"])
    >>> doc["file"], doc["sha256"][:4], doc["size"], doc["epoch"]
    ('best.pt', 'abab', 3, 2)
"""

from __future__ import annotations

import functools
import json
import socket
from datetime import datetime, timezone
from typing import Any

from .destinations import FileCheck


def run_info(trainer_or_exporter: Any, source: str) -> dict[str, Any]:
    """What every sidecar says about where a file came from (computed on the training thread, cheaply)."""
    save_dir = getattr(trainer_or_exporter, "save_dir", None)
    return {
        "source": source,
        "run": None if save_dir is None else str(getattr(save_dir, "name", save_dir)),
        "save_dir": None if save_dir is None else str(save_dir),
        **_process_info(),
    }


@functools.lru_cache(maxsize=1)
def _process_info() -> dict[str, str]:
    """Host and versions: the same for the whole process, so looked up once (no syscall per new best)."""
    from ultralytics import __version__ as ultralytics_version

    from .. import __version__

    return {"host": socket.gethostname(), "ultralytics_version": ultralytics_version, "yolo_hooks_version": __version__}


def sidecar(name: str, kind: str, check: FileCheck, info: dict[str, Any], versions: list[str]) -> dict[str, Any]:
    """The sidecar document of mirrored file ``name``.

    ``info`` carries epoch, fitness, metrics and :func:`run_info`'s fields; ``versions`` lists the versioned
    copies kept in the destination, oldest first.
    """
    return {
        "file": name,
        "kind": kind,
        "sha256": check.sha256,
        "size": check.size,
        **info,
        "versions": list(versions),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def encode(doc: dict[str, Any]) -> bytes:
    """UTF-8 JSON (NaN kept as ``NaN``: a random-init run has NaN-free but 0.0 metrics; losses may be NaN)."""
    return (json.dumps(doc, indent=2, default=str) + "\n").encode("utf-8")
