"""Every option check of the ``notify`` hook: plain values in, validated values or a :class:`ConfigError` out.

Each error names the hook (its chosen ``name``), the key, the value (secrets redacted) and what is allowed, so a
bad ``notify`` entry fails at ``attach()``, never at the first send. The options of each service are checked from
its own declaration (:mod:`.formats.schema`); this module holds the checks of the options every destination has.

Examples:
    >>> check_format("notify", "slack")
    'slack'
    >>> check_events("notify_ops", ["crash", "crash"], progress=False)
    ('crash',)
"""

from __future__ import annotations

import difflib
from typing import Any

from ..core.bus import SEVERITIES
from ..core.errors import ConfigError
from ..core.validate import check_choice
from . import formats
from .compose import ALL_EVENTS, DEFAULT_EVENTS, EVENTS

HOOK = "notify"


def check_format(hook: str, value: Any) -> str:
    """One of :data:`~yolo_hooks.notify.formats.FORMATS` (a missing ``format`` is ``None`` here, not a TypeError)."""
    return check_choice(hook, "format", value, formats.FORMATS)


def check_events(hook: str, events: Any, progress: bool) -> tuple[str, ...]:
    """The chosen event names (``all`` for every one); unknown names are a ConfigError with the closest spelling."""
    if events is None:
        return DEFAULT_EVENTS + (("epoch",) if progress else ())
    if events == "all":
        return ALL_EVENTS
    chosen = [events] if isinstance(events, str) else events
    if not isinstance(chosen, (list, tuple)) or not chosen:
        raise ConfigError.bad_value(hook, "events", events, f"a list of events from: {', '.join(EVENTS)}")
    for event in chosen:
        if not isinstance(event, str) or event not in EVENTS:
            close = difflib.get_close_matches(str(event), EVENTS, n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise ConfigError(f"{hook}: unknown event `{event}`{hint}; events are: all, {', '.join(EVENTS)}")
    return tuple(dict.fromkeys(chosen))


def check_severity(hook: str, value: Any) -> str:
    """``info``, ``warning`` or ``critical``."""
    return check_choice(hook, "min_severity", value, SEVERITIES)
