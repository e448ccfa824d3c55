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

from ..core.errors import ConfigError
from ..core.validate import check_choice, check_number
from .rules import ANCHORS, Duration, Zone

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


def parse_zones(hook: str, value: Any) -> tuple[Zone, ...]:
    """One polygon ``[[x, y], ...]`` or a list of them; all coordinates within 0-1 means fractions of the frame."""
    if value is None:
        return ()
    allowed = "a polygon [[x, y], [x, y], [x, y], ...] (3+ points, pixels or 0-1 fractions) or a list of polygons"
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError.bad_value(hook, "zone", value, allowed)
    polygons = [value] if _is_point(value[0]) else list(value)
    zones = []
    for polygon in polygons:
        if not isinstance(polygon, (list, tuple)) or len(polygon) < 3 or not all(_is_point(p) for p in polygon):
            raise ConfigError.bad_value(hook, "zone", value, allowed)
        points = tuple((float(x), float(y)) for x, y in polygon)
        normalized = all(0 <= c <= 1 for point in points for c in point)
        zones.append(Zone(points, normalized))
    return tuple(zones)


def _is_point(p: Any) -> bool:
    return (isinstance(p, (list, tuple)) and len(p) == 2 and
            all(isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) for c in p))


def parse_classes(hook: str, value: Any) -> tuple[str, ...] | None:
    """A class name or a list of names (checked against the model's names at the first batch)."""
    if value is None:
        return None
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) and n.strip() for n in names):
        raise ConfigError.bad_value(hook, "classes", value, "a class name or a list of class names")
    return tuple(n.strip() for n in names)


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
