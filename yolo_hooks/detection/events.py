"""Events: what an alert begins and what ends it, as pure functions over the rule's open events.

An event begins with an alert for a (subject, zone) key and lasts while that key's condition holds; each frame
where it holds counts, and the most confident of them is its best frame. It ends once the condition has not held
for the rule's ``end_after`` (or its source ends): an :class:`EventEnd` with its duration, frames and best
confidence. Called by :func:`yolo_hooks.detection.rules.evaluate`.

Examples:
    >>> event = Event(1, 0, 0.0, 0, 0.0, 1, 0.5, 0, 1, "person")
    >>> ended("r", "warning", ("track:7", None), event._replace(last_index=30, last_time=3.0, frames=31)).message
    'person (track 7): event over after 3.0 s, 31 frames, best confidence 0.50'
"""

from __future__ import annotations

from typing import Any, NamedTuple

Key = tuple[str, Any]  # (subject, zone index or None)


class Event(NamedTuple):
    """An open event: begun by an alert, lasting while its key's condition holds."""

    number: int
    start_index: int
    start_time: float
    last_index: int  # the last frame where the condition held
    last_time: float
    frames: int  # frames where the condition held, the first included
    best_conf: float
    best_index: int
    alerts: int  # alerts raised in it (1: its start; more: updates)
    cls: str


class EventEnd(NamedTuple):
    """An event whose condition has not held for ``end_after`` (or whose source ended)."""

    rule: str
    severity: str
    event: int
    subject: str
    zone: int | None
    cls: str
    start_index: int
    start_time: float
    end_index: int  # the last frame where its condition held
    end_time: float
    frames: int
    best_conf: float
    best_index: int
    alerts: int

    @property
    def duration(self) -> float:
        return self.end_time - self.start_time

    @property
    def message(self) -> str:
        who = who_of(self.subject, self.cls)
        where = "" if self.zone is None else f" (zone {self.zone + 1})"
        return (f"{who}{where}: event over after {self.duration:.1f} s, {self.frames} frame{'s' * (self.frames != 1)}, "
                f"best confidence {self.best_conf:.2f}")


def opened(number: int, key: Key, frame: Any, dets: tuple) -> Event:
    """A new event, begun by an alert on ``frame`` for ``key`` with its detections ``dets``."""
    top = max(dets, key=lambda d: d.conf) if dets else None
    cls = top.cls if top else key[0].split(":", 1)[-1]
    return Event(number, frame.index, frame.time, frame.index, frame.time, 1, top.conf if top else 0.0, frame.index, 0,
                 cls)


def extend_events(events: dict[Key, Event], frame: Any, holding: dict) -> tuple[int, ...]:
    """Open events whose key holds on this frame last one frame longer; returns those whose best frame it is."""
    best = []
    for key, event in events.items():
        dets = holding.get(key)
        if dets is None:
            continue
        conf = max((d.conf for d in dets), default=0.0)
        if conf > event.best_conf:
            event = event._replace(best_conf=conf, best_index=frame.index)
            best.append(event.number)
        events[key] = event._replace(last_index=frame.index, last_time=frame.time, frames=event.frames + 1)
    return tuple(best)


def end_events(rule: Any, events: dict[Key, Event], frame: Any, holding: dict) -> tuple[EventEnd, ...]:
    """Events whose key has not held for the rule's ``end_after`` end (removed from ``events``)."""
    ends = []
    for key, event in list(events.items()):
        if key not in holding and rule.end_after.passed(event.last_index, event.last_time, frame.index, frame.time):
            ends.append(ended(rule.name, rule.severity, key, event))
            del events[key]
    return tuple(ends)


def ended(rule: str, severity: str, key: Key, event: Event) -> EventEnd:
    """The end of ``event`` of ``key``, at the last frame where its condition held."""
    return EventEnd(rule, severity, event.number, key[0], key[1], event.cls, event.start_index,
                    event.start_time, event.last_index, event.last_time, event.frames, event.best_conf,
                    event.best_index, event.alerts)  # fmt: skip


def who_of(subject: str, cls: str) -> str:
    """A subject in words: ``person (track 7)``, ``person`` (a class), ``the frame`` (``count: total``)."""
    kind, _, rest = subject.partition(":")
    if kind == "track":
        return f"{cls} (track {rest})"
    return "the frame" if subject == "total" else rest
