"""Small rules about numbers that several hooks share: is it finite, and how a duration reads.

Examples:
    >>> finite(0.5), finite(float("nan")), finite(None)
    (True, False, False)
    >>> format_duration(75.2), format_duration(3700), format_duration(None)
    ('1m15s', '1h01m', '-')
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> bool:
    """True for a real, finite number (None, NaN, ±inf, booleans and non-numbers are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def format_duration(seconds: float | None, missing: str = "-") -> str:
    """``5.04`` -> ``5.0s``; ``75.2`` -> ``1m15s``; ``3700`` -> ``1h01m``; None or NaN -> ``missing``."""
    if seconds is None or not math.isfinite(seconds):
        return missing
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
