"""Where every hook's console line goes: Ultralytics' LOGGER, and never into the middle of its progress bar.

On a terminal Ultralytics redraws its progress bar in place; a line written by another thread while the bar is
drawn lands inside it (``… 4/6 5.8it/s 0.9s<0.3sbest_mirror: best best.pt …``). So while a training runs, a line
from any thread but the training thread (an upload that finished, a delivery that failed) is held, and the core
prints what is held between two bars: when an epoch starts and ends, and at the end of the run. Held lines of one
hook come out as one line.

Examples:
    >>> console = Console()
    >>> console.training_thread = -1  # a training runs on another thread than this one
    >>> console.write("best_mirror", "info", "best_mirror:", "best.pt (epoch 3) verified")
    >>> console.write("best_mirror", "info", "best_mirror:", "last.pt (epoch 3) verified")
    >>> console.held()
    [('info', 'best_mirror: best.pt (epoch 3) verified; last.pt (epoch 3) verified')]
"""

from __future__ import annotations

import threading

from ultralytics.utils import LOGGER

LEVELS = ("info", "warning", "error")
_EMIT = {"warning": LOGGER.warning, "error": LOGGER.error}


def emit(level: str, line: str) -> None:
    """Print ``line`` now, through Ultralytics' LOGGER, at ``level`` (info, warning or error)."""
    _EMIT.get(level, LOGGER.info)(line)


class Console:
    """The console lines of the hooks of one model (one per :class:`~yolo_hooks.core.bus.Bus`)."""

    def __init__(self):
        self.training_thread: int | None = None  # set while a training runs (by the core)
        self._held: dict[str, tuple[str, str, list[str]]] = {}  # hook -> (level, prefix, bodies), in order
        self._lock = threading.Lock()

    def write(self, hook: str, level: str, prefix: str, body: str) -> None:
        """Print ``prefix body`` now, or hold it when a training runs on another thread than this one."""
        if self.training_thread is None or threading.get_ident() == self.training_thread:
            emit(level, f"{prefix} {body}")
            return
        with self._lock:
            held_level, _, bodies = self._held.setdefault(hook, (level, prefix, []))
            bodies.append(body)
            if LEVELS.index(_known(level)) > LEVELS.index(_known(held_level)):
                self._held[hook] = (level, prefix, bodies)

    def held(self) -> list[tuple[str, str]]:
        """Take the held lines: ``(level, line)``, one per hook."""
        with self._lock:
            held, self._held = self._held, {}
        return [(level, f"{prefix} {'; '.join(bodies)}") for level, prefix, bodies in held.values()]

    def flush(self) -> None:
        """Print what is held (the core calls it between two progress bars)."""
        for level, line in self.held():
            emit(level, line)

    def __getstate__(self) -> dict:
        return {"training_thread": None, "_held": {}}  # a DDP worker starts with nothing held

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()


def _known(level: str) -> str:
    return level if level in LEVELS else ("error" if level == "critical" else "info")
