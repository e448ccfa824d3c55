"""The rules behind :class:`~yolo_hooks.detection.hook.DetectionAlert`, as plain functions over plain data.

``evaluate(rule, state, frame) -> (new_state, alert or None)``: one frame's detections in, the alert it causes
out. Nothing here touches a predictor, an image, a file or a logger, so the tests are tables of scripted frames.

Vocabulary (the same words as every other hook):

- a **subject** is what a duration and a cooldown are kept for: one tracked object (``track:7``) when the frame
  carries track ids and the rule asks about presence, otherwise one class (``class:person``), or the whole frame
  (``total``) when ``count: total``;
- ``min_duration``: how long (seconds, or frames) a subject's condition must hold, without a break, before firing;
- ``cooldown``: the time after firing during which the same (rule, subject) does not fire again — even if it leaves
  and comes back; once it has passed, a subject whose condition still holds fires again;
- ``max_per_minute``: at most this many alerts of the rule in any 60 s (of frame time); a firing held back by it is
  not lost, it fires on the next frame where there is room;
- ``trigger: inside`` fires while the anchor point is inside a zone; ``trigger: enter`` only for a subject that was
  seen outside (a track's anchor outside every zone, or, without tracks, a frame where the condition was false)
  before its current stay inside.

Examples:
    >>> rule = Rule(name="person", classes=("person",), cooldown=Duration(60))
    >>> frame = Frame(index=0, time=0.0, width=640, height=480,
    ...               detections=(Detection("person", 0.9, (10, 10, 50, 200)),))
    >>> state, alert = evaluate(rule, RuleState(), frame)
    >>> alert.subjects, alert.counts
    (('class:person',), {'person': 1})
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass, field
from typing import Any, NamedTuple

ANCHORS = ("bottom_center", "center", "top_center", "bottom_left", "bottom_right", "top_left", "top_right")
TRIGGERS = ("inside", "enter")
COUNTS = ("per_class", "total")
FORGET_AFTER_FRAMES = 300  # a track id not seen for this many frames is forgotten (bounded memory on endless streams)


@dataclass(frozen=True)
class Duration:
    """An amount of ``seconds`` or ``frames``."""

    amount: float
    unit: str = "seconds"

    def held(self, first_index: int, first_time: float, index: int, now: float) -> bool:
        """Has a condition true from frame ``first_index`` to ``index`` (both counted) lasted this long?"""
        if self.unit == "frames":
            return index - first_index + 1 >= self.amount
        return now - first_time >= self.amount

    def passed(self, since_index: int, since_time: float, index: int, now: float) -> bool:
        """Has this much passed since frame ``since_index`` (a cooldown of 2 frames after frame 5 ends at 7)?"""
        if self.unit == "frames":
            return index - since_index >= self.amount
        return now - since_time >= self.amount

    def __str__(self) -> str:
        return f"{self.amount:g} frame{'s' * (self.amount != 1)}" if self.unit == "frames" else f"{self.amount:g} s"


@dataclass(frozen=True)
class Zone:
    """A polygon in pixels, or in 0-1 fractions of the frame's width and height (``normalized``)."""

    points: tuple[tuple[float, float], ...]
    normalized: bool = False

    def pixels(self, width: int, height: int) -> tuple[tuple[float, float], ...]:
        """The polygon in pixels of a ``width`` x ``height`` frame."""
        if not self.normalized:
            return self.points
        return tuple((x * width, y * height) for x, y in self.points)

    def contains(self, x: float, y: float, width: int, height: int) -> bool:
        """Is the point inside (even-odd rule; a point on the left/bottom edge counts as inside)?"""
        pts = self.pixels(width, height)
        inside = False
        j = len(pts) - 1
        for i in range(len(pts)):
            (xi, yi), (xj, yj) = pts[i], pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return inside


class Detection(NamedTuple):
    """One detected object (``box`` is x1, y1, x2, y2 in pixels; None for a classification's top-1).

    A named tuple, not a dataclass: the frame loop builds one per object that passes the filter, and a tuple is
    built several times faster."""

    cls: str
    conf: float
    box: tuple[float, float, float, float] | None = None
    track_id: int | None = None


class Frame(NamedTuple):
    """One frame as plain data: ``index`` counts the frames of its source from 0; ``time`` in seconds (the video
    timestamp when known, else the wall clock). A named tuple: one is built on every frame of the loop."""

    index: int
    time: float
    width: int
    height: int
    detections: tuple[Detection, ...] = ()


@dataclass(frozen=True)
class Rule:
    """One validated rule (see the module docstring for the words). ``classes`` None means every class;
    ``min_count`` None means 1, or 0 when ``max_count`` is given ("at most 1 helmet" includes none)."""

    name: str
    classes: tuple[str, ...] | None = None
    min_conf: float = 0.25
    min_count: int | None = None
    max_count: int | None = None
    count: str = "per_class"
    zones: tuple[Zone, ...] = ()
    anchor: str = "bottom_center"
    trigger: str = "inside"
    min_duration: Duration = Duration(0)
    cooldown: Duration = Duration(60)
    max_per_minute: int | None = None
    severity: str = "warning"

    @functools.cached_property  # read on every frame; a frozen rule never changes
    def lowest(self) -> int:
        return self.min_count if self.min_count is not None else (0 if self.max_count is not None else 1)

    @functools.cached_property
    def is_presence(self) -> bool:
        """"Any object of these classes" (per object when tracking), as opposed to a count condition."""
        return self.lowest <= 1 and self.max_count is None


@dataclass(frozen=True)
class Stay:
    """A subject whose condition holds: since when, and whether it entered (was seen outside before)."""

    first_index: int
    first_time: float
    entered: bool


@dataclass
class RuleState:
    """What one rule remembers between frames (bounded: current subjects, recent firings, recent tracks)."""

    stays: dict[str, Stay] = field(default_factory=dict)
    fired_at: dict[str, tuple[int, float]] = field(default_factory=dict)  # subject -> (index, time) of last firing
    seen_outside: dict[str, int] = field(default_factory=dict)  # subject -> last frame index seen outside
    recent: collections.deque = field(default_factory=collections.deque)  # times of firings in the last minute
    pruned: int = 0  # frame index of the last pruning of old firings and tracks
    fired: int = 0
    held_back: int = 0  # firings delayed by max_per_minute


@dataclass(frozen=True)
class Alert:
    """What fired on one frame: the subjects, the detections that made it, the counts per class."""

    rule: str
    severity: str
    frame_index: int
    time: float
    subjects: tuple[str, ...]
    detections: tuple[Detection, ...]
    counts: dict[str, int]
    held_for: float  # seconds since the longest-held subject's condition began
    message: str

    @property
    def track_ids(self) -> list[int]:
        return sorted({d.track_id for d in self.detections if d.track_id is not None})

    def as_dict(self, max_detections: int = 100) -> dict[str, Any]:
        """JSON-ready (boxes rounded to 0.1 px; at most ``max_detections``, the most confident)."""
        shown = sorted(self.detections, key=lambda d: -d.conf)[:max_detections]
        return {
            "rule": self.rule, "severity": self.severity, "frame_index": self.frame_index, "time": self.time,
            "subjects": list(self.subjects), "counts": dict(self.counts), "track_ids": self.track_ids,
            "held_for": round(self.held_for, 3), "message": self.message,
            "detections": [
                {"class": d.cls, "conf": float(f"{d.conf:.4g}"), "track_id": d.track_id,
                 "box": None if d.box is None else [round(v, 1) for v in d.box]}
                for d in shown
            ],
            "detections_total": len(self.detections),
        }  # fmt: skip


def anchor_point(box: tuple[float, float, float, float], anchor: str) -> tuple[float, float]:
    """The point of ``box`` that must lie in a zone."""
    x1, y1, x2, y2 = box
    vertical, _, horizontal = anchor.partition("_")
    x = {"left": x1, "right": x2, "center": (x1 + x2) / 2}[horizontal or "center"]
    y = {"top": y1, "bottom": y2, "center": (y1 + y2) / 2}[vertical]
    return x, y


def in_zones(rule: Rule, det: Detection, frame: Frame) -> bool:
    """No zones: everywhere counts. Otherwise the anchor must lie in at least one zone."""
    if not rule.zones:
        return True
    if det.box is None:
        return False
    x, y = anchor_point(det.box, rule.anchor)
    return any(z.contains(x, y, frame.width, frame.height) for z in rule.zones)


def _conditions(rule: Rule, frame: Frame) -> tuple[dict[str, list[Detection]], set[str], dict[str, int]]:
    """Subjects whose condition holds (with their detections), subjects seen outside, and counts per class."""
    classes = rule.classes
    min_conf = rule.min_conf
    if classes is None:
        wanted = [d for d in frame.detections if d.conf >= min_conf]
    else:
        wanted = [d for d in frame.detections if d.cls in classes and d.conf >= min_conf]
    inside = [d for d in wanted if in_zones(rule, d, frame)] if rule.zones else wanted
    counts = dict(collections.Counter(d.cls for d in inside))
    tracked = rule.is_presence and rule.count == "per_class" and wanted and all(d.track_id is not None for d in wanted)
    if tracked:
        holding = {f"track:{d.track_id}": [d] for d in inside}
        outside = {f"track:{d.track_id}" for d in wanted if d not in inside}
        return holding, outside, counts
    if rule.count == "total":
        groups = {"total": inside}
    else:
        names = rule.classes if rule.classes is not None else sorted(set(counts) | {d.cls for d in wanted})
        groups = {f"class:{name}": [d for d in inside if d.cls == name] for name in names}
    holding, outside = {}, set()
    for subject, dets in groups.items():
        n = len(dets)
        if n >= rule.lowest and (rule.max_count is None or n <= rule.max_count):
            holding[subject] = dets
        else:
            outside.add(subject)
    return holding, outside, counts


def is_idle(rule: Rule, state: RuleState) -> bool:
    """True when a frame without detections changes nothing: no stay is under way and the rule asks about presence
    (a count rule such as ``max_count`` may hold on an empty frame). A caller may then skip such a frame."""
    return not state.stays and rule.is_presence


def evaluate(rule: Rule, state: RuleState, frame: Frame) -> tuple[RuleState, Alert | None]:
    """Apply ``rule`` to one frame; returns the new state and the alert (None when nothing fired)."""
    if not frame.detections and is_idle(rule, state):  # the common quiet frame: nothing changes
        return state, None
    state = _copy(state)
    holding, outside, counts = _conditions(rule, frame)
    for subject in outside:
        state.seen_outside[subject] = frame.index
    # A subject's stay ends at the first frame where its condition does not hold (or it is not seen at all).
    state.stays = {s: stay for s, stay in state.stays.items() if s in holding}
    first_frame = frame.index == 0  # frames are counted from 0 per source: nothing was seen before this one
    for subject in holding:
        if subject not in state.stays:
            entered = subject in state.seen_outside or (not first_frame and not subject.startswith("track:"))
            state.stays[subject] = Stay(frame.index, frame.time, entered)

    while state.recent and state.recent[0] <= frame.time - 60.0:
        state.recent.popleft()
    due = []
    for subject in sorted(holding):
        stay = state.stays[subject]
        if rule.trigger == "enter" and not stay.entered:
            continue
        if not rule.min_duration.held(stay.first_index, stay.first_time, frame.index, frame.time):
            continue
        last = state.fired_at.get(subject)
        if last is not None and not rule.cooldown.passed(*last, frame.index, frame.time):
            continue
        due.append(subject)

    alert = None
    if due and rule.max_per_minute is not None and len(state.recent) >= rule.max_per_minute:
        state.held_back += 1
    elif due:
        for subject in due:
            state.fired_at[subject] = (frame.index, frame.time)
        state.recent.append(frame.time)
        state.fired += 1
        dets = tuple(d for s in due for d in holding[s])
        held = max(frame.time - state.stays[s].first_time for s in due)
        alert = Alert(rule.name, rule.severity, frame.index, frame.time, tuple(due), dets, counts, held,
                      describe(rule, due, dets, counts, held))
    if frame.index - state.pruned >= 64:  # pruning walks every remembered track: not on every frame
        _forget(rule, state, frame)
        state.pruned = frame.index
    return state, alert


def _copy(state: RuleState) -> RuleState:
    """A copy that shares nothing mutable with ``state`` (cheaper than deepcopy: this runs on every frame)."""
    return RuleState(dict(state.stays), dict(state.fired_at), dict(state.seen_outside),
                     collections.deque(state.recent), state.pruned, state.fired, state.held_back)


def _forget(rule: Rule, state: RuleState, frame: Frame) -> None:
    """Drop what can no longer matter: firings older than the cooldown, tracks long gone."""
    old = frame.index - FORGET_AFTER_FRAMES
    state.seen_outside = {s: i for s, i in state.seen_outside.items() if i >= old or not s.startswith("track:")}
    keep = {}
    for subject, (index, time) in state.fired_at.items():
        if not rule.cooldown.passed(index, time, frame.index, frame.time):
            keep[subject] = (index, time)
    state.fired_at = keep


def describe(rule: Rule, subjects: list[str], dets: tuple[Detection, ...], counts: dict[str, int], held: float) -> str:
    """One line for humans, e.g. ``1 person seen in zone (track 7) for 2.0 s``."""
    tracks = sorted({d.track_id for d in dets if d.track_id is not None})
    found = ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "nothing"
    where = " in zone" if rule.zones else ""
    verb = "entered" if rule.trigger == "enter" else "seen"
    who = f" (track{'s' * (len(tracks) > 1)} {', '.join(map(str, tracks))})" if tracks else ""
    since = f" for {held:.1f} s" if held > 0 else ""
    if not rule.is_presence:
        bounds = f"{rule.lowest}..{rule.max_count if rule.max_count is not None else '∞'}"
        return f"{found}{where} (count within {bounds}){since}"
    return f"{found} {verb}{where}{who}{since}"
