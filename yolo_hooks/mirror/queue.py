"""Latest-wins upload queue with one background thread per destination.

The training thread only calls :meth:`LatestWinsQueue.put` (a dict update under a lock). A job waiting in the
queue is *replaced* by a newer job for the same slot: a new best while an older best is still waiting means the
older one is never uploaded (the newest checkpoint is the one worth having). The job being uploaded is never
interrupted. The final best.pt uses the ``best`` slot too, so it replaces a waiting best and is always uploaded.

Examples:
    >>> q = LatestWinsQueue()
    >>> q.put(Job("best", "best", payload=1)) is None
    True
    >>> q.put(Job("best", "best", payload=2))  # replaces the waiting one
    Job(slot='best', kind='best', payload=1)
    >>> q.take(timeout=0).payload
    2
"""

from __future__ import annotations

import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class Job:
    """One thing to upload: ``slot`` decides what a newer job replaces; ``kind`` is best|last|final|export."""

    slot: str
    kind: str
    payload: Any = field(default=None, compare=False)

    def __repr__(self) -> str:
        return f"Job(slot={self.slot!r}, kind={self.kind!r}, payload={self.payload!r})"


class LatestWinsQueue:
    """At most one waiting job per slot, oldest slot first; thread-safe, no thread of its own."""

    def __init__(self):
        self._waiting: dict[str, Job] = {}
        self._running: Job | None = None
        self._cond = threading.Condition()

    def put(self, job: Job) -> Job | None:
        """Queue ``job``; returns the waiting job of the same slot that it replaced, if any."""
        with self._cond:
            old = self._waiting.pop(job.slot, None)
            if old is not None and hasattr(job.payload, "absorb"):  # before any worker can take the new job
                job.payload.absorb(old.payload)
            self._waiting[job.slot] = job  # re-inserted at the end: order of arrival
            self._cond.notify_all()
        return old

    def take(self, timeout: float | None = None) -> Job | None:
        """The oldest waiting job (marked running), or None when none arrives within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._waiting:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            slot = next(iter(self._waiting))
            self._running = self._waiting.pop(slot)
            return self._running

    def done(self, job: Job) -> None:
        """Mark the running ``job`` finished (successfully or not)."""
        with self._cond:
            if self._running is job:
                self._running = None
            self._cond.notify_all()

    def pending(self) -> list[Job]:
        """The running job (first) and the waiting ones."""
        with self._cond:
            return ([self._running] if self._running is not None else []) + list(self._waiting.values())

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing is waiting or running; True when that happened."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._waiting or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def drain(self) -> list[Job]:
        """Remove and return every waiting (not running) job."""
        with self._cond:
            jobs = list(self._waiting.values())
            self._waiting.clear()
            self._cond.notify_all()
            return jobs


class MirrorWorker:
    """A daemon thread that feeds the jobs of one :class:`LatestWinsQueue` to ``process``, one at a time.

    Started by :meth:`start` (the hook does it at ``on_train_start``, so that ``on_model_save`` never pays for a
    thread start) or lazily by the first :meth:`submit`; it waits for jobs until :meth:`close`. Created lazily by
    the hook so that it pickles (DDP); a daemon, so that a forgotten flush never keeps the process alive.
    ``on_skip`` gets every job replaced by a newer one.

    Args:
        nice: on Linux, the thread's own nice value (19: lowest CPU priority), so that copying and hashing yield
            the cores to the training; None leaves it alone. Per-thread on Linux only; ignored elsewhere.
    """

    def __init__(self, name: str, process: Callable[[Job], None], on_skip: Callable[[Job], None],
                 nice: int | None = None):
        self.name = name
        self.queue = LatestWinsQueue()
        self.nice = nice
        self.cpu_seconds = 0.0  # CPU time this worker's thread spent on jobs (benchmarks, diagnostics)
        self._process = process
        self._on_skip = on_skip
        self._thread: threading.Thread | None = None
        self._closing = False
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread now, if it is not running (idempotent)."""
        with self._lock:
            self._closing = False
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name=f"yolo_hooks-mirror-{self.name}", daemon=True)
                self._thread.start()

    def submit(self, job: Job, start: bool = True) -> Job | None:
        """Queue ``job`` (microseconds); returns the waiting job it replaced (already handed to ``on_skip``)."""
        replaced = self.queue.put(job)
        if replaced is not None:
            self._on_skip(replaced)
        thread = self._thread
        if start and (self._closing or thread is None or not thread.is_alive()):
            self.start()
        return replaced

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued job; True when all finished."""
        return self.queue.flush(timeout)

    def close(self) -> None:
        """Let the thread end once the queue is empty (a later :meth:`submit` starts a new one)."""
        with self._lock:
            self._closing = True
        with self.queue._cond:
            self.queue._cond.notify_all()

    def _run(self) -> None:
        _lower_priority(self.nice)
        while True:
            job = self.queue.take(timeout=5.0)
            if job is None:
                with self._lock:
                    if self._closing and not self.queue.pending():
                        self._thread = None
                        return
                continue
            started = time.thread_time()
            try:
                self._process(job)
            finally:
                self.cpu_seconds += time.thread_time() - started
                self.queue.done(job)


def _lower_priority(nice: int | None) -> None:
    """Give the calling thread nice value ``nice`` (Linux: nice values are per thread; elsewhere a no-op)."""
    if nice is None or not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, tid) < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except (OSError, AttributeError):
        pass
