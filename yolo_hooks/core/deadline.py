"""One deadline for all of a run's end-of-run work (every hook's flush together), spent only once.

Examples:
    >>> deadline = Deadline(10.0)
    >>> 9.0 < deadline.left() <= 10.0
    True
    >>> Deadline(0).left()
    0.0
"""

from __future__ import annotations

import atexit
import time
from typing import Callable

END_TIMEOUT = 10.0  # seconds the end of a training (or the interpreter's exit) waits for all hooks together


class Deadline:
    """A point in time (monotonic clock); :meth:`left` is what remains of it, never negative."""

    def __init__(self, seconds: float):
        self.seconds = float(seconds)
        self.end = time.monotonic() + max(0.0, self.seconds)

    def left(self, cap: float | None = None) -> float:
        """Seconds left (at most ``cap``)."""
        left = max(0.0, self.end - time.monotonic())
        return left if cap is None else min(left, max(0.0, cap))

    @property
    def passed(self) -> bool:
        return self.left() <= 0.0

    def __repr__(self) -> str:
        return f"Deadline({self.seconds:g}s, {self.left():.1f}s left)"


_exit_timeout = END_TIMEOUT


def set_exit_timeout(seconds: float) -> None:
    """How long the interpreter's exit waits for background work left after the last run (all of it together)."""
    global _exit_timeout
    _exit_timeout = float(seconds)


def exit_deadline() -> Deadline:
    """A new deadline of the exit timeout (started now)."""
    return Deadline(_exit_timeout)


_AT_EXIT: list[tuple[bool, Callable[[Deadline], None]]] = []


def at_exit(finish: Callable[[Deadline], None], last: bool = False) -> None:
    """Run ``finish(deadline)`` when the interpreter exits, with ONE deadline shared by everything registered here
    (alert images and mirror copies first, ``last=True`` — the notifiers, which send what those publish — after)."""
    _AT_EXIT.append((last, finish))


@atexit.register
def finish_background_work() -> None:
    """Everything registered with :func:`at_exit`, now, within one exit deadline (the interpreter's exit calls it;
    so does the ``yolo-hooks`` command when its job is done, the end of its process). Safe to call twice."""
    deadline = exit_deadline()
    for _, finish in sorted(_AT_EXIT, key=lambda item: item[0]):
        try:
            finish(deadline)
        except Exception:  # the interpreter is going away: nothing to report to, nothing to raise into
            pass
