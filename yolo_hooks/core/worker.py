"""The one background worker: slow work (HTTP, copies, uploads, state files) never runs on the training thread.

The training thread only calls :meth:`BackgroundWorker.submit` (a dict insert under a lock: microseconds). The
thread starts on the first submit or :meth:`~BackgroundWorker.start` (never in ``__init__``, so that the owning
hook still pickles for DDP), is a daemon (a forgotten flush cannot keep the process alive) and ends by itself:
after :meth:`~BackgroundWorker.close` once its queue is empty, or after ``linger`` idle seconds. No yolo_hooks
thread outlives the work it was started for.

Two ways to queue, one worker:

- in order (``submit(task)``): every task runs, first in first out (notifications, state files);
- latest wins (``submit(task, slot="best")``): a task still *waiting* is replaced by a newer one of the same slot
  (queued at the end, in order of arrival); ``on_replace(old, new)`` runs under the queue's lock (before any
  thread can take the new task) and ``on_skip(old)`` after. The task being run is never interrupted.

Examples:
    >>> worker = BackgroundWorker("demo")
    >>> worker.submit(lambda: print("done in the background"))
    >>> worker.flush(timeout=5)
    done in the background
    True
    >>> worker.close()
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from typing import Any, Callable

from ultralytics.utils import LOGGER

from .redact import scrub

THREAD_PREFIX = "yolo_hooks-"  # every thread this package starts is named so (tests count them)
SETTLE = 0.005  # seconds a woken idle worker lets the callbacks of the event that woke it finish first


class LatestWinsQueue:
    """Waiting tasks in order of arrival, at most one per slot; thread-safe, no thread of its own.

    Examples:
        >>> q = LatestWinsQueue()
        >>> q.put("best of epoch 1", "best") is None
        True
        >>> q.put("best of epoch 2", "best")  # replaces the waiting one
        'best of epoch 1'
        >>> q.take(timeout=0)
        'best of epoch 2'
    """

    def __init__(self, on_replace: Callable[[Any, Any], None] | None = None):
        self._waiting: dict[tuple, Any] = {}
        self._running: Any = None
        self._cond = threading.Condition()  # re-entrant: the worker holds it while it decides to start or end
        self._order = itertools.count()
        self._on_replace = on_replace

    def put(self, task: Any, slot: str | None = None) -> Any:
        """Queue ``task``; with a ``slot``, returns the waiting task of that slot it replaced (else None)."""
        key = ("fifo", next(self._order)) if slot is None else ("slot", slot)
        with self._cond:
            old = self._waiting.pop(key, None)
            if old is not None and self._on_replace is not None:
                self._on_replace(old, task)
            self._waiting[key] = task  # (re-)inserted at the end: order of arrival
            self._cond.notify_all()
        return old

    def take(self, timeout: float | None = None) -> Any:
        """The oldest waiting task (marked running), or None when none arrives within ``timeout``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._waiting:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._cond.wait(left)
            return self._take_locked()

    def _take_locked(self) -> Any:
        self._running = self._waiting.pop(next(iter(self._waiting)))
        return self._running

    def done(self, task: Any) -> None:
        """Mark the running ``task`` finished (successfully or not)."""
        with self._cond:
            if self._running is task:
                self._running = None
            self._cond.notify_all()

    def pending(self) -> list:
        """The running task (first) and the waiting ones."""
        with self._cond:
            return ([self._running] if self._running is not None else []) + list(self._waiting.values())

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until nothing is waiting or running; True when that happened."""
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            while self._waiting or self._running is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def drain(self) -> list:
        """Remove and return every waiting (not running) task."""
        with self._cond:
            tasks = list(self._waiting.values())
            self._waiting.clear()
            self._cond.notify_all()
            return tasks


class BackgroundWorker:
    """Feeds queued tasks to ``process`` (default: call the task) one at a time, on one daemon thread.

    Args:
        name: shows in the thread name (``yolo_hooks-<name>``) and in the last-resort error log.
        process: what to do with a task; None runs each task as a callable.
        on_replace, on_skip: latest-wins callbacks (see the module docstring).
        nice: on Linux, the thread's own nice value (19: lowest CPU priority), so that copying and hashing yield
            the cores to the training; None leaves it alone.
        linger: idle seconds before the thread ends by itself (None: only :meth:`close` ends it).
        settle: seconds an idle worker waits after it is woken before it starts (default ``SETTLE``; 0: none).
            Work is queued from inside a callback, and the hooks' callbacks of one event run back to back: a worker
            that started at once would hold the GIL (HTTP, bookkeeping in Python) while the training thread
            still has the rest of them to run, and that thread would wait for it. Waiting out the burst moves the
            worker's Python to the training step, where torch releases the GIL.
    """

    def __init__(
        self,
        name: str,
        process: Callable[[Any], None] | None = None,
        *,
        on_replace: Callable[[Any, Any], None] | None = None,
        on_skip: Callable[[Any], None] | None = None,
        nice: int | None = None,
        linger: float | None = 30.0,
        settle: float | None = None,
    ):
        self.name = name
        self.settle = SETTLE if settle is None else settle
        self.queue = LatestWinsQueue(on_replace)
        self.nice = nice
        self.linger = self._linger = linger
        self.cpu_seconds = 0.0  # CPU time this worker's thread spent on tasks (benchmarks, diagnostics)
        self._process = process
        self._on_skip = on_skip
        self._thread: threading.Thread | None = None
        self._closing = False

    def start(self) -> None:
        """Start the thread now if it is not running (idempotent), e.g. so a later submit pays no thread start."""
        with self.queue._cond:
            self._closing = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=THREAD_PREFIX + self.name, daemon=True)
                self._thread.start()

    def hold(self) -> None:
        """Start the thread now and keep it, idle or not, until :meth:`close` (for the length of a training).

        An epoch is usually longer than ``linger``: without this the thread would end between epochs and the next
        epoch's first submit would start a new one on the training thread (a thread start costs hundreds of
        microseconds there). :meth:`close` ends the hold.
        """
        with self.queue._cond:
            self.linger = None
            self.start()

    def submit(self, task: Any, slot: str | None = None) -> Any:
        """Queue ``task`` (microseconds; starts the thread if needed); returns the task it replaced, if any."""
        with self.queue._cond:
            replaced = self.queue.put(task, slot)
            self.start()
        if replaced is not None and self._on_skip is not None:
            self._on_skip(replaced)
        return replaced

    def pending(self) -> int:
        """Tasks waiting or running."""
        return len(self.queue.pending())

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued task to finish; True when all did."""
        return self.queue.flush(timeout)

    def drain(self) -> list:
        """Remove and return the tasks that have not started (e.g. to persist them after a flush timeout)."""
        return self.queue.drain()

    def close(self) -> None:
        """Let the thread end as soon as its queue is empty (a later submit starts a new one)."""
        with self.queue._cond:
            self._closing = True
            self.linger = self._linger  # a hold ends here
            self.queue._cond.notify_all()

    def join(self, timeout: float) -> bool:
        """After :meth:`close`: wait up to ``timeout`` seconds for the thread to end; True when none is running."""
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, timeout))
        return self._thread is None or not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        """True while the thread runs."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def _run(self) -> None:
        _lower_priority(self.nice)
        queue = self.queue
        idle_since = time.monotonic()
        while True:
            with queue._cond:
                woken = False
                while not queue._waiting:
                    left = None if self.linger is None else idle_since + self.linger - time.monotonic()
                    if self._closing or (left is not None and left <= 0):
                        self._thread = None  # under the lock: a submit from now on starts a new thread
                        return
                    queue._cond.wait(left)
                    woken = True
                task = None if woken and self.settle else queue._take_locked()
            if task is None:  # woken from idle: let the thread that queued the work finish its burst of callbacks
                time.sleep(self.settle)
                continue  # then take it (unless a drain took it meanwhile)
            started = time.thread_time()
            try:
                (self._process or _call)(task)
            except Exception as e:  # a task must handle its own errors; this is the last line of defence
                LOGGER.warning(scrub(f"yolo_hooks: background task of {self.name} failed: {type(e).__name__}: {e}"))
            finally:
                self.cpu_seconds += time.thread_time() - started
                queue.done(task)
                idle_since = time.monotonic()


def _call(task: Callable[[], None]) -> None:
    task()


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
