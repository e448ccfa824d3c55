"""``detection_alert`` options -> a validated :class:`~yolo_hooks.detection.rules.Rule` (each check a ConfigError).

Examples:
    >>> parse_duration("detection_alert", "min_duration", "15 frames")
    Duration(amount=15.0, unit='frames')
    >>> parse_duration("detection_alert", "cooldown", "2m")
    Duration(amount=120.0, unit='seconds')
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Mapping

from ..core.bus import SEVERITIES
from ..core.errors import ConfigError
from ..core.validate import check_choice, check_number
from .rules import ANCHORS, COUNTS, DIRECTIONS, TRIGGERS, Duration, Line, Rule, Zone

# Linear in the value's length: one way to split a number into digits and a fraction, one run of spaces before the
# end ("[0-9]*\.?[0-9]+" and two adjacent "\s*" made 8,000 digits and an "x" take 12 s to be refused).
DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?|\.[0-9]+)\s*(?:(ms|s|sec|seconds?|m|min|minutes?|f|frames?)\s*)?$")
SECONDS_PER = {"ms": 0.001, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "minute": 60,
               "minutes": 60}  # fmt: skip
DURATION_HELP = "a number of seconds, or a string like '2s', '500ms', '1m' or '15 frames'"


def parse_duration(hook: str, key: str, value: Any) -> Duration:
    """A number (seconds) or ``"2s"`` / ``"500ms"`` / ``"1m"`` / ``"15 frames"``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ConfigError.bad_value(hook, key, value, DURATION_HELP + " (>= 0)")
        return Duration(float(value))
    match = DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ConfigError.bad_value(hook, key, value, DURATION_HELP)
    amount, unit = float(match.group(1)), match.group(2) or "s"
    if unit.startswith("f"):
        return Duration(amount, "frames")
    return Duration(amount * SECONDS_PER[unit])


ZONE_HELP = "a polygon [[x, y], [x, y], [x, y], ...] (3+ points, pixels or 0-1 fractions) or a list of polygons"
LINE_HELP = "a segment [[x1, y1], [x2, y2]] (pixels or 0-1 fractions, two different points)"
PER_CAMERA = ", or {camera: that} for zones per camera"


def parse_zones(hook: str, value: Any, key: str = "zone") -> tuple[Zone, ...]:
    """One polygon ``[[x, y], ...]`` or a list of them; all coordinates within 0-1 means fractions of the frame."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError.bad_value(hook, key, value, ZONE_HELP + PER_CAMERA)
    polygons = [value] if _is_point(value[0]) else list(value)
    zones = []
    for polygon in polygons:
        if not isinstance(polygon, (list, tuple)) or len(polygon) < 3 or not all(_is_point(p) for p in polygon):
            raise ConfigError.bad_value(hook, key, value, ZONE_HELP + PER_CAMERA)
        points = tuple((float(x), float(y)) for x, y in polygon)
        normalized = all(0 <= c <= 1 for point in points for c in point)
        zones.append(Zone(points, normalized))
    return tuple(zones)


def parse_line(hook: str, value: Any, key: str = "line") -> Line | None:
    """A segment ``[[x1, y1], [x2, y2]]``; both points within 0-1 means fractions of the frame."""
    if value is None:
        return None
    if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(_is_point(p) for p in value)) or \
            tuple(value[0]) == tuple(value[1]):
        raise ConfigError.bad_value(hook, key, value, LINE_HELP + PER_CAMERA.replace("zones", "lines"))
    points = tuple((float(x), float(y)) for x, y in value)
    return Line(points, all(0 <= c <= 1 for point in points for c in point))


def per_camera(hook: str, key: str, value: Any, parse) -> tuple[Any, dict[str, Any] | None]:
    """``(geometry, None)`` for one geometry everywhere, ``(none, {camera: geometry})`` for a mapping."""
    if not isinstance(value, dict):
        return parse(hook, value, key), None
    if not value or not all(isinstance(k, str) and k.strip() for k in value):
        raise ConfigError.bad_value(hook, key, value, "a mapping of camera names to their " + key)
    return parse(hook, None, key), {name: parse(hook, geometry, f"{key}.{name}") for name, geometry in value.items()}


def parse_names(hook: str, key: str, value: Any, what: str) -> tuple[str, ...] | None:
    """A ``what`` name or a list of them (None stays None): ``classes``, ``cameras``."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError.bad_value(hook, key, value, f"a {what} name or a list of {what} names")
    return tuple(n.strip() for n in names)


def parse_camera_names(hook: str, value: Any) -> dict[str, str]:
    """``{source or stream index: camera name}``."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise ConfigError.bad_value(hook, "camera_names", value,
                                    "a mapping of sources (or stream indices) to camera names")
    return {str(k): v.strip() for k, v in value.items()}


KEEP_KEYS = {"files": "an integer >= 1", "megabytes": "a number > 0", "days": "a number > 0"}


def parse_keep(hook: str, value: Any) -> dict[str, float] | None:
    """``{files, megabytes, days}``, any of them: the alerts folder's retention."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ConfigError.bad_value(hook, "keep", value, "a mapping with any of files, megabytes, days")
    for key in value:
        if key not in KEEP_KEYS:
            raise ConfigError.unknown_key(f"{hook}: `keep`", str(key), list(KEEP_KEYS))
    return {key: check_number(hook, f"keep.{key}", amount, minimum=1 if key == "files" else 0, integer=key == "files",
                              exclusive_minimum=key != "files") for key, amount in value.items()}  # fmt: skip


def parse_size(hook: str, key: str, value: Any, area: bool = False) -> float | None:
    """A length (or an area): below 1 a fraction of the frame (its shorter side, its area), from 1 up pixels."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        what = "square pixels, or below 1 a fraction of the frame's area" if area else \
            "pixels, or below 1 a fraction of the frame's shorter side"
        raise ConfigError.bad_value(hook, key, value, f"a number >= 0: {what}")
    return float(value)


def _is_point(p: Any) -> bool:
    return (isinstance(p, (list, tuple)) and len(p) == 2 and
            all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in p))


def parse_classes(hook: str, value: Any) -> tuple[str, ...] | None:
    """A class name or a list of names (checked against the model's names at the first batch)."""
    return parse_names(hook, "classes", value, "class")


def check_class_names(hook: str, classes: tuple[str, ...] | None, names: Mapping[int, str]) -> None:
    """Every configured class is one the model knows; otherwise a ConfigError with the closest name."""
    known = [str(n) for n in names.values()]
    for name in classes or ():
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            shown = ", ".join(known[:20]) + (f", ... ({len(known)} in all)" if len(known) > 20 else "")
            raise ConfigError(f"{hook}: `classes`: the model has no class `{name}`{hint}; its classes: {shown}")


def check_counts(hook: str, min_count: Any, max_count: Any) -> tuple[int | None, int | None]:
    """``min_count`` >= 0 and ``max_count`` >= ``min_count`` (integers, or None)."""
    min_count = check_number(hook, "min_count", min_count, minimum=0, integer=True, allow_none=True)
    max_count = check_number(hook, "max_count", max_count, minimum=0, integer=True, allow_none=True)
    if min_count is not None and max_count is not None and max_count < min_count:
        raise ConfigError.bad_value(hook, "max_count", max_count, f"an integer >= min_count ({min_count})")
    return min_count, max_count


def check_anchor(hook: str, value: Any) -> str:
    return check_choice(hook, "anchor", value, ANCHORS)


def build_rule(hook: str, name: str, *, classes, min_conf, min_count, max_count, count, zone, anchor, trigger, line,
               direction, dwell, ignore_stationary, stationary_radius, min_area, max_area, hysteresis, min_duration,
               cooldown, max_per_minute, severity, end_after) -> tuple[Rule, dict | None, dict | None]:  # fmt: skip
    """The validated :class:`Rule` of a ``detection_alert``'s options, with its zones and line per camera when they
    are given as ``{camera: ...}`` mappings (the rule's own are then empty). ``hook`` names the rule in errors."""
    min_count, max_count = check_counts(hook, min_count, max_count)
    zones, zones_by_camera = per_camera(hook, "zone", zone, parse_zones)
    segment, lines_by_camera = per_camera(hook, "line", line, parse_line)
    trigger = check_choice(hook, "trigger", trigger, TRIGGERS)
    direction = check_choice(hook, "direction", direction, DIRECTIONS)
    has_line = line is not None
    if has_line and zone is not None:
        raise ConfigError(f"{hook}: a rule watches a `zone` or a `line`, not both (make two rules)")
    if not has_line and direction != "any":
        raise ConfigError.bad_value(hook, "direction", direction, "set only with a `line` (its default: any)")
    if has_line and trigger != "inside":
        raise ConfigError.bad_value(hook, "trigger", trigger, "left out with a `line` (a crossing is the trigger)")
    dwell = None if dwell is None else parse_duration(hook, "dwell", dwell)
    if dwell is not None and (has_line or trigger != "inside"):
        raise ConfigError(f"{hook}: `dwell` is its own trigger (a stay that lasts); it takes a zone, not "
                          f"{'a `line`' if has_line else f'`trigger: {trigger}`'}")
    stationary = None if ignore_stationary is None else parse_duration(hook, "ignore_stationary", ignore_stationary)
    if stationary is not None and stationary.amount <= 0:
        raise ConfigError.bad_value(hook, "ignore_stationary", ignore_stationary, DURATION_HELP + " (> 0)")
    radius = parse_size(hook, "stationary_radius", stationary_radius)
    if not radius:
        raise ConfigError.bad_value(hook, "stationary_radius", stationary_radius,
                                    "a number > 0: pixels, or below 1 a fraction of the frame's shorter side")
    rule = Rule(
        name=name, classes=parse_classes(hook, classes),
        min_conf=float(check_number(hook, "min_conf", min_conf, minimum=0, maximum=1)),
        min_count=min_count, max_count=max_count, count=check_choice(hook, "count", count, COUNTS),
        zones=zones, anchor=check_anchor(hook, anchor), trigger=trigger, line=segment, direction=direction,
        dwell=dwell, stationary=stationary, stationary_radius=radius,
        min_area=parse_size(hook, "min_area", min_area, area=True),
        max_area=parse_size(hook, "max_area", max_area, area=True),
        hysteresis=parse_size(hook, "hysteresis", hysteresis),
        min_duration=parse_duration(hook, "min_duration", min_duration),
        cooldown=parse_duration(hook, "cooldown", cooldown),
        max_per_minute=check_number(hook, "max_per_minute", max_per_minute, minimum=1, integer=True, allow_none=True),
        severity=check_choice(hook, "severity", severity, SEVERITIES),
        end_after=parse_duration(hook, "end_after", end_after),
    )  # fmt: skip
    if rule.needs_tracks and not rule.per_track:
        raise ConfigError(f"{hook}: {', '.join(f'`{k}`' for k in rule.needs_tracks)} watch each tracked object: "
                          "leave out min_count, max_count and `count: total`")
    return rule, zones_by_camera, lines_by_camera
