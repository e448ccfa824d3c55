"""The run's command channel: two append-only files in the run folder.

* ``control_inbox.jsonl``: commands for the run, one JSON line each (:meth:`Command.as_dict`). Anything that can
  write to the run folder posts here: ``yolo-hooks stop`` and its siblings, the Telegram poller, the signed HTTP
  endpoint. One ``write`` of a line on an ``O_APPEND`` descriptor is never interleaved with another writer's line.
* ``control.jsonl``: the audit, one line per command the run took: when, from where, what, and the result
  (``done``, ``refused``, ``failed``, ``ignored``) with the answer sent. The CLI waits here for its command's line.

The training side reads the inbox from the offset it has consumed (kept in the hook's state, so a resumed run goes
on where the killed one stopped): a ``stat`` at most once a second, and a read only when the file grew.

Examples:
    >>> reader = InboxReader(Path("runs/detect/train/control_inbox.jsonl"))  # doctest: +SKIP
    >>> reader.read()  # doctest: +SKIP
    [{'id': 'c-…', 'name': 'stop', 'reason': 'diverging', 'source': 'cli', …}]
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from ..core.files import append_line, read_jsonl
from .commands import Command

INBOX = "control_inbox.jsonl"
AUDIT = "control.jsonl"
MAX_READ = 1 << 20  # bytes read at once: a runaway writer cannot make one poll read gigabytes


def post(run_dir: str | Path, command: Command) -> None:
    """Append ``command`` to the run's inbox (one line, one ``write``)."""
    append_line(Path(run_dir) / INBOX, json.dumps(command.as_dict(), default=str), make_dirs=False)


def audit(run_dir: str | Path, record: dict[str, Any]) -> None:
    """Append one audit line to the run's ``control.jsonl``."""
    append_line(Path(run_dir) / AUDIT, json.dumps({"time": time.time(), **record}, default=str), make_dirs=False)


def audit_record(command: Command, result: str, text: str, epoch: int | None = None) -> dict[str, Any]:
    """The audit line of ``command``: when it was sent, from where, what, the result and the answer."""
    record = {"id": command.id, "source": command.source, "from": command.sender, "command": command.name,
              "sent": command.time, "result": result, "text": text}
    for key in ("epochs", "patience", "reason", "now"):
        value = getattr(command, key)
        if value not in (None, False):
            record[key] = value
    if epoch is not None:
        record["epoch"] = epoch
    return record


def read_audit(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every audit line of the run (a torn last line skipped)."""
    return read_jsonl(Path(run_dir) / AUDIT)


class InboxReader:
    """Reads new complete lines of an inbox from a byte offset (a line still being written waits for the next read).

    Attributes:
        offset: bytes consumed so far (saved with the hook's state).
    """

    def __init__(self, path: Path, offset: int = 0):
        self.path, self.offset = Path(path), int(offset)
        self._inode: int | None = None  # the file read so far (another one: replaced by hand, read from its start)

    def size(self) -> int:
        """The file's size now (0 when it does not exist): one ``stat``."""
        try:
            st = os.stat(self.path)
        except OSError:
            return 0
        if self._inode is not None and st.st_ino != self._inode:
            self.offset = 0
        self._inode = st.st_ino
        return st.st_size

    def skip_to_end(self) -> None:
        """Start after everything already in the file (a new run in a folder that has an old inbox)."""
        self.offset = self.size()

    def read(self) -> list[dict[str, Any] | str]:
        """The lines added since the last read: each parsed JSON object, or the raw text of a line that is not one."""
        size = self.size()
        if size < self.offset:  # the file was replaced (truncated by hand): read it from the start
            self.offset = 0
        if size == self.offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(min(size - self.offset, MAX_READ))
        except OSError:
            return []
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= MAX_READ:  # one line longer than MAX_READ: drop it rather than stall on it
                self.offset += len(data)
            return []
        self.offset += end + 1
        lines = []
        for raw in data[: end + 1].splitlines():
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError:
                value = None
            lines.append(value if isinstance(value, dict) else raw.decode("utf-8", "replace")[:200])
        return lines
