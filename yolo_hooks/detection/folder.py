"""The alerts folder, shared by every rule that writes there: ``alerts.jsonl``, retention and the review page.

One :class:`AlertsFolder` per folder per process (:func:`folder_of`), used from the rules' image workers under one
lock: a record is appended to ``alerts.jsonl`` (one ``write`` per line), the oldest events go when ``keep`` says so
(their files, and their lines, the file rewritten atomically), and ``index.html`` is rewritten atomically. What it
keeps in memory is a summary per record (no detections), read once from ``alerts.jsonl`` when a run first writes
to a folder that already has one.

Examples:
    >>> alerts = folder_of(Path("runs/detect/predict/alerts"))  # doctest: +SKIP
    >>> alerts.add(record, keep={"files": 500}, review=True)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.files import append_line, atomic_write_text, read_jsonl
from .retention import EventFiles, expired

ALERTS_LOG = "alerts.jsonl"
PAGE = "index.html"
FILE_KEYS = ("image", "sheet", "clip")
SUMMARY_KEYS = ("kind", "event_id", "update", "time", "camera", "source", "rule", "severity", "class", "subject",
                "zone", "message", "frame_index", "video_time", "track_ids", "counts", "held_for", "duration",
                "frames", "best_conf", "best_frame", "start_frame", "end_frame", "started", "image", "first_image",
                "sheet", "clip", "sheet_tiles", "note", "image_url", "sheet_url", "clip_url")  # fmt: skip
_FOLDERS: dict[str, AlertsFolder] = {}
_FOLDERS_LOCK = threading.Lock()


def folder_of(path: Path) -> AlertsFolder:
    """The one :class:`AlertsFolder` of ``path`` in this process."""
    key = os.path.abspath(path)
    with _FOLDERS_LOCK:
        if key not in _FOLDERS:
            _FOLDERS[key] = AlertsFolder(Path(key))
        return _FOLDERS[key]


def event_id_of(record: dict[str, Any], line: int = 0) -> str:
    """A record's event id (a record written before events had ids is an event of its own)."""
    return str(record.get("event_id") or Path(str(record.get("image") or f"line{line}")).stem)


def summary(record: dict[str, Any], line: int = 0) -> dict[str, Any]:
    """What the review page and retention need of a record, with its event id, wall time and files' size."""
    out = {k: record[k] for k in SUMMARY_KEYS if record.get(k) is not None}
    out["event_id"] = event_id_of(record, line)
    out["kind"] = record.get("kind", "detection")
    try:
        out["wall"] = datetime.fromisoformat(str(record["time"]).replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        out["wall"] = time.time()
    files = {record[k] for k in FILE_KEYS if record.get(k)} - ({record.get("first_image")} - {None})
    out["files"] = sorted(files)
    out["bytes"] = sum(_size(f) for f in files)
    return out


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class AlertsFolder:
    """``alerts.jsonl``, retention and ``index.html`` of one folder (see the module docstring)."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.RLock()
        self._summaries: list[dict[str, Any]] | None = None
        self._first: dict[str, dict[str, Any]] = {}  # event id -> its first detection record's summary

    def summaries(self) -> list[dict[str, Any]]:
        """Every record's summary, oldest first (read from ``alerts.jsonl`` the first time)."""
        with self.lock:
            if self._summaries is None:
                self._summaries = []
                for i, record in enumerate(read_jsonl(self.path / ALERTS_LOG)):
                    self._remember(summary(record, i))
            return self._summaries

    def _remember(self, s: dict[str, Any]) -> None:
        self._summaries.append(s)
        if s["kind"] == "detection":
            self._first.setdefault(s["event_id"], s)

    def first_record(self, event_id: str) -> dict[str, Any] | None:
        """The first ``detection`` record of an event (where its first image is)."""
        with self.lock:
            self.summaries()
            return self._first.get(event_id)

    def add(self, record: dict[str, Any], keep: dict[str, float] | None, review: bool) -> list[str]:
        """Append ``record``, apply ``keep`` (never to its own event), rewrite the review page; returns notes on
        what failed (a record that could not be written is still published)."""
        notes = []
        with self.lock:
            summaries = self.summaries()
            try:
                append_line(self.path / ALERTS_LOG, json.dumps(record, ensure_ascii=False, default=str))
            except OSError as e:
                notes.append(f"could not append to {self.path / ALERTS_LOG}: {e}")
            self._remember(summary(record, len(summaries)))
            if keep:
                notes += self.retain(keep, record.get("event_id"))
            if review:
                from .review import render

                try:
                    atomic_write_text(self.path / PAGE, render(self._summaries, self.path.name), fsync=False)
                except OSError as e:
                    notes.append(f"could not write {self.path / PAGE}: {e}")
        return notes

    def retain(self, keep: dict[str, float], current: str | None) -> list[str]:
        """Remove the oldest events until the folder is within ``keep``: their files, then their lines."""
        events: dict[str, list] = {}
        for s in self.summaries():
            entry = events.setdefault(s["event_id"], [s["wall"], 0, 0])
            entry[0] = min(entry[0], s["wall"])
            entry[1] += len(s["files"])
            entry[2] += s["bytes"]
        gone = set(expired([EventFiles(k, *v) for k, v in events.items()], keep, time.time(), current))
        if not gone:
            return []
        for s in self._summaries:
            if s["event_id"] in gone:
                for path in s["files"]:
                    try:
                        os.unlink(path)
                    except FileNotFoundError:
                        pass
                    except OSError as e:
                        return [f"keep: could not remove {path}: {e}"]
        self._summaries = [s for s in self._summaries if s["event_id"] not in gone]
        for event_id in gone:
            self._first.pop(event_id, None)
        log = self.path / ALERTS_LOG
        lines = []
        for i, line in enumerate(log.read_text(encoding="utf-8").splitlines() if log.exists() else []):
            try:
                if event_id_of(json.loads(line), i) in gone:
                    continue
            except ValueError:
                pass
            lines.append(line)
        atomic_write_text(log, "".join(f"{line}\n" for line in lines), fsync=False)
        return []
