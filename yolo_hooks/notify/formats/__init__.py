"""Per-service payloads: ``build_request(fmt, message, options)`` and ``check_response(fmt, ...)``.

Every service lives in its own small, pure module (``slack.py``, ``discord.py``, ...) with
``build(message, options) -> HttpRequest`` and ``check(status, headers, body) -> DeliveryResult``. Nothing here
opens a socket: :mod:`yolo_hooks.notify.delivery` sends the request and feeds the reply back to ``check``.

Examples:
    >>> from yolo_hooks.notify.message import Message
    >>> req = build_request("json", Message("test", "info", "Hello"), {"url": "https://example.com/hook"})
    >>> req.headers["Content-Type"], "Idempotency-Key" in req.headers
    ('application/json', True)
    >>> check_response("slack", 429, {"Retry-After": "3"}, b"")
    DeliveryResult(ok=False, retry=True, retry_after=3.0, error='HTTP 429 Too Many Requests (rate limited)')
"""

from __future__ import annotations

import importlib
from typing import Mapping

from ..message import Message
from .base import DeliveryResult, HttpRequest

FORMATS = ("json", "slack", "discord", "teams", "wecom", "dingtalk", "feishu", "telegram", "email")
HTTP_FORMATS = tuple(f for f in FORMATS if f != "email")

# Options each format cannot work without (the Notify hook checks them at construction).
REQUIRED: dict[str, tuple[str, ...]] = {
    "json": ("url",),
    "slack": ("url",),
    "discord": ("url",),
    "teams": ("url",),
    "wecom": ("url",),
    "dingtalk": ("url",),
    "feishu": ("url",),
    "telegram": ("bot_token", "chat_id"),
    "email": ("smtp_host", "sender", "to"),
}

# Options each format may read, besides REQUIRED (for config validation and `yolo-hooks check`).
OPTIONAL: dict[str, tuple[str, ...]] = {
    "json": ("secret",),
    "slack": (),
    "discord": ("display_name",),
    "teams": (),
    "wecom": (),
    "dingtalk": ("secret",),
    "feishu": ("secret",),
    "telegram": ("api_url",),
    "email": ("smtp_port", "security", "smtp_user", "password", "ca_file"),
}

_MODULES = {"json": "json_"}

__all__ = [
    "FORMATS",
    "HTTP_FORMATS",
    "REQUIRED",
    "OPTIONAL",
    "HttpRequest",
    "DeliveryResult",
    "build_request",
    "check_response",
    "format_module",
]


def format_module(fmt: str):
    """The module implementing ``fmt`` (imported on first use)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown notification format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return importlib.import_module(f"{__name__}.{_MODULES.get(fmt, fmt)}")


def build_request(fmt: str, message: Message, options: Mapping) -> HttpRequest:
    """The HTTP request that delivers ``message`` with format ``fmt`` (every format but ``email``).

    Raises:
        ValueError: unknown format, ``email`` (use ``formats.email.build_email``), or a required option missing.
    """
    if fmt == "email":
        raise ValueError("the email format is not HTTP: use yolo_hooks.notify.formats.email.build_email/send_email")
    module = format_module(fmt)
    missing = [key for key in REQUIRED[fmt] if not options.get(key)]
    if missing:
        raise ValueError(f"{fmt}: missing option(s) {', '.join(missing)}")
    return module.build(message, options)


def check_response(fmt: str, status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """Classify a service's reply: delivered, worth retrying (and after how long), or failed for good."""
    if fmt == "email":
        raise ValueError("the email format is not HTTP: use yolo_hooks.notify.formats.email.classify_smtp_error")
    return format_module(fmt).check(status, headers, body or b"")
