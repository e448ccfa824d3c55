"""Small, careful file writes: atomic replace for state and summaries, flushed appends for per-epoch records."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from .redact import scrub


def atomic_write_text(path: str | Path, text: str, fsync: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``: readers see old or new, never half.

    ``fsync=False`` still survives a killed process (the page cache is the kernel's), not a power cut; the run
    marker and summaries use it (per-epoch state: :func:`rewrite_json_text`). The temporary file is
    ``.<name>.<pid>-<thread>.tmp`` beside ``path``: unique per writer without ``tempfile.mkstemp``'s name search
    (40 % of a state file's write), and the folder is created only when the first open finds it missing.
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


PAGE = 4096  # one page of the page cache: a write within it is never left half done by a killed process
# Held around rewrite_json_text's write and read_json_text's read: a read that ran while a rewrite copied its bytes
# into the page could see some of each version and still parse (measured: a thread reading in a loop did).
_REWRITE = threading.Lock()


def rewrite_json_text(path: str | Path, text: str) -> None:
    """Replace the JSON ``text`` of a small file that is rewritten often (a hook's state, every epoch): in place.

    One ``pwrite`` at offset 0, padded with spaces (JSON whitespace) to the file's length, so the file never
    shrinks and never holds a torn tail; a write within the first page is done whole or not at all when the process
    is killed. That is 5 µs instead of the ~200 µs an ``atomic_write_text`` costs on ext4 (a new inode, then a
    rename over the old one, which makes ext4 start writing the new file back at once). A file that does not exist
    yet (or cannot be opened for writing), text over one page, a short write and systems without ``os.pwrite``
    (Windows) go through :func:`atomic_write_text`, so a reader never sees a file half created. Like
    ``atomic_write_text(fsync=False)``, the result survives a killed process, not a power cut. A reader in this
    process uses :func:`read_json_text`, which never reads during the write; these files are read by other
    processes once the run is over (a resume).
    """
    data = text.encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY) if hasattr(os, "pwrite") else None  # no pwrite on Windows
    except OSError:  # missing (or read-only: a rename replaces it, as it always did)
        fd = None
    if fd is None:
        atomic_write_text(path, text, fsync=False)
        return
    try:
        size = os.fstat(fd).st_size
        if max(size, len(data)) <= PAGE:
            padded = data + b" " * (size - len(data))
            with _REWRITE:
                written = os.pwrite(fd, padded, 0)
            if written == len(padded):
                return
    finally:
        os.close(fd)
    atomic_write_text(path, text, fsync=False)


def read_json_text(path: str | Path) -> bytes | None:
    """The bytes of JSON file ``path`` during a run, never read while :func:`rewrite_json_text` writes it; None
    when it is missing or does not parse."""
    try:
        with _REWRITE:
            data = Path(path).read_bytes()
        json.loads(data)
    except (OSError, ValueError):
        return None
    return data


def atomic_write_json(path: str | Path, data: Any, fsync: bool = True) -> None:
    """``atomic_write_text`` of ``data`` as indented JSON (NaN/Infinity kept, so state round-trips exactly), scrubbed
    of every secret this process knows (a summary's error may quote an exception that quoted a token)."""
    atomic_write_text(path, scrub(json.dumps(data, indent=2, default=str, allow_nan=True)) + "\n", fsync=fsync)


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
