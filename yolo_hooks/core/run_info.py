"""Where a run comes from: its name and folder, model, data, device, host and versions, read once from a trainer
(or validator / predictor / exporter). Notifications show it; mirror sidecars record it.

Examples:
    >>> from types import SimpleNamespace
    >>> job = SimpleNamespace(save_dir="runs/detect/train7", args=SimpleNamespace(model="yolo11n.pt", data=""))
    >>> {k: v for k, v in run_info(job).items() if k != "host"}
    {'name': 'train7', 'save_dir': 'runs/detect/train7', 'model': 'yolo11n.pt'}
"""

from __future__ import annotations

import functools
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any

from .tune_context import iteration_label

HOST = socket.gethostname()


def run_info(job: Any) -> dict[str, str]:
    """Name, folder, model, data, device and host of ``job``, as strings; empty ones left out."""
    args = getattr(job, "args", None)
    save_dir = getattr(job, "save_dir", None)
    device = getattr(job, "device", None) or getattr(args, "device", None)
    info = {
        "name": Path(save_dir).name if save_dir else "",
        "save_dir": str(save_dir) if save_dir else "",
        "model": _short(getattr(args, "model", None)),
        "data": _short(getattr(args, "data", None)),
        "device": str(device) if device not in (None, "") else "",
        "host": HOST,
        "tune": iteration_label(),  # "tune iteration 2/300" in a model.tune() iteration
    }
    return {k: v for k, v in info.items() if v}


def versions() -> dict[str, str]:
    """Python's, torch's (once imported), Ultralytics' and our version: what a sidecar, a crash report and a
    recovery record say the run ran on."""
    torch = sys.modules.get("torch")
    out = {"python": platform.python_version(), "torch": str(getattr(torch, "__version__", "") if torch else ""),
           **_fixed_versions()}
    return {k: v for k, v in out.items() if v}


@functools.lru_cache(maxsize=1)
def _fixed_versions() -> dict[str, str]:
    from ultralytics import __version__ as ultralytics_version

    from .._version import __version__

    return {"ultralytics": ultralytics_version, "yolo_hooks": __version__}


def _short(value: Any) -> str:
    """A model / data path as the user wrote it, or just its file name when it is a long absolute path."""
    if value in (None, ""):
        return ""
    text = str(value)
    return Path(text).name if len(text) > 60 else text


def process_alive(pid: Any) -> bool:
    """True when process ``pid`` exists on this machine (this process included)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True
