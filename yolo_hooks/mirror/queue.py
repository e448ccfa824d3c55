"""The mirror's jobs on the one background worker (:mod:`yolo_hooks.core.worker`) in its latest-wins mode.

A job waiting in a store's queue is *replaced* by a newer job for the same slot: a new best while an older
best is still waiting means the older one is never uploaded (the newest checkpoint is the one worth having). The
job being uploaded is never interrupted. The final best.pt uses the ``best`` slot too, so it replaces a waiting
best and is always uploaded.

Examples:
    >>> from yolo_hooks.core.worker import LatestWinsQueue
    >>> queue = LatestWinsQueue(on_replace=absorb)  # what a MirrorWorker queues on
    >>> queue.put(Job("best", "best", payload=1), "best") is None
    True
    >>> queue.put(Job("best", "best", payload=2), "best")  # replaces the waiting one
    Job(slot='best', kind='best', payload=1)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.worker import BackgroundWorker


@dataclass
class Job:
    """One thing to upload: ``slot`` decides what a newer job replaces; ``kind`` is best|last|final|export."""

    slot: str
    kind: str
    payload: Any = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Job(slot={self.slot!r}, kind={self.kind!r}, payload={self.payload!r})"


def absorb(old: Job, new: Job) -> None:
    """A newer job replaces a waiting one: its payload may take over what the old one carried (see Upload.absorb)."""
    if hasattr(new.payload, "absorb"):
        new.payload.absorb(old.payload)


class MirrorWorker(BackgroundWorker):
    """One store's (or the staging) worker: latest wins per ``job.slot``; lives until :meth:`close`.

    Started by :meth:`start` (the hook does it at ``on_train_start``, so that ``on_model_save`` never pays for a
    thread start) or by the first :meth:`submit`. ``on_skip`` gets every job replaced by a newer one.
    """

    def __init__(self, name: str, process: Callable[[Job], None], on_skip: Callable[[Job], None],
                 nice: int | None = None):
        super().__init__(f"mirror-{name}", process, on_replace=absorb, on_skip=on_skip, nice=nice, linger=None)

    def submit(self, job: Job) -> Job | None:
        """Queue ``job`` in its slot (microseconds); returns the waiting job it replaced (handed to ``on_skip``)."""
        return super().submit(job, slot=job.slot)
