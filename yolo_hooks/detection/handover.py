"""The frame loop's side of the snapshot worker: what :class:`~yolo_hooks.detection.hook.DetectionAlert` hands over
when an alert fires, and nothing more.

The frame loop copies the frame (into the buffer of a finished snapshot when one fits: a fresh array of a few MB is
fresh pages from the kernel, whose page faults made the slowest hand-overs), keeps the alert open until its
``after`` frames have come, and queues it; the worker draws, encodes and writes. The queue is bounded: beyond
``MAX_QUEUED`` waiting snapshots an alert is recorded without its image, with a note saying so.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Callable

from .rules import Alert

MAX_QUEUED = 8  # snapshots waiting for the worker; beyond this an alert is recorded without its image


@dataclass
class Snapshot:
    """What the worker needs to make the files of one alert (frames are references or copies, never encoded)."""

    alert: Alert
    record: dict[str, Any]  # where and when (the rest of the alerts.jsonl line is made on the worker)
    result: Any = None  # the frame's Results (made private on the worker); None: recorded without an image
    image: Any = None  # a private copy of the frame itself (the user may draw on theirs afterwards)
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    fps: float = 10.0
    note: str | None = None


class Handover:
    """Alerts waiting for their after-frames, frame buffers to reuse, and the worker that ``write`` s each snapshot
    (made on first use, named ``<name>-snapshots``; ``started`` is called once it exists)."""

    def __init__(self, name: str, after: int, write: Callable[[Snapshot], None], started: Callable[[], None]):
        self.name, self.after, self.write, self.started = name, after, write, started
        self.worker = None
        self.waiting: list[Snapshot] = []  # alerts still collecting after-frames
        self.spare: collections.deque = collections.deque(maxlen=MAX_QUEUED + 1)

    def give(self, snap: Snapshot, result: Any, before: list) -> None:
        """Hand ``snap`` over with a copy of ``result``'s frame (``result`` None: recorded without an image)."""
        queued = 0 if self.worker is None else self.worker.pending()
        if result is not None and queued >= MAX_QUEUED:
            snap.note = f"snapshot skipped: {queued} snapshots still being written"
        elif result is not None:  # the Results is made private (.cpu()) on the worker; the frame is copied here
            snap.result, snap.image, snap.before = result, self._copy(result.orig_img), before
        if snap.result is not None and self.after:
            self.waiting.append(snap)
        else:
            self._submit(snap)

    def feed(self, image: Any) -> None:
        """A new frame: an after-frame of every alert still waiting; those that have all theirs are queued."""
        still = []
        for snap in self.waiting:
            snap.after.append(image)
            (self._submit if len(snap.after) >= self.after else still.append)(snap)
        self.waiting = still

    def done(self, snap: Snapshot) -> None:
        """The worker wrote ``snap``'s files: its frame buffer can take the next copy."""
        if snap.image is not None:
            self.spare.append(snap.image)
            snap.image = None

    def close(self, timeout: float) -> bool:
        """Queue every waiting alert (with the after-frames it has) and wait for the files; True when done."""
        for snap in self.waiting:
            self._submit(snap)
        self.waiting = []
        return True if self.worker is None else self.worker.flush(timeout)

    def _copy(self, image: Any) -> Any:
        spare = self.spare
        while spare:
            try:
                buffer = spare.pop()
            except IndexError:  # only this thread pops, but the check and the pop are two steps
                break
            if buffer.shape == image.shape and buffer.dtype == image.dtype:
                buffer[...] = image
                return buffer
        return image.copy()

    def _submit(self, snap: Snapshot) -> None:
        if self.worker is None:
            from ..core.worker import BackgroundWorker

            self.worker = BackgroundWorker(f"{self.name}-snapshots")
            self.started()
        self.worker.submit(lambda: self.write(snap))
