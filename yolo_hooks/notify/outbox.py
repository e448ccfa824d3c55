"""The durable outbox: one JSON line per undelivered message, appended atomically, no secret in it.

Each line holds the message (with its id, kept across retries and replays so receivers can drop duplicates), the
destination's non-secret identity (name, format, redacted target, a key hashed from format and URL), why it is
there and when it was written. Replay (:mod:`.replay`) re-reads the secrets from hooks.yaml and the environment, resends, and
rewrites the file without the delivered lines (atomically, under a lock that appenders take too, so a line
appended by a running training during a replay is never lost).

Examples:
    >>> records, bad = read("runs/detect/train/notify_outbox.jsonl")  # doctest: +SKIP
    >>> [r["message"]["title"] for r in records]  # doctest: +SKIP
    ['✅ Training finished — train']
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..core.files import append_line, atomic_write_text
from ..core.redact import scrub
from .message import Message

if TYPE_CHECKING:
    from .destination import Destination

OUTBOX_NAME = "notify_outbox.jsonl"  # in the run folder
FALLBACK_OUTBOX = "yolo_hooks_outbox.jsonl"  # in the working directory, for messages with no run folder (export)
VERSION = 1


def make_record(message: Message, destination: Destination, reason: str, attempts: int | None = None) -> dict:
    """One outbox line: message, destination identity (no secret), reason, attempts so far, time written."""
    return {
        "v": VERSION,
        "id": message.id,
        "destination": destination.as_dict(),
        "reason": reason,
        "attempts": attempts,
        "written": time.time(),
        "message": message.as_dict(),
    }


def record_key(record: dict) -> tuple[str, str]:
    """(destination key, message id): one message to one destination."""
    return (str((record.get("destination") or {}).get("key", "")), str(record.get("id", "")))


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<outbox>.lock`` (POSIX ``flock``; no lock where ``fcntl`` does not exist)."""
    try:
        import fcntl
    except ImportError:  # Windows: appends stay atomic, only replay-versus-append races are unguarded
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def append(path: str | Path, records: Iterable[dict], secrets: Iterable[str] = ()) -> None:
    """Append ``records`` in one ``O_APPEND`` write (fsynced), scrubbing any secret that slipped into a message."""
    path = Path(path)
    lines = [scrub(json.dumps(r, ensure_ascii=False, allow_nan=False), secrets) for r in records]
    if lines:
        with locked(path):
            if _ends_torn(path):  # a write cut short (power loss): start on a fresh line so this one stays readable
                lines.insert(0, "")
            append_line(path, "\n".join(lines), fsync=True)


def _ends_torn(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:  # missing or empty
        return False


def read(path: str | Path) -> tuple[list[dict], list[str]]:
    """``(records, unreadable lines)``; a torn last line (power cut mid-write) is reported, never fatal."""
    records, bad = [], []
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if isinstance(record, dict) and isinstance(record.get("message"), dict):
            records.append(record)
        else:
            bad.append(line)
    return records, bad


def find(root: str | Path) -> list[Path]:
    """Outbox files at ``root`` (a file) or anywhere below it (a folder), oldest first."""
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    found = [p for name in (OUTBOX_NAME, FALLBACK_OUTBOX) for p in root.rglob(name) if p.is_file()]
    return sorted(set(found), key=lambda p: (p.stat().st_mtime, str(p)))


def remove(path: str | Path, delivered: set[tuple[str, str]]) -> int:
    """Rewrite ``path`` atomically without the ``delivered`` (key, id) lines; returns how many lines remain.

    The file is re-read under the lock, so lines appended since the replay read it are kept.
    """
    path = Path(path)
    with locked(path):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return 0
        keep = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                keep.append(line)  # never destroy what we cannot read
                continue
            if not (isinstance(record, dict) and record_key(record) in delivered):
                keep.append(line)
        if keep:
            atomic_write_text(path, "\n".join(keep) + "\n")
        else:
            path.unlink(missing_ok=True)
        return len(keep)


def summarize(records: list[dict]) -> list[str]:
    """One line per record for ``yolo-hooks outbox``: time, destination, event, title, reason."""
    lines = []
    for r in records:
        m, d = r.get("message") or {}, r.get("destination") or {}
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.get("time", 0) or 0))
        lines.append(f"{when}  {d.get('name', '?')} ({d.get('format', '?')} → {d.get('target', '?')})  "
                     f"{m.get('event', '?')}: {m.get('title', '')}  [{r.get('reason', '')}]")
    return lines

