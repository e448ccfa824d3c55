"""The export half of :class:`~yolo_hooks.mirror.hook.BestMirror`: files made by ``model.export()`` are mirrored
like best.pt, but nothing waits for them on the user's thread; the interpreter's exit does, within one deadline for
every hook (:func:`yolo_hooks.core.deadline.at_exit`).

:class:`ExportCopies` holds the two export events; the hook that inherits it provides ``exports``, ``_jobs``,
``_submit``, ``_workers``, ``_snapshotter`` and ``_finish``.
"""

from __future__ import annotations

import time
import weakref
from pathlib import Path

from ..core.deadline import Deadline, at_exit
from ..core.run_info import run_info
from .staging import STAGING, file_identity


class ExportCopies:
    """``on_export_start`` / ``on_export_end``: mirror the exported file(s) when ``exports`` asks for the format."""

    def on_export_start(self, exporter):
        """Remember when the export began, to recognise its output files."""
        self._export_start = time.time()

    def on_export_end(self, exporter):
        """Mirror the exported file(s) when ``exports`` asks for this format; the copies finish in the background."""
        fmt = str(getattr(exporter.args, "format", "")).lower()
        if not self.exports or not self.is_main_process or (self.exports is not True and fmt not in self.exports):
            return
        source = Path(exporter.file)
        outputs = export_outputs(source, self._export_start or 0.0)
        if not outputs:
            self.log(f"found no {fmt} export of {source.name} to mirror", "warning")
            return
        info = {"format": fmt, "source": str(source), **run_info(exporter)}
        staging = source.parent / STAGING
        for output in outputs:
            self._submit(self._jobs(f"export:{output.name}", "export", output, file_identity(output), staging.parent,
                                    [output.name], None, None, {**info, "source": str(output)}))
        for worker in [*(self._workers or []), self._snapshotter]:
            worker.close()  # no wait on the user's thread: each thread ends once its copies are done
        self._export_staging = staging
        _EXPORTING.add(self)  # the interpreter's exit waits for them (one deadline for all)


def export_outputs(source: Path, since: float) -> list[Path]:
    """Files/folders next to ``source`` named after it and written since the export began (its output)."""
    out = []
    for entry in source.parent.iterdir():
        if entry == source or not entry.name.startswith(source.stem) or entry.name.startswith("."):
            continue
        if entry.stat().st_mtime >= since - 1.0:
            out.append(entry)
    return sorted(out)


# Hooks with export copies in flight: the interpreter's exit waits for them within one deadline.
_EXPORTING: weakref.WeakSet[ExportCopies] = weakref.WeakSet()


def _finish_exports_at_exit(deadline: Deadline) -> None:
    for hook in list(_EXPORTING):
        if any(w.pending() for w in hook._workers or []):
            hook._finish(hook._export_staging, deadline.left(hook.flush_timeout))


at_exit(_finish_exports_at_exit)
