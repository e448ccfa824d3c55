"""Option checks used by hooks' ``__init__``: each failure is a :class:`ConfigError` naming hook, key and value.

Examples:
    >>> check_choice("early_stop", "mode", "max", ("min", "max", "auto"))
    'max'
    >>> check_number("early_stop", "patience", 3, minimum=0, integer=True)
    3
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from .errors import ConfigError


def check_bool(hook: str, key: str, value: Any) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise ConfigError.bad_value(hook, key, value, "true or false")
    return value


def check_number(
    hook: str,
    key: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    integer: bool = False,
    exclusive_minimum: bool = False,
    allow_none: bool = False,
    none_means: str | None = None,
) -> Any:
    """``value`` if it is a finite number (an int when ``integer``) within the bounds; ``none_means`` says what
    null does, in the error (``"switch patience off"``)."""
    if value is None and allow_none:
        return None
    kind = "an integer" if integer else "a number"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    allowed = kind + _bounds(minimum, maximum, exclusive_minimum) + (f" (or null to {none_means})" if none_means else "")
    if isinstance(value, bool) or not ok_type or not math.isfinite(value):
        raise ConfigError.bad_value(hook, key, value, allowed)
    if minimum is not None and (value < minimum or (exclusive_minimum and value == minimum)):
        raise ConfigError.bad_value(hook, key, value, allowed)
    if maximum is not None and value > maximum:
        raise ConfigError.bad_value(hook, key, value, allowed)
    return value


def _bounds(minimum: float | None, maximum: float | None, exclusive: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    return (" " + " and ".join(parts)) if parts else ""


def check_choice(hook: str, key: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ConfigError.bad_value(hook, key, value, "one of " + ", ".join(map(str, choices)))
    return value


def check_str(hook: str, key: str, value: Any, *, allow_none: bool = False, non_empty: bool = True) -> str | None:
    """``value`` if it is a (non-empty) string."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or (non_empty and not value.strip()):
        raise ConfigError.bad_value(hook, key, value, "a non-empty string")
    return value


def check_amount(hook: str, key: str, value: Any, *, minimum: float = 0.0) -> tuple[float, bool]:
    """A number, or a percentage string like ``"5%"``; returns ``(amount, is_relative)`` with 5% as 0.05."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            number = float(value.strip()[:-1])
        except ValueError:
            number = float("nan")
        if not math.isfinite(number) or number < minimum:
            raise ConfigError.bad_value(hook, key, value, f"a number or a percentage like '5%', >= {minimum}")
        return number / 100.0, True
    check_number(hook, key, value, minimum=minimum)
    return float(value), False
