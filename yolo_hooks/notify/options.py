"""Every option check of the ``notify`` hook: plain values in, validated values or a :class:`ConfigError` out.

Each error names the hook (its chosen ``name``), the key, the value (secrets redacted) and what is allowed, so a
bad ``notify`` entry fails at ``attach()``, never at the first send.

Examples:
    >>> check_format("notify", "slack")
    'slack'
    >>> check_events("notify_ops", ["crash", "crash"], progress=False)
    ('crash',)
"""

from __future__ import annotations

import difflib
from typing import Any
from urllib.parse import urlsplit

from ..core.errors import ConfigError
from ..core.validate import check_choice, check_number, check_str
from . import formats
from .compose import ALL_EVENTS, DEFAULT_EVENTS, EVENTS
from .message import SEVERITIES

HOOK = "notify"
ENV_HINT = {"url": "${WEBHOOK_URL}", "bot_token": "${TELEGRAM_BOT_TOKEN}", "password": "${SMTP_PASSWORD}"}


def check_format(hook: str, value: Any) -> str:
    """One of :data:`~yolo_hooks.notify.formats.FORMATS` (a missing ``format`` is ``None`` here, not a TypeError)."""
    return check_choice(hook, "format", value, formats.FORMATS)


def check_format_options(hook: str, fmt: str, options: dict[str, Any]) -> dict[str, Any]:
    """Every option the format needs is there, none it does not read is, URLs are http(s), e-mail recipients ok,
    a ``whsec_`` signing secret decodes."""
    required = formats.REQUIRED[fmt]  # formats.*, read now: register() may add formats
    allowed = set(required) | set(formats.OPTIONAL.get(fmt, ()))
    for key in required:
        if options.get(key) is None or options.get(key) == "" or options.get(key) == []:
            hint = f" (e.g. {key}: \"{ENV_HINT[key]}\")" if key in ENV_HINT else ""
            raise ConfigError(f"{hook}: format `{fmt}` needs `{key}`{hint}")
    for key in options:
        if key not in allowed:
            known = ", ".join(sorted(allowed))
            raise ConfigError(f"{hook}: format `{fmt}` does not use `{key}`; its options are: {known}")
    for key in ("url", "api_url"):
        if key in options:
            check_str(hook, key, options[key])
            try:
                parts = urlsplit(options[key])
                ok = parts.scheme in ("http", "https") and bool(parts.hostname)
                parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
            except ValueError:
                ok = False
            if not ok:
                raise ConfigError.bad_value(hook, key, options[key], "an http:// or https:// URL")
    for key in ("secret", "bot_token", "smtp_host", "smtp_user", "password", "sender", "ca_file", "display_name"):
        if key in options:
            check_str(hook, key, options[key])
    if fmt == "json" and "secret" in options:
        check_signing_secret(hook, options["secret"])
    chat_id = options.get("chat_id")
    if chat_id is not None and (isinstance(chat_id, bool) or not isinstance(chat_id, (str, int)) or chat_id == ""):
        raise ConfigError.bad_value(hook, "chat_id", options["chat_id"], "a chat id (number or @channelname)")
    if "smtp_port" in options:
        check_number(hook, "smtp_port", options["smtp_port"], minimum=1, maximum=65535, integer=True)
    if "security" in options:
        check_choice(hook, "security", options["security"], ("starttls", "ssl", "none"))
    if "to" in options:
        to = [options["to"]] if isinstance(options["to"], str) else options["to"]
        if not isinstance(to, list) or not to or not all(isinstance(t, str) and "@" in t for t in to):
            raise ConfigError.bad_value(hook, "to", options["to"], "an e-mail address or a list of them")
        options["to"] = to
    return options


def check_signing_secret(hook: str, secret: str) -> str:
    """A Standard Webhooks ``whsec_<base64>`` secret must decode (else every send would fail); any other text is
    used as it is."""
    from .formats.json_ import signing_key

    try:
        signing_key(secret)
    except ValueError:
        allowed = "whsec_ followed by valid base64, or any other text"
        raise ConfigError.bad_value(hook, "secret", secret, allowed) from None
    return secret


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
