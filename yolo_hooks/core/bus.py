"""How hooks tell each other what happened (an alert, an early stop, a mirrored checkpoint...).

Every hook attached to one model shares one :class:`Bus`. A hook calls ``self.publish(...)``; every hook on the
bus that defines ``on_published(event)`` receives the :class:`Published` record at once, on the same thread (a
notifier only queues it). The bus is pickled together with the hooks, so it stays shared in DDP workers.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("info", "warning", "critical")


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
    """

    kind: str
    source: str
    severity: str = "info"
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    time: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {k: getattr(self, k) for k in ("id", "kind", "source", "severity", "message", "data", "time")}


class Bus:
    """Delivers published events to the hooks attached to the same model, and writes their state files.

    State files are written on one background thread (``writer``), in order: an ``os.replace`` on the training
    thread can wait milliseconds behind another thread's fsync of a checkpoint. A write lost to a SIGKILL leaves
    the state one epoch behind last.pt, which the core's resume catch-up handles.
    """

    def __init__(self):
        self.hooks: list = []
        self._writer = None

    @property
    def writer(self):
        """The background thread that writes state files (started on first use, never pickled)."""
        if self._writer is None:
            from .worker import BackgroundWorker

            self._writer = BackgroundWorker("state")
        return self._writer

    def flush_writes(self, timeout: float = 30.0) -> bool:
        """Wait for pending state writes; True when none is left."""
        return self._writer is None or self._writer.flush(timeout)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_writer": None}

    def subscribe(self, hook) -> None:
        """Add a hook (once)."""
        if hook not in self.hooks:
            self.hooks.append(hook)

    def publish(self, event: Published) -> None:
        """Hand ``event`` to every subscriber's ``on_published`` (errors isolated per hook by the core)."""
        for hook in list(self.hooks):
            if hook is not None and callable(getattr(hook, "on_published", None)):
                hook._call_guarded("on_published", event)
