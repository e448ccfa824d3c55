"""Copies of the files ``model.export()`` makes, mirrored like best.pt; nothing waits for them on the user's thread:
the interpreter's exit does, within one deadline for every hook (:func:`yolo_hooks.core.deadline.at_exit`).

:class:`ExportCopies` is a collaborator of :class:`~yolo_hooks.mirror.hook.BestMirror`: it finds an export's output
files and hands each to the mirror through the callables it was given; it knows nothing of the mirror's insides.
"""

from __future__ import annotations

import weakref
from pathlib import Path
from typing import Any, Callable

from ..core.deadline import Deadline, at_exit
from ..core.exports import entries, outputs
from ..core.run_info import run_info
from .staging import STAGING


class ExportCopies:
    """One export at a time: when it began, what it made, and the waiting for those copies at the interpreter's exit.

    Args:
        copy: ``copy(file, info)`` queues one output file for every store (never waits).
        release: lets the mirror's threads end once their copies are done (an export is not a training).
        busy: True while copies are still queued.
        finish: ``finish(staging_folder, seconds)`` waits for the copies and reports what is missing.
        flush_timeout: at most this much of the exit's deadline is spent on them.
    """

    def __init__(self, copy: Callable[[Path, dict[str, Any]], None], release: Callable[[], None],
                 busy: Callable[[], bool], finish: Callable[[Path, float], None], flush_timeout: float):
        self.copy, self.release, self.busy, self.finish = copy, release, busy, finish
        self.flush_timeout = flush_timeout
        self.before: dict[str, int] = {}
        self.staging: Path | None = None

    def start(self, exporter: Any) -> None:
        """An export begins: what is next to its source now is not its output."""
        source = Path(exporter.file)
        self.before = entries(source.parent, source.stem)

    def end(self, exporter: Any, fmt: str) -> list[Path]:
        """Queue the export's output files (returns them; empty when none was found) and let the exit wait."""
        source = Path(exporter.file)
        made = outputs(source, self.before)
        info = {"format": fmt, "source": str(source), **run_info(exporter)}
        for output in made:
            self.copy(output, {**info, "source": str(output)})
        if made:
            self.release()  # no wait on the user's thread: each thread ends once its copies are done
            self.staging = source.parent / STAGING
            _EXPORTING.add(self)  # the interpreter's exit waits for them (one deadline for all)
        return made

    def finish_at_exit(self, deadline: Deadline) -> None:
        if self.busy() and self.staging is not None:
            self.finish(self.staging, deadline.left(self.flush_timeout))

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "before": {}, "staging": None}  # a DDP worker has no export in flight


# Exports with copies in flight: the interpreter's exit waits for them within one deadline.
_EXPORTING: weakref.WeakSet[ExportCopies] = weakref.WeakSet()


def _finish_exports_at_exit(deadline: Deadline) -> None:
    for copies in list(_EXPORTING):
        copies.finish_at_exit(deadline)


at_exit(_finish_exports_at_exit)
