"""``yolo_hooks_run.json``: a small file in the run folder that says which process runs it and how it ended.

Written when training starts (status ``running``, pid, host, what hooks want kept: see ``Hook.marker_facts``), when
its end-of-run work starts (status ``ending``, with the ``outcome``: in ``teardown``, before the uploads and
deliveries are waited for) and when that work is done (the outcome as status). A marker still saying ``running`` or
``ending`` whose process is gone is a run that was killed (SIGKILL, OOM killer, preempted VM), during its epochs or
during its end: :mod:`yolo_hooks.recovery.recover` finishes its work. The file holds no secret.

Examples:
    >>> marker = {"status": "running", "host": "other-host", "pid": 1}
    >>> is_killed(marker)  # another machine's process cannot be checked from here
    False
    >>> is_killed(marker, force=True)
    True
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .files import atomic_write_json, read_json
from .run import run_state
from .run_info import process_alive

MARKER = "yolo_hooks_run.json"
ENDING = "ending"  # training is over; its end-of-run work (uploads, deliveries) is under way


def marker_path(run_dir: str | Path) -> Path:
    """Where the marker of ``run_dir`` lives."""
    return Path(run_dir) / MARKER


def read(run_dir: str | Path) -> dict[str, Any] | None:
    """The marker of ``run_dir``, or None when there is none (or it cannot be read)."""
    marker = read_json(marker_path(run_dir))
    return marker if isinstance(marker, dict) else None


def write(run_dir: str | Path, marker: dict[str, Any]) -> None:
    """Replace the marker atomically (no fsync: it must survive a killed process, not a power cut)."""
    atomic_write_json(marker_path(run_dir), marker, fsync=False)


def run_id_for(run_dir: str | Path, resume: bool) -> str:
    """The run's identity, from which message ids are derived: on ``resume=True`` the one of the run it continues
    (read back from its marker), so a message re-sent after the resume keeps its id; else a new one."""
    previous = (read(run_dir) or {}) if resume else {}
    run_id = previous.get("run_id")
    return run_id if isinstance(run_id, str) and run_id else uuid.uuid4().hex


def started(trainer: Any, hooks: list, run_id: str | None = None) -> dict[str, Any]:
    """Mark the run as running in this process, under ``run_id`` (default: :func:`run_id_for` the trainer)."""
    save_dir = Path(trainer.save_dir)
    marker = {
        "v": 1,
        "run_id": run_id or run_id_for(save_dir, bool(getattr(trainer.args, "resume", False))),
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": time.time(),
        # Ultralytics' start of training, and the training time of the processes a resumed run goes on from: a
        # recovery's measure of the run's duration (see core.run.run_duration)
        "train_start": getattr(trainer, "train_time_start", None),
        "time_before": run_state(trainer).time_before,
        "epochs": int(getattr(trainer, "epochs", 0) or 0),
        "start_epoch": int(getattr(trainer, "start_epoch", 0) or 0),
        "name": save_dir.name,
        "notify": [],
        "mirrors": [],
        "recovery": {},
    }
    for hook in hooks:  # what each hook wants a later recovery to know (notify: its destination; mirrors: names)
        for key, value in (hook.call_guarded("marker_facts") or {}).items():
            marker.setdefault(key, []).append(value)
    write(save_dir, marker)
    return marker


def ending(trainer: Any, outcome: str) -> None:
    """Mark the run's end-of-run work as started: training is over with ``outcome`` (finished, stopped_early,
    crashed, interrupted), its uploads and deliveries are being waited for."""
    _update(trainer, status=ENDING, outcome=outcome, ending=time.time())


def ended(trainer: Any, status: str) -> None:
    """Mark the run as ended with ``status`` (finished, stopped_early, crashed, interrupted): its end-of-run work
    is done."""
    _update(trainer, status=status, ended=time.time())


def _update(trainer: Any, **fields: Any) -> None:
    save_dir = Path(trainer.save_dir)
    marker = read(save_dir)
    if marker is None or marker.get("pid") != os.getpid():
        return
    marker.update(fields)
    write(save_dir, marker)


def is_killed(marker: dict[str, Any] | None, force: bool = False) -> bool:
    """True when the marker says ``running`` or ``ending`` (or ``killed``, being recovered) but its process is gone.

    A process of another host cannot be checked: only ``force`` says it is gone (a folder copied from a dead VM).
    """
    if not marker or marker.get("status") not in {"running", ENDING, "killed"}:
        return False
    if marker.get("status") == "killed" or force:
        return True
    if marker.get("host") != socket.gethostname():
        return False
    return not process_alive(marker.get("pid"))


