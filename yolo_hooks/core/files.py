"""Small, careful file writes: atomic replace for state and summaries, flushed appends for per-epoch records."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any


def atomic_write_text(path: str | Path, text: str, fsync: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see old or new, never half.

    ``fsync=False`` still survives a killed process (the page cache is the kernel's), not a power cut; per-epoch
    state uses it. The temporary file is ``.<name>.<pid>-<thread>.tmp`` beside ``path``: unique per writer without
    ``tempfile.mkstemp``'s name search (40 % of a state file's write), and the folder is created only when the
    first open finds it missing.
    """
    path = os.fspath(path)
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}-{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(folder or ".", exist_ok=True)
        fd = os.open(tmp, flags, 0o644)
    try:
        try:
            data = memoryview(text.encode("utf-8"))
            while data:
                data = data[os.write(fd, data):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | Path, data: Any, fsync: bool = True) -> None:
    """``atomic_write_text`` of ``data`` as indented JSON (NaN/Infinity kept, so state round-trips exactly)."""
    atomic_write_text(path, json.dumps(data, indent=2, default=str, allow_nan=True) + "\n", fsync=fsync)


def append_line(path: str | Path, line: str, fsync: bool = False, make_dirs: bool = True) -> None:
    """Append one line with a single ``write`` call on an ``O_APPEND`` descriptor, then flush (optionally fsync).

    One ``write`` of a line on ``O_APPEND`` is not interleaved with other appenders' lines. The folder is created
    (``make_dirs``) only when the open finds it missing: most appends go to a folder that exists, and this runs on
    the training thread every epoch.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        if not make_dirs:
            raise
        os.makedirs(os.path.dirname(os.fspath(path)) or ".", exist_ok=True)
        fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: str | Path, default: Any = None) -> Any:
    """JSON content of ``path``, or ``default`` when it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def read_jsonl(path: str | Path) -> list[dict]:
    """Every JSON object line of ``path``; a missing file is empty, a torn line (a process killed mid-write) and
    anything that is not an object are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records
