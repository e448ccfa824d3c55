"""What a rule remembers of one tracked object: its side of each zone edge or of the line (with hysteresis), and
where it settled (for ``ignore_stationary``). Pure functions over immutable :class:`Track` s.

Examples:
    >>> from yolo_hooks.detection.rules import Frame, Rule, Zone
    >>> rule = Rule("r", zones=(Zone(((0, 0), (100, 0), (100, 100), (0, 100))),))
    >>> phases_of(rule, (True,), 101.0, 50.0, Frame(0, 0.0, 640, 480), band=4.0)  # 1 px out: still inside
    (True,)
    >>> phases_of(rule, (True,), 106.0, 50.0, Frame(0, 0.0, 640, 480), band=4.0)
    (False,)
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from .geometry import length_in_pixels


class Track(NamedTuple):
    """One track id as a rule remembers it. ``phases``: per zone True (inside) / False / None (not known yet), or
    for a line one entry, 1 (in side) / -1 / None; ``home``: where its anchor settled, since ``home_index``."""

    phases: tuple
    seen: int  # the last frame index it was seen
    home: tuple[float, float] | None = None
    home_index: int = 0
    home_time: float = 0.0
    still: bool = False

    @staticmethod
    def still_part() -> tuple:
        """The defaults of the fields after ``seen``."""
        return (None, 0, 0.0, False)


def phases_of(rule: Any, before: tuple, x: float, y: float, frame: Any, band: float) -> tuple:
    """The anchor's phases now: a side changes only once the anchor is ``band`` pixels past the edge or line (a
    first sighting is taken as it is); beyond a line's ends the side is forgotten (going round it is no crossing)."""
    if rule.line is not None:
        distance, along = rule.line.position(x, y, frame.width, frame.height)
        if not 0.0 <= along <= 1.0:
            return (None,)
        if abs(distance) < band:
            return before
        return (1 if distance > 0 else -1,)
    if not rule.zones:
        return (True,)
    out = []
    for zone, old in zip(rule.zones, before):
        inside = zone.contains(x, y, frame.width, frame.height)
        if old is not None and inside != old and zone.edge_distance(x, y, frame.width, frame.height) < band:
            inside = old
        out.append(inside)
    return tuple(out)


def moved(track: Track | None, rule: Any, frame: Any, x: float, y: float) -> tuple[Track, bool]:
    """``(track, still)``: has the anchor stayed within ``stationary_radius`` of where it settled for
    ``ignore_stationary``? An anchor that moves farther settles anew there; one that was still starts over
    (its phases forgotten: where it is now is taken as it is, no crossing)."""
    new = tuple.__new__  # Track(...) without its Python-level __new__: one per object per frame
    if track is None:
        track = new(Track, ((None,) * len(rule.keys), frame.index, None, 0, 0.0, False))
    radius = length_in_pixels(rule.stationary_radius, frame.width, frame.height)
    phases, _, home, home_index, home_time, was_still = track
    if home is None or math.hypot(x - home[0], y - home[1]) > radius:
        phases = (None,) * len(rule.keys) if was_still else phases
        return new(Track, (phases, frame.index, (x, y), frame.index, frame.time, False)), False
    still = rule.stationary.held(home_index, home_time, frame.index, frame.time)
    return new(Track, (phases, frame.index, home, home_index, home_time, still)), still
