"""The write-ahead journal of a delivery: what was handed to the worker and not yet settled (survives SIGKILL).

Every message is noted in ``.notify_journal.<destination key>.jsonl`` (next to the outbox) before it is queued, on
the thread that queues it (during a training the bus' writer, see ``Notify.send_later``), with one ``O_APPEND``
write and no fsync (a killed process loses nothing the kernel already has); the worker strikes it when it is
delivered or written to the outbox, and removes the file when nothing is pending. During a training
(:meth:`Journal.hold`) the file stays until the run's end, so an epoch's message appends to it instead of creating
it again (measured: creating the file costs 5x an append). A run that starts in the folder of a killed one, and
``yolo-hooks outbox``, move what a dead process left unsettled to its outbox (:func:`recover`).

Examples:
    >>> journal = Journal()  # doctest: +SKIP
    >>> journal.note(journal_path(outbox, destination), message, destination, outbox)  # doctest: +SKIP
    >>> journal.settle([message])  # delivered: struck, and the file goes when nothing is pending  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from ..core.files import append_line
from ..core.redact import scrub
from ..core.run_info import process_alive
from . import outbox as outbox_file
from .message import Message

if TYPE_CHECKING:
    from .destination import Destination

JOURNAL_GLOB = ".notify_journal.*.jsonl"
HELD_SIZE = 1 << 20  # a held journal with nothing pending is still removed past this size (a long training)
KILLED = "in flight when the process ended (killed?)"


def journal_path(outbox: Path, destination: Destination) -> Path:
    """The write-ahead journal of one destination, next to its outbox."""
    return outbox.parent / f".notify_journal.{destination.key}.jsonl"


def journal_queued(journal: Path, outbox: Path, record: dict, secrets: Iterable[str] = ()) -> None:
    """Note a message as handed to the worker, before anything is sent (one O_APPEND write, no fsync: a killed
    process loses nothing the kernel already has)."""
    entry = {"op": "queued", "pid": os.getpid(), "outbox": str(outbox), **record}
    append_line(journal, scrub(json.dumps(entry, allow_nan=False), secrets))


def journal_done(journal: Path, message_id: str) -> None:
    """Note a message as settled: delivered, or written to the outbox."""
    append_line(journal, json.dumps({"op": "done", "id": message_id}))


def recover(folder: str | Path) -> int:
    """Move messages that a killed process left unsettled in its journals (below ``folder``) to their outbox.

    Called when a run starts in a folder (``resume=True`` reuses it) and by ``yolo-hooks outbox``. Returns how many
    messages were recovered.
    """
    folder, recovered = Path(folder), 0
    if folder.is_file():  # a journal itself, or an outbox file: then the journals beside it
        journals = [folder] if folder.match(JOURNAL_GLOB) else sorted(folder.parent.glob(JOURNAL_GLOB))
    else:
        journals = sorted(folder.rglob(JOURNAL_GLOB)) if folder.is_dir() else []
    for journal in journals:
        queued, done = {}, set()
        for line in journal.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a torn last line: its message, if any, was never handed over
            if entry.get("op") == "queued":
                queued[entry["id"]] = entry
            elif entry.get("op") == "done":
                done.add(entry.get("id"))
        lost = [e for i, e in queued.items() if i not in done]
        if any(process_alive(e.get("pid")) for e in queued.values()):
            continue  # its process is still running (sending, or holding the file for a training): not ours to take
        by_outbox: dict[str, list[dict]] = {}
        for entry in lost:
            outbox = entry.pop("outbox", str(journal.parent / outbox_file.OUTBOX_NAME))
            entry.pop("op", None)
            entry.pop("pid", None)
            by_outbox.setdefault(outbox, []).append({**entry, "reason": KILLED})
        for outbox, records in by_outbox.items():
            outbox_file.append(outbox, records)
            recovered += len(records)
        journal.unlink(missing_ok=True)
    return recovered


class Journal:
    """One delivery's journal bookkeeping: which message is noted in which journal file until it is settled.

    Args:
        log: ``log(text, level)``, for messages a killed earlier run left behind.
    """

    def __init__(self, log: Callable[[str, str], None] | None = None):
        self._log = log or (lambda text, level: None)
        self._lock = threading.Lock()
        self._pending: dict[str, Path] = {}  # message id -> its journal, until the message is settled
        self._checked: set[Path] = set()  # journals already looked at for a killed run's leftovers
        self._held = False  # a training: settled journals stay until release()

    def note(self, journal: Path, message: Message, destination: Destination, outbox: Path,
             secrets: Iterable[str] = ()) -> None:
        """Write ``message`` to ``journal`` before it is queued (raises ``OSError`` when it cannot be written)."""
        if journal not in self._checked:  # a killed earlier run (resume reuses its folder) may have left one
            self._checked.add(journal)
            with self._lock:
                ours = journal in self._pending.values()
            if not ours and journal.exists():
                moved = recover(journal)
                if moved:
                    self._log(f"{moved} message(s) left in flight by a killed run were moved to {outbox}", "warning")
        record = outbox_file.make_record(message, destination, KILLED)
        with self._lock:  # registered and written as one step: settle never drops a journal in between
            self._pending[message.id] = journal
            try:
                journal_queued(journal, outbox, record, secrets)
            except OSError:
                self._pending.pop(message.id, None)
                raise

    def settle(self, messages: list[Message]) -> None:
        """Delivered or in the outbox: strike them from their journal; drop journals with nothing pending."""
        with self._lock:  # the same lock as note's write: no message is journaled while we decide
            settled = [(m.id, self._pending.pop(m.id)) for m in messages if m.id in self._pending]
            for message_id, journal in settled:
                try:
                    journal_done(journal, message_id)
                except OSError:
                    pass  # the message is settled; at worst the next start re-queues it to the outbox (at least once)
            touched = {j for _, j in settled}
            self._drop_settled(touched if not self._held else {j for j in touched if _size(j) > HELD_SIZE})

    def hold(self) -> None:
        """Keep settled journals until :meth:`release` (a training: its messages append instead of creating)."""
        self._held = True

    def release(self) -> None:
        """End the hold: remove every journal this one noted to that has nothing pending."""
        with self._lock:
            self._held = False
            self._drop_settled(self._checked)

    def _drop_settled(self, journals: set[Path]) -> None:
        for journal in journals - set(self._pending.values()):
            journal.unlink(missing_ok=True)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
