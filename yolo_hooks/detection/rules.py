"""Detection rules as pure functions: a rule, its state and one frame's detections in; the alerts it raises and the
events that end out. Nothing here touches a predictor, an image, a file or a logger, so the tests are tables of
scripted frames.

Vocabulary (the same words as every other hook):

- a **subject** is what durations, cooldowns and events are kept for: one tracked object (``track:7``) when the
  frame carries track ids and the rule asks about presence, otherwise one class (``class:person``), or the whole
  frame (``total``) when ``count: total``. A tracked object is watched per zone when the rule has several;
- a subject's **stay** is the run of frames where its condition holds (inside the zone, on the side of the line
  it crossed to, outside after leaving). A tracked object's stay survives frames where the tracker does not
  report it; an untracked subject's ends at the first frame where its condition does not hold;
- ``trigger``: ``inside`` fires while the condition holds (again after each ``cooldown``); ``enter`` and
  ``leave`` fire once per stay that began by crossing the zone's edge (inwards / outwards); a ``line`` fires once
  per crossing in its ``direction``; ``dwell`` fires once per stay that lasts this long (loitering);
- zone edges and lines have a band of ``hysteresis`` around them: a side changes only once the anchor is that
  far past, so jitter on an edge is no crossing;
- ``ignore_stationary``: a tracked object whose anchor stays within ``stationary_radius`` of where it settled
  for this long stops counting (no stay, no alert), and counts again, from scratch, once it moves;
- ``min_area`` / ``max_area``: boxes outside the range are not seen at all (a track's memory is dropped);
- ``min_duration``: how long a stay must last before its alert;
- ``cooldown``: after an alert is raised for a (rule, subject, zone), that key raises none for this long, even for
  a new stay; it counts from the alert actually raised (one held back by ``max_per_minute`` starts nothing);
- ``max_per_minute``: at most this many alerts of the rule in any 60 s of frame time; an alert held back is not
  lost, it is raised at the next frame with room;
- an **event** begins with an alert and lasts while its subject's condition holds; it ends once the condition has
  not held for ``end_after`` (:class:`EventEnd`: duration, frames, best confidence and its frame). A later alert
  of the same key while it lasts (``inside`` after a cooldown) is an update of that event.

Examples:
    >>> rule = Rule(name="person", classes=("person",), cooldown=Duration(60))
    >>> frame = Frame(index=0, time=0.0, width=640, height=480,
    ...               detections=(Detection("person", 0.9, (10, 10, 50, 200)),))
    >>> state, step = evaluate(rule, RuleState(), frame)
    >>> [(a.subject, a.counts, a.event) for a in step.alerts]
    [('class:person', {'person': 1}, 1)]
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from .data import Alert, Detection, Duration, Frame  # noqa: F401 (the rules' plain data, one import away)
from .events import Event, EventEnd, Key, end_events, ended, extend_events, opened
from .geometry import ANCHOR_OF, ANCHORS, Line, Zone, anchor_point, area_in_pixels, length_in_pixels  # noqa: F401
from .motion import Track, moved, phases_of
from .wording import describe

TRIGGERS = ("inside", "enter", "leave")
DIRECTIONS = ("in", "out", "any")
COUNTS = ("per_class", "total")
FORGET_AFTER_FRAMES = 300  # a track id not seen for this many frames is forgotten (bounded memory on endless streams)


@dataclass(frozen=True)
class Rule:
    """One validated rule (see the module docstring for the words). ``classes`` None means every class;
    ``min_count`` None means 1, or 0 when ``max_count`` is given ("at most 1 helmet" includes none). Lengths and
    areas below 1 are fractions of the frame (:mod:`~yolo_hooks.detection.geometry`)."""

    name: str
    classes: tuple[str, ...] | None = None
    min_conf: float = 0.25
    min_count: int | None = None
    max_count: int | None = None
    count: str = "per_class"
    zones: tuple[Zone, ...] = ()
    anchor: str = "bottom_center"
    trigger: str = "inside"
    line: Line | None = None
    direction: str = "any"
    dwell: Duration | None = None
    stationary: Duration | None = None
    stationary_radius: float = 0.025
    min_area: float | None = None
    max_area: float | None = None
    hysteresis: float = 0.015
    min_duration: Duration = Duration(0)
    cooldown: Duration = Duration(60)
    max_per_minute: int | None = None
    severity: str = "warning"
    end_after: Duration = Duration(2)

    @functools.cached_property  # read on every frame; a frozen rule never changes
    def lowest(self) -> int:
        return self.min_count if self.min_count is not None else (0 if self.max_count is not None else 1)

    @functools.cached_property
    def is_presence(self) -> bool:
        """"Any object of these classes" (per object when tracking), as opposed to a count condition."""
        return self.lowest <= 1 and self.max_count is None

    @functools.cached_property
    def per_track(self) -> bool:
        """Subjects are track ids when the frame carries them."""
        return self.is_presence and self.count == "per_class"

    @functools.cached_property
    def needs_tracks(self) -> tuple[str, ...]:
        """The options of this rule that only work on tracked objects (``model.track``)."""
        return tuple(k for k, on in (("line", self.line is not None), ("trigger: leave", self.trigger == "leave"),
                                     ("ignore_stationary", self.stationary is not None)) if on)  # fmt: skip

    @functools.cached_property
    def once_per_stay(self) -> bool:
        """Fires once per stay (a moment: entering, leaving, crossing, having dwelt), not again while it lasts."""
        return self.trigger != "inside" or self.line is not None or self.dwell is not None

    @functools.cached_property
    def holds_when(self):
        """Does a tracked object's phase (inside a zone: True/False; side of the line: 1/-1; None: not known) satisfy
        the condition? A function, picked once per rule: it runs for every tracked box of every busy frame."""
        if self.line is not None:
            if self.direction == "any":
                return lambda phase: phase is not None
            side = 1 if self.direction == "in" else -1
            return lambda phase: phase == side
        if not self.zones:
            return lambda phase: True
        return (lambda phase: phase is False) if self.trigger == "leave" else (lambda phase: phase is True)

    @functools.cached_property
    def keys(self) -> tuple[Any, ...]:
        """A tracked object's zone indices (one per polygon; None for a line or the whole frame)."""
        return tuple(range(len(self.zones))) if self.zones and self.line is None else (None,)


@dataclass(frozen=True)
class Stay:
    """A key whose condition holds: since when, whether it began by a crossing, whether it has fired."""

    first_index: int
    first_time: float
    entered: bool
    fired: bool = False


@dataclass
class RuleState:
    """What one rule remembers between frames (bounded: current stays, recent alerts, recent tracks, open events)."""

    stays: dict[Key, Stay] = field(default_factory=dict)  # untracked subjects
    track_stays: dict[Key, Stay] = field(default_factory=dict)
    fired_at: dict[Key, tuple[int, float]] = field(default_factory=dict)  # key -> (index, time) of its last alert
    seen_outside: dict[Key, int] = field(default_factory=dict)  # untracked key -> last frame its condition was false
    tracks: dict[int, Track] = field(default_factory=dict)
    events: dict[Key, Event] = field(default_factory=dict)
    recent: collections.deque = field(default_factory=collections.deque)  # times of alerts in the last minute
    pruned: int = 0  # frame index of the last pruning of old alerts and tracks
    fired: int = 0
    held_back: int = 0  # alerts delayed by max_per_minute
    events_started: int = 0


class Step(NamedTuple):
    """What one frame did: alerts raised, events ended, events whose best frame this frame now is."""

    alerts: tuple[Alert, ...] = ()
    ends: tuple[EventEnd, ...] = ()
    best: tuple[int, ...] = ()


NOTHING = Step()


def is_idle(rule: Rule, state: RuleState) -> bool:
    """True when a frame without detections changes nothing: no untracked stay or event is under way and the rule
    asks about presence (a count rule such as ``max_count`` may hold on an empty frame). A caller may then skip
    such a frame. A tracked object's memory (its side of a zone or line, a stay) survives frames without it."""
    return not state.stays and not state.events and rule.is_presence


def evaluate(rule: Rule, state: RuleState, frame: Frame) -> tuple[RuleState, Step]:
    """Apply ``rule`` to one frame; returns the new state and what happened (:class:`Step`)."""
    if not frame.detections and is_idle(rule, state):  # the common quiet frame: nothing changes
        return state, NOTHING
    state = _copy(state)
    wanted = _wanted(rule, state, frame)
    if rule.per_track and wanted and all(d.track_id is not None for d in wanted):
        holding, stays, counts = _tracked(rule, state, frame, wanted), state.track_stays, None
    elif rule.needs_tracks:  # a line, a leave, a parked object: nothing to say about boxes without track ids
        holding, stays, counts = {}, state.track_stays, {}
    else:
        holding, counts = _untracked(rule, state, frame, wanted)
        stays = state.stays
    best = extend_events(state.events, frame, holding)
    alerts = _raise(rule, state, frame, holding, stays, counts)
    ends = end_events(rule, state.events, frame, holding)
    if frame.index - state.pruned >= 64:  # pruning walks every remembered track: not on every frame
        _forget(rule, state, frame)
        state.pruned = frame.index
    if not alerts and not ends and not best:
        return state, NOTHING
    return state, Step(alerts, ends, best + tuple(a.event for a in alerts if a.update == 1))


def finish(rule: Rule, state: RuleState) -> tuple[RuleState, tuple[EventEnd, ...]]:
    """End every open event (the source ended): each ends at the last frame where its condition held."""
    if not state.events:
        return state, ()
    ends = tuple(ended(rule.name, rule.severity, key, event) for key, event in sorted(state.events.items(), key=lambda kv: kv[1].number))
    state = _copy(state)
    state.events = {}
    return state, ends


def _copy(state: RuleState) -> RuleState:
    """A copy that shares nothing mutable with ``state`` (cheaper than deepcopy: this runs on every frame; stays,
    tracks and events are immutable and replaced, never changed)."""
    return RuleState(dict(state.stays), dict(state.track_stays), dict(state.fired_at), dict(state.seen_outside),
                     dict(state.tracks), dict(state.events), collections.deque(state.recent), state.pruned,
                     state.fired, state.held_back, state.events_started)  # fmt: skip


def _wanted(rule: Rule, state: RuleState, frame: Frame) -> list[Detection]:
    """The detections the rule looks at: its classes, ``min_conf``, and boxes within the area bounds (a tracked box
    outside them is not seen at all, and its track's memory is dropped: no crossing across the gap)."""
    classes, min_conf = rule.classes, rule.min_conf
    if classes is None:
        wanted = [d for d in frame.detections if d.conf >= min_conf]
    else:
        wanted = [d for d in frame.detections if d.cls in classes and d.conf >= min_conf]
    if (rule.min_area is None and rule.max_area is None) or not wanted:
        return wanted
    low = 0.0 if rule.min_area is None else area_in_pixels(rule.min_area, frame.width, frame.height)
    high = float("inf") if rule.max_area is None else area_in_pixels(rule.max_area, frame.width, frame.height)
    kept = []
    for d in wanted:
        if d.box is None or low <= (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]) <= high:
            kept.append(d)
        elif d.track_id is not None and state.tracks.pop(d.track_id, None) is not None:
            _drop_track(state, d.track_id)
    return kept


def _drop_track(state: RuleState, track_id: int) -> None:
    subject = _subject(track_id)
    state.track_stays = {k: s for k, s in state.track_stays.items() if k[0] != subject}


def _tracked(rule: Rule, state: RuleState, frame: Frame, wanted: list[Detection]) -> dict[Key, list[Detection]]:
    """Tracked objects: each one's phase per zone (or its side of the line), with hysteresis; stays begin when the
    condition starts to hold and end when it stops or the phase changes (a new crossing)."""
    holding: dict[Key, list[Detection]] = {}
    stays, tracks, keys, holds_when = state.track_stays, state.tracks, rule.keys, rule.holds_when
    band = length_in_pixels(rule.hysteresis, frame.width, frame.height)
    anchor = ANCHOR_OF[rule.anchor]
    new = tuple.__new__  # Track(...) without its Python-level __new__: one per object per frame
    for d in wanted:
        tid = d.track_id
        subject = _subject(tid)
        track = tracks.get(tid)
        x, y = anchor(d.box)
        if rule.stationary is not None:
            track, now_still = moved(track, rule, frame, x, y)
            if now_still:  # parked: no stay, no alert; its dwell clock stops
                state.tracks[tid] = track
                for key in [k for k in stays if k[0] == subject]:
                    del stays[key]
                continue
        before = track[0] if track is not None else (None,) * len(keys)
        after = phases_of(rule, before, x, y, frame, band)
        tracks[tid] = new(Track, (after, frame.index, *(track[2:] if track is not None else Track.still_part())))
        for zone, old, phase in zip(keys, before, after):
            key = (subject, zone)
            holds = holds_when(phase)
            crossed = old is not None and phase is not None and phase != old
            if (not holds or crossed) and key in stays:
                del stays[key]
            if holds:
                holding[key] = [d]
                if key not in stays:
                    stays[key] = Stay(frame.index, frame.time, crossed)
    return holding


@functools.lru_cache(maxsize=4096)
def _subject(track_id: int) -> str:
    return f"track:{track_id}"


def _untracked(rule: Rule, state: RuleState, frame: Frame, wanted: list[Detection]):
    """Classes (or the whole frame): the count of objects inside the zones (all of them together) within the
    bounds. A stay ends at the first frame where it does not hold; it "entered" when it was seen not holding
    before (or this is not the source's first frame)."""
    inside = [d for d in wanted if _in_zones(rule, d, frame)] if rule.zones else wanted
    counts = dict(collections.Counter(d.cls for d in inside))
    if rule.count == "total":
        groups = {"total": inside}
    else:
        names = rule.classes if rule.classes is not None else sorted(set(counts) | {d.cls for d in wanted})
        groups = {f"class:{name}": [d for d in inside if d.cls == name] for name in names}
    holding = {}
    for subject, dets in groups.items():
        n = len(dets)
        if n >= rule.lowest and (rule.max_count is None or n <= rule.max_count):
            holding[(subject, None)] = dets
        else:
            state.seen_outside[(subject, None)] = frame.index
    state.stays = {k: stay for k, stay in state.stays.items() if k in holding}
    first_frame = frame.index == 0  # frames are counted from 0 per source: nothing was seen before this one
    for key in holding:
        if key not in state.stays:
            state.stays[key] = Stay(frame.index, frame.time, key in state.seen_outside or not first_frame)
    return holding, counts


def _in_zones(rule: Rule, det: Detection, frame: Frame) -> bool:
    if det.box is None:
        return False
    x, y = anchor_point(det.box, rule.anchor)
    return any(z.contains(x, y, frame.width, frame.height) for z in rule.zones)


def _raise(rule: Rule, state: RuleState, frame: Frame, holding: dict[Key, list[Detection]], stays: dict[Key, Stay],
           counts: dict[str, int] | None) -> tuple[Alert, ...]:  # fmt: skip
    """The keys due an alert on this frame, as many as ``max_per_minute`` leaves room for."""
    while state.recent and state.recent[0] <= frame.time - 60.0:
        state.recent.popleft()
    must_cross = rule.trigger != "inside" or rule.line is not None
    due = []
    for key in holding:
        stay = stays[key]
        if (stay.fired and rule.once_per_stay) or (must_cross and not stay.entered):
            continue
        if not rule.min_duration.held(stay.first_index, stay.first_time, frame.index, frame.time):
            continue
        if rule.dwell is not None and not rule.dwell.held(stay.first_index, stay.first_time, frame.index, frame.time):
            continue
        last = state.fired_at.get(key)
        if last is not None and not rule.cooldown.passed(*last, frame.index, frame.time):
            continue
        due.append(key)
    if len(due) > 1:
        due.sort(key=_order)
    if rule.max_per_minute is not None and len(due) > rule.max_per_minute - len(state.recent):
        room = max(0, rule.max_per_minute - len(state.recent))
        state.held_back += len(due) - room
        due = due[:room]
    if not due:
        return ()
    if counts is None:  # tracked: the objects whose condition holds, per class (only made for an alert)
        counts = dict(collections.Counter(d.cls for dets in holding.values() for d in dets))
    alerts = []
    for key in due:
        dets = tuple(holding[key])
        stays[key] = replace(stays[key], fired=True)
        state.fired_at[key] = (frame.index, frame.time)
        state.recent.append(frame.time)
        state.fired += 1
        event = state.events.get(key)
        if event is None:
            state.events_started += 1
            event = opened(state.events_started, key, frame, dets)
        event = state.events[key] = event._replace(alerts=event.alerts + 1)
        held = frame.time - stays[key].first_time
        alerts.append(Alert(rule.name, rule.severity, frame.index, frame.time, key[0], key[1], dets, counts, held,
                            describe(rule, key, dets, counts, held), event.number, event.alerts))
    return tuple(alerts)


def _order(key: Key) -> tuple:
    subject, zone = key
    kind, _, rest = subject.partition(":")
    return (kind, int(rest) if kind == "track" else 0, rest, -1 if zone is None else zone)


def _forget(rule: Rule, state: RuleState, frame: Frame) -> None:
    """Drop what can no longer matter: alerts older than the cooldown, tracks long gone."""
    old = frame.index - FORGET_AFTER_FRAMES
    state.seen_outside = {k: i for k, i in state.seen_outside.items() if i >= old}
    gone = [tid for tid, track in state.tracks.items() if track.seen < old]
    for tid in gone:
        del state.tracks[tid]
        _drop_track(state, tid)
    keep = {}
    for key, (index, time) in state.fired_at.items():
        if not rule.cooldown.passed(index, time, frame.index, frame.time):
            keep[key] = (index, time)
    state.fired_at = keep
