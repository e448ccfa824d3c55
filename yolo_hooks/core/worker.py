"""A lazily started background thread, so that slow work (HTTP, copies, uploads) never runs on the training thread.

The training thread only calls :meth:`BackgroundWorker.submit`, which appends to a deque and signals a
condition: a few microseconds. The thread starts on the first submit (never in ``__init__``, so that the owning
hook still pickles for DDP) and is a daemon, so a forgotten flush cannot keep the process alive.

Examples:
    >>> worker = BackgroundWorker("demo")
    >>> worker.submit(lambda: print("done in the background"))
    >>> worker.flush(timeout=5)
    done in the background
    True
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from ultralytics.utils import LOGGER

from .redact import scrub


class BackgroundWorker:
    """Runs submitted callables one at a time, in order, on one daemon thread."""

    def __init__(self, name: str):
        self.name = name
        self._tasks: collections.deque[Callable[[], None]] = collections.deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._closed = False

    def submit(self, task: Callable[[], None]) -> None:
        """Queue ``task``; starts the thread on first use. Never blocks on the task itself."""
        with self._cond:
            self._tasks.append(task)
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(target=self._run, name=f"yolo_hooks-{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        """Tasks queued or running."""
        with self._cond:
            return len(self._tasks) + (1 if self._busy else 0)

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued task to finish; True when all did."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._tasks or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def drain(self) -> list[Callable[[], None]]:
        """Remove and return the tasks that have not started (e.g. to persist them after a flush timeout)."""
        with self._cond:
            tasks = list(self._tasks)
            self._tasks.clear()
            return tasks

    def close(self) -> None:
        """Let the thread exit once the queue is empty."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._tasks and not self._closed:
                    self._cond.wait(1.0)
                if not self._tasks:
                    self._thread = None
                    return
                task = self._tasks.popleft()
                self._busy = True
            try:
                task()
            except Exception as e:  # a task must handle its own errors; this is the last line of defence
                LOGGER.warning(scrub(f"yolo_hooks: background task of {self.name} failed: {type(e).__name__}: {e}"))
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()
