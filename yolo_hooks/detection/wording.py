"""How an alert reads: one line for humans, made from the rule and what fired it.

Examples:
    >>> from yolo_hooks.detection.rules import Detection, Rule, Zone
    >>> rule = Rule("gate", zones=(Zone(((0, 0), (1, 0), (1, 1)), normalized=True),), trigger="enter")
    >>> describe(rule, ("track:7", 0), (Detection("person", 0.9, (0, 0, 9, 9), 7),), {"person": 1}, 0.0)
    'person (track 7) entered the zone'
"""

from __future__ import annotations

from typing import Any

from .events import who_of


def describe(rule: Any, key: tuple, dets: tuple, counts: dict[str, int], held: float) -> str:
    """One line for humans, e.g. ``person (track 7) entered the zone`` or ``1 person seen in zone for 2.0 s``."""
    subject, zone = key
    where = "the zone" if zone is None or len(rule.zones) < 2 else f"zone {zone + 1}"
    if subject.startswith("track:") and dets:
        who = who_of(subject, dets[0].cls)
        if rule.line is not None:
            return f"{who} crossed the line" + (f" ({rule.direction})" if rule.direction != "any" else "")
        if rule.dwell is not None:
            return f"{who} in {where if rule.zones else 'view'} for {held:.1f} s"
        if rule.trigger in ("enter", "leave"):
            return f"{who} {'entered' if rule.trigger == 'enter' else 'left'} {where}"
    found = ", ".join(f"{n} {c}" for c, n in sorted(counts.items())) or "nothing"
    in_zone = " in zone" if rule.zones else ""
    tracks = sorted({d.track_id for d in dets if d.track_id is not None})
    who = f" (track{'s' * (len(tracks) > 1)} {', '.join(map(str, tracks))})" if tracks else ""
    since = f" for {held:.1f} s" if held > 0 else ""
    if not rule.is_presence:
        bounds = f"{rule.lowest}..{rule.max_count if rule.max_count is not None else '∞'}"
        return f"{found}{in_zone} (count within {bounds}){since}"
    verb = "entered" if rule.trigger == "enter" else "seen"
    return f"{found} {verb}{in_zone}{who}{since}"
