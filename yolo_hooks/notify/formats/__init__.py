"""Per-service payloads, one small pure module per service: ``build_request(fmt, message, options)`` and
``check_response(fmt, ...)``. Nothing here opens a socket: :mod:`yolo_hooks.notify.delivery` sends the request and
feeds the reply back to ``check``.

A service module declares everything about its service (see the README, "Adding a notification service"):

* ``REQUIRED`` / ``OPTIONAL``: the options it needs / may also read (checked when the hook is built);
* ``payload(message, options) -> dict``, the JSON body POSTed to ``options["url"]``, or ``build(message, options)
  -> HttpRequest`` when it needs its own URL, headers, signature or byte limit;
* ``check(status, headers, body) -> DeliveryResult`` only where replies mean more than :func:`.base.http_check`
  reads (2xx delivered; 408/425/429/5xx retried, with ``Retry-After``; any other status permanent);
* optionally ``NAME`` (when the module's name cannot be the format's: ``json_.py``), ``identity(options)`` (what tells
  two destinations apart and what to show, when it is not the ``url``: see ``telegram``), ``RATE_LIMIT`` (messages a
  minute, the service's documented limit), ``build_image`` and ``IMAGE_WITHOUT_TEXT`` (see :mod:`..images`).

The modules shipped here are listed once, in :data:`SERVICES`; :func:`register` adds one from elsewhere.

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
from types import ModuleType
from typing import Mapping

from ..message import Message
from .base import DeliveryResult, HttpRequest, http_check, json_request

# The service modules of this package, in the order errors list them: a new service is its module plus its name here.
SERVICES = ("json_", "slack", "discord", "teams", "wecom", "dingtalk", "feishu", "telegram", "email")

_MODULES: dict[str, ModuleType] = {}  # format name -> its module
FORMATS: tuple[str, ...] = ()  # every format name
HTTP_FORMATS: tuple[str, ...] = ()  # those delivered over HTTP (all but email)
REQUIRED: dict[str, tuple[str, ...]] = {}  # options each format cannot work without
OPTIONAL: dict[str, tuple[str, ...]] = {}  # options each format may read besides REQUIRED
RATE_LIMITS: dict[str, int] = {}  # documented messages per minute, used when `rate_limit` is not given

__all__ = [
    "FORMATS",
    "HTTP_FORMATS",
    "REQUIRED",
    "OPTIONAL",
    "RATE_LIMITS",
    "rate_limit_of",
    "SERVICES",
    "HttpRequest",
    "DeliveryResult",
    "build_request",
    "check_response",
    "format_module",
    "register",
]


def register(module: str | ModuleType) -> str:
    """Make a service module (or its dotted import name) a format; returns the format's name.

    Call it before the hooks are built (``attach`` checks ``format`` against what is registered then). The name is
    the module's ``NAME``, or else the last part of its module name.

    Raises:
        ValueError: the module has no ``REQUIRED``, no ``payload``/``build`` (``email`` aside), or its name is taken.
    """
    global FORMATS, HTTP_FORMATS
    if isinstance(module, str):
        module = importlib.import_module(module)
    name = getattr(module, "NAME", module.__name__.rsplit(".", 1)[-1])
    is_http = hasattr(module, "build") or hasattr(module, "payload")
    if not hasattr(module, "REQUIRED") or not (is_http or name == "email"):
        raise ValueError(f"{module.__name__} is not a service module: it needs REQUIRED and payload() or build()")
    if _MODULES.get(name, module) is not module:
        raise ValueError(f"notification format {name!r} is already {_MODULES[name].__name__}")
    _MODULES[name] = module
    REQUIRED[name] = tuple(module.REQUIRED)
    OPTIONAL[name] = tuple(getattr(module, "OPTIONAL", ()))
    if getattr(module, "RATE_LIMIT", None):
        RATE_LIMITS[name] = module.RATE_LIMIT
    FORMATS = tuple(_MODULES)
    HTTP_FORMATS = tuple(f for f in FORMATS if f != "email")
    return name


def rate_limit_of(fmt: str, given: float | None) -> float | None:
    """Messages per minute for a destination: ``given``, else the service's documented limit (None: no limit)."""
    return RATE_LIMITS.get(fmt) if given is None else given


for _service in SERVICES:
    register(f"{__name__}.{_service}")


def format_module(fmt: str) -> ModuleType:
    """The module implementing ``fmt``."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown notification format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return _MODULES[fmt]


def build_request(fmt: str, message: Message, options: Mapping) -> HttpRequest:
    """The HTTP request that delivers ``message`` with format ``fmt`` (every format but ``email``): the module's
    ``build``, or its ``payload`` POSTed as JSON to ``options["url"]``.

    Raises:
        ValueError: unknown format, ``email`` (use ``formats.email.build_email``), or a required option missing.
    """
    if fmt == "email":
        raise ValueError("the email format is not HTTP: use yolo_hooks.notify.formats.email.build_email/send_email")
    module = format_module(fmt)
    missing = [key for key in REQUIRED[fmt] if not options.get(key)]
    if missing:
        raise ValueError(f"{fmt}: missing option(s) {', '.join(missing)}")
    if hasattr(module, "build"):
        return module.build(message, options)
    return json_request(str(options["url"]), module.payload(message, options))


def check_response(fmt: str, status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """Classify a service's reply: delivered, worth retrying (and after how long), or failed for good."""
    if fmt == "email":
        raise ValueError("the email format is not HTTP: use yolo_hooks.notify.formats.email.classify_smtp_error")
    return getattr(format_module(fmt), "check", http_check)(status, headers, body or b"")
