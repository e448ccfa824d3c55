"""The plain data the detection rules read and write: an amount of time, one detected object, one frame, an alert.

Examples:
    >>> Duration(15, "frames").held(first_index=0, first_time=0.0, index=14, now=1.4)
    True
    >>> Frame(0, 0.0, 640, 480, (Detection("person", 0.9, (10, 10, 50, 200), track_id=7),)).detections[0].track_id
    7
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

EPSILON = 1e-9  # video time is frame / fps: 4.1 - 0.1 must count as 4 s


@dataclass(frozen=True)
class Duration:
    """An amount of ``seconds`` or ``frames``."""

    amount: float
    unit: str = "seconds"

    def held(self, first_index: int, first_time: float, index: int, now: float) -> bool:
        """Has a condition true from frame ``first_index`` to ``index`` (both counted) lasted this long?"""
        if self.unit == "frames":
            return index - first_index + 1 >= self.amount
        return now - first_time >= self.amount - EPSILON

    def passed(self, since_index: int, since_time: float, index: int, now: float) -> bool:
        """Has this much passed since frame ``since_index`` (a cooldown of 2 frames after frame 5 ends at 7)?"""
        if self.unit == "frames":
            return index - since_index >= self.amount
        return now - since_time >= self.amount - EPSILON

    def __str__(self) -> str:
        return f"{self.amount:g} frame{'s' * (self.amount != 1)}" if self.unit == "frames" else f"{self.amount:g} s"


class Detection(NamedTuple):
    """One detected object (``box`` is x1, y1, x2, y2 in pixels; None for a classification's top-1).

    A named tuple, not a dataclass: the frame loop builds one per object that passes the filter, and a tuple is
    built several times faster."""

    cls: str
    conf: float
    box: tuple[float, float, float, float] | None = None
    track_id: int | None = None


class Frame(NamedTuple):
    """One frame as plain data: ``index`` is the frame's number in its source from 0 (a video's own frame
    number); ``time`` in seconds (the video's clock when known, else the wall clock)."""

    index: int
    time: float
    width: int
    height: int
    detections: tuple[Detection, ...] = ()


@dataclass(frozen=True)
class Alert:
    """An alert raised on one frame for one subject (and zone): the detections that made it, the counts per class,
    its event (``update`` 1 starts the event, more is a later alert of the same event)."""

    rule: str
    severity: str
    frame_index: int
    time: float
    subject: str
    zone: int | None
    detections: tuple[Detection, ...]
    counts: dict[str, int]
    held_for: float  # seconds since the subject's stay began
    message: str
    event: int = 0
    update: int = 1

    @property
    def track_ids(self) -> list[int]:
        return sorted({d.track_id for d in self.detections if d.track_id is not None})

    def as_dict(self, max_detections: int = 100) -> dict[str, Any]:
        """JSON-ready (boxes rounded to 0.1 px; at most ``max_detections``, the most confident)."""
        shown = sorted(self.detections, key=lambda d: -d.conf)[:max_detections]
        return {
            "rule": self.rule, "severity": self.severity, "frame_index": self.frame_index, "time": self.time,
            "subject": self.subject, "zone": self.zone, "counts": dict(self.counts), "track_ids": self.track_ids,
            "held_for": round(self.held_for, 3), "message": self.message,
            "detections": [
                {"class": d.cls, "conf": float(f"{d.conf:.4g}"), "track_id": d.track_id,
                 "box": None if d.box is None else [round(v, 1) for v in d.box]}
                for d in shown
            ],
            "detections_total": len(self.detections),
        }  # fmt: skip
