"""The frame loop's side of the image worker: what :class:`~yolo_hooks.detection.hook.DetectionAlert` hands over
when an alert is raised or an event ends, and nothing more.

The frame loop copies the frame (into the buffer of a finished image when one fits: a fresh array of a few MB is
fresh pages from the kernel, whose page faults made the slowest hand-overs), keeps an alert until its ``after``
frames have come, and queues it; the worker draws, encodes and writes. Captures reach the worker in the order they
were given (an event's end never overtakes its start still collecting after-frames). The queue is bounded: beyond
``MAX_QUEUED`` waiting images an alert is recorded without its image, with a note saying so.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Callable

from .rules import Alert, EventEnd

MAX_QUEUED = 8  # images waiting for the worker; beyond this an alert is recorded without its image


@dataclass
class Capture:
    """What the worker needs to make the files of one alert or event end (frames are references or copies, never
    encoded)."""

    alert: Alert | EventEnd
    record: dict[str, Any]  # where and when (the rest of the alerts.jsonl line is made on the worker)
    result: Any = None  # the frame's Results (made private on the worker); None: recorded without an image
    image: Any = None  # a private copy of the frame itself (the user may draw on theirs afterwards)
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    fps: float = 10.0
    note: str | None = None
    highlight: tuple = ()  # an event end's detections to outline (an alert outlines its own)
    needs: int = 0  # after-frames still to come before it is queued


class Handover:
    """Alerts waiting for their after-frames, frame buffers to reuse, and the worker that ``write`` s each image
    (made on first use, named ``<name>-images``; ``started`` is called once it exists)."""

    def __init__(self, name: str, after: int, write: Callable[[Capture], None], started: Callable[[], None]):
        self.name, self.after, self.write, self.started = name, after, write, started
        self.worker = None
        self.waiting: list[Capture] = []  # alerts still collecting after-frames
        self.spare: collections.deque = collections.deque(maxlen=MAX_QUEUED + 1)

    def give(self, capture: Capture, result: Any, before: list) -> None:
        """Hand ``capture`` over with a copy of ``result``'s frame (``result`` None: recorded without an image)."""
        queued = 0 if self.worker is None else self.worker.pending()
        if result is not None and queued >= MAX_QUEUED:
            capture.note = f"image skipped: {queued} images still being written"
        elif result is not None:  # the Results is made private (.cpu()) on the worker; the frame is copied here
            capture.result, capture.image, capture.before = result, self._copy(result.orig_img), before
        if capture.result is not None and isinstance(capture.alert, Alert):
            capture.needs = self.after
        self.waiting.append(capture)
        self._submit_ready()

    def feed(self, image: Any) -> None:
        """A new frame: an after-frame of every alert still waiting; those that have all theirs are queued."""
        for capture in self.waiting:
            if len(capture.after) < capture.needs:
                capture.after.append(image)
        self._submit_ready()

    def _submit_ready(self) -> None:
        waiting = self.waiting
        while waiting and len(waiting[0].after) >= waiting[0].needs:
            self._submit(waiting.pop(0))

    def done(self, capture: Capture) -> None:
        """The worker wrote ``capture``'s files: its frame buffer can take the next copy."""
        if capture.image is not None:
            self.spare.append(capture.image)
            capture.image = None

    def close(self, timeout: float) -> bool:
        """Queue every waiting alert (with the after-frames it has) and wait for the files; True when done."""
        for capture in self.waiting:
            self._submit(capture)
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

    def _submit(self, capture: Capture) -> None:
        if self.worker is None:
            from ..core.worker import BackgroundWorker

            self.worker = BackgroundWorker(f"{self.name}-images")
            self.started()
        self.worker.submit(lambda: self.write(capture))
