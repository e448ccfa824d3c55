"""Retention of the alerts folder (``keep: {files, megabytes, days}``) as a pure choice: which events go.

Events are removed whole (every file of the event: its images, sheet, clip, best frame), oldest first, until the
folder's event files are within every limit; an event older than ``days`` goes whatever the other limits say. The
event being written is never removed.

Examples:
    >>> events = [EventFiles("a", 0.0, 2, 300), EventFiles("b", 10.0, 2, 300), EventFiles("c", 20.0, 1, 100)]
    >>> expired(events, {"files": 3}, now=30.0, current="c")
    ['a']
    >>> expired(events, {"megabytes": 0.0002}, now=30.0, current="c")  # 200 bytes: only c may stay, c is current
    ['a', 'b']
    >>> expired(events, {"days": 25 / 86400}, now=30.0, current="c")  # older than 25 s
    ['a']
"""

from __future__ import annotations

from typing import NamedTuple

DAY = 86400.0


class EventFiles(NamedTuple):
    """One event as retention sees it: its id, when it began (wall clock), how many files and bytes it has."""

    event_id: str
    start: float
    files: int
    size: int


def expired(events: list[EventFiles], keep: dict[str, float], now: float, current: str | None) -> list[str]:
    """The ids of the events to remove (oldest first) so that what stays is within ``keep``."""
    files = sum(e.files for e in events)
    size = sum(e.size for e in events)
    max_files, max_bytes = keep.get("files"), keep.get("megabytes")
    oldest = now - keep["days"] * DAY if keep.get("days") else None
    out = []
    for event in sorted(events, key=lambda e: e.start):
        too_old = oldest is not None and event.start < oldest
        over = (max_files is not None and files > max_files) or (max_bytes is not None and size > max_bytes * 1e6)
        if not (too_old or over):
            break  # oldest first: everything after is younger, and the folder is within its limits
        if event.event_id == current:
            continue
        out.append(event.event_id)
        files -= event.files
        size -= event.size
    return out
