"""The durable outbox: one JSON line per undelivered message, appended atomically, no secret in it.

Each line holds the message (with its id, kept across retries and replays so receivers can drop duplicates), the
destination's non-secret identity (name, format, redacted target, a key hashed from format and URL), why it is
there and when it was written. Replay re-reads the secrets from hooks.yaml and the environment, resends, and
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from ..core.files import append_line, atomic_write_text
from ..core.redact import scrub
from .message import Message

if TYPE_CHECKING:
    from .delivery import Delivery, Destination

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


@dataclass
class ReplayReport:
    """What one replay of one outbox file did."""

    path: Path
    delivered: int = 0
    duplicates: int = 0  # the same message for the same destination more than once in the file
    failed: list[str] = field(default_factory=list)  # one line per message that is still undelivered
    unmatched: int = 0  # lines for a destination not in hooks.yaml
    remaining: int = 0


def match(record: dict, deliveries: list[Delivery]) -> Delivery | None:
    """The configured destination an outbox line belongs to: same key (format + URL), else same name and format."""
    dest = record.get("destination") or {}
    for delivery in deliveries:
        if delivery.destination.key == dest.get("key"):
            return delivery
    for delivery in deliveries:
        if (delivery.destination.name, delivery.destination.format) == (dest.get("name"), dest.get("format")):
            return delivery
    return None


def replay(path: str | Path, deliveries: list[Delivery], retries: int = 2) -> ReplayReport:
    """Resend every line of ``path`` to its destination, oldest first; delivered lines are removed.

    A destination that is still unreachable is skipped after its first failure (its lines stay); a message the
    service rejects stays too, with the reason reported.
    """
    path = Path(path)
    report = ReplayReport(path)
    records, bad = read(path)
    done: set[tuple[str, str]] = set()
    down: set[str] = set()
    for record in sorted(records, key=lambda r: (r["message"].get("time", 0), r.get("written", 0))):
        key = record_key(record)
        if key in done:
            report.duplicates += 1
            continue
        delivery = match(record, deliveries)
        if delivery is None:
            report.unmatched += 1
            continue
        if delivery.destination.key in down:
            continue
        message = Message.from_dict(record["message"])
        result = delivery.send(message, retries=retries, report=False)
        if result.ok:
            done.add(key)
            report.delivered += 1
            continue
        report.failed.append(f"{delivery.destination.name}: {message.title} ({result.error})")
        if not result.permanent:
            down.add(delivery.destination.key)
    report.remaining = remove(path, done) if done else len(records) + len(bad)
    return report


def summarize(records: list[dict]) -> list[str]:
    """One line per record for ``yolo-hooks outbox``: time, destination, event, title, reason."""
    lines = []
    for r in records:
        m, d = r.get("message") or {}, r.get("destination") or {}
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.get("time", 0) or 0))
        lines.append(f"{when}  {d.get('name', '?')} ({d.get('format', '?')} → {d.get('target', '?')})  "
                     f"{m.get('event', '?')}: {m.get('title', '')}  [{r.get('reason', '')}]")
    return lines

