"""The ``best.json`` written next to a mirrored checkpoint (and a resume set's manifest): what it is, how to check it.

Examples:
    >>> doc = sidecar("best.pt", "best", FileCheck(3, "ab" * 32), {"epoch": 2, "fitness": 0.5}, ["best-epoch002.pt"])
    >>> doc["file"], doc["sha256"][:4], doc["size"], doc["epoch"]
    ('best.pt', 'abab', 3, 2)
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from ..core.run_info import versions as _versions
from .checks import FileCheck


def sidecar(name: str, kind: str, check: FileCheck, info: dict[str, Any], versions: list[str]) -> dict[str, Any]:
    """The sidecar document of mirrored file ``name``.

    ``info`` carries the source path, epoch, fitness, metrics and :func:`~yolo_hooks.core.run_info.run_info`'s
    fields; ``versions`` lists the versioned copies kept in the store, oldest first. Ultralytics' and our
    version are added here.
    """
    return {
        "file": name,
        "kind": kind,
        "sha256": check.sha256,
        "size": check.size,
        **info,
        **{f"{tool}_version": version for tool, version in _versions().items()},
        "versions": list(versions),
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def encode(doc: dict[str, Any]) -> bytes:
    """UTF-8 JSON (NaN kept as ``NaN``: a random-init run has NaN-free but 0.0 metrics; losses may be NaN)."""
    return (json.dumps(doc, indent=2, default=str) + "\n").encode("utf-8")
