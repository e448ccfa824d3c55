"""How hooks tell each other what happened (an alert, an early stop, a mirrored checkpoint...).

Every hook attached to one model shares one :class:`Bus`. A hook calls ``self.publish(...)``; every hook on the
bus receives the :class:`Published` record at once, on the publishing thread
(a notifier only queues it). Background workers publish their results themselves, as soon as they have them (a
``mirror_failed`` does not wait for the next epoch); the bus serialises deliveries with a lock, so subscribers see
one event at a time. The bus is pickled together with the hooks, so it stays shared in DDP workers.

An event's id is derived from what it announces (run, source, kind and the identity fields of its data, such as
the epoch and the rule), so an epoch that a resumed run catches up on is announced under the same id as the first
time: receivers drop the duplicate.
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .console import Console
from .deadline import END_TIMEOUT

SEVERITIES = ("info", "warning", "critical")
HISTORY = 200  # recent events kept for crash forensics (where the copies went), never pickled
# Data keys that say *which* event this is (not how it measured): they make the id. Two different announcements
# differ in one of them: the rule and loss of an alert, the NaN recovery's attempt, the watchdog's stall number, a
# copy's store, file, kind (best, last, final, export), whether it is the final one and its content (sha256).
IDENTITY_KEYS = ("epoch", "rule", "loss", "monitor", "store", "file", "kind", "final", "sha256", "reason",
                 "attempt", "stall")


@dataclass(frozen=True)
class Published:
    """One event published by a hook for the others (and for notifications).

    Attributes:
        kind: what happened, e.g. ``alert``, ``alert_recovered``, ``early_stop``, ``lr_reduced``, ``mirror_done``,
            ``mirror_failed``, ``fitness_summary``, ``val_report``, ``predict_report``, ``export_report``.
        source: config name of the publishing hook.
        severity: ``info``, ``warning`` or ``critical``.
        message: one line for humans.
        data: JSON-ready details.
        id: derived from what it announces (see the module docstring), random for a one-off event.
        about: the run or job the event is about (:func:`~yolo_hooks.core.run_info.run_info`), fixed when it
            happened, for an event a background worker publishes later (a predict's last detection images come
            after the call returned, maybe during the next one); None: the publisher's current run.
    """

    kind: str
    source: str
    severity: str = "info"
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    about: dict[str, str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: getattr(self, k) for k in ("id", "kind", "source", "severity", "message", "data", "time")}


def event_id(run_id: str | None, source: str, kind: str, data: dict[str, Any]) -> str:
    """The id of an event about an epoch of run ``run_id``: the same for every re-announcement; else random.

    Examples:
        >>> event_id("run1", "val_loss_alert", "alert", {"epoch": 3, "rule": "above", "value": 12.5}) == \\
        ...     event_id("run1", "val_loss_alert", "alert", {"epoch": 3, "rule": "above", "value": 12.499})
        True
    """
    if not run_id or data.get("epoch") is None:
        return uuid.uuid4().hex
    parts = [run_id, source, kind, *(f"{k}={data[k]}" for k in IDENTITY_KEYS if k in data)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class Bus:
    """Delivers published events to the hooks attached to the same model, and writes their state files.

    State files are written on one background thread (``writer``), in order: an ``os.replace`` on the training
    thread can wait milliseconds behind another thread's fsync of a checkpoint. A write lost to a SIGKILL leaves
    the state one epoch behind last.pt, which the core's resume catch-up handles.

    Attributes:
        run_id: the identity of the training run, kept across ``resume=True`` (see :mod:`yolo_hooks.core.lifecycle`).
        end_timeout: seconds the end of a run waits for every hook's end-of-run work together.
    """

    def __init__(self):
        self.hooks: list = []
        self.run_id: str | None = None
        self.end_timeout = END_TIMEOUT
        self.history: collections.deque[Published] = collections.deque(maxlen=HISTORY)  # crash forensics read it
        self.console = Console()  # the hooks' console lines, never inside a progress bar
        self._writer = None
        self._lock = threading.RLock()  # re-entrant: a subscriber may publish in turn

    @property
    def writer(self):
        """The background thread that writes state files (started on first use, never pickled)."""
        if self._writer is None:
            from .worker import BackgroundWorker

            self._writer = BackgroundWorker("state")
        return self._writer

    def hold_writer(self) -> None:
        """Start the writer's thread now and keep it until :meth:`close_writer` (a training's first epoch, and every
        epoch longer than the writer's linger, would otherwise start it on the training thread)."""
        self.writer.hold()

    def flush_writes(self, timeout: float = 30.0) -> bool:
        """Wait for pending state writes; True when none is left."""
        return self._writer is None or self._writer.flush(timeout)

    def close_writer(self, timeout: float) -> bool:
        """Flush the state writes and let the writer's thread end (the next write starts a new one)."""
        if self._writer is None:
            return True
        done = self._writer.flush(timeout)
        self._writer.close()
        return self._writer.join(timeout) and done

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_writer": None, "_lock": None, "history": None}  # DDP workers start empty

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("run_id", None)
        self.__dict__.setdefault("end_timeout", END_TIMEOUT)
        self.__dict__.setdefault("console", Console())
        self.history = collections.deque(maxlen=HISTORY)
        self._lock = threading.RLock()

    def subscribe(self, hook) -> None:
        """Add a hook (once)."""
        if hook not in self.hooks:
            self.hooks.append(hook)

    def publish(self, event: Published) -> None:
        """Hand ``event`` to every subscriber's ``on_published`` (errors isolated per hook by the core); safe to
        call from any thread."""
        with self._lock:
            self.history.append(event)
            for hook in list(self.hooks):
                if hook is not None:
                    hook.call_guarded("on_published", event)
