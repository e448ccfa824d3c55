"""One small module per service: its options as data, and how a message gets there. ``build_request(fmt, message,
options)`` and ``check_response(fmt, ...)`` serve the formats sent over HTTP; nothing here opens a socket but a
format that delivers itself (``email``).

A service module declares everything about its service (see the README, "Adding a notification service"):

* ``OPTIONS``: its options as data (:class:`.schema.Option`: kind, required, default, secret, help), from which
  they are checked when the hook is built, kept out of every log line, error and file, and documented;
* how a message gets there, one of

  - ``payload(message, options) -> dict``, the JSON body POSTed to ``options["url"]``, or ``build(message,
    options) -> HttpRequest`` when it needs its own URL, headers, signature or byte limit; the delivery sends it
    over its kept-alive connection and reads the reply with ``check(status, headers, body) -> DeliveryResult``
    where replies mean more than :func:`.base.http_check` reads (2xx delivered; 408/425/429/5xx retried, with
    ``Retry-After``; any other status permanent);
  - ``deliver(message, options, timeout, image) -> (DeliveryResult, down)``: the format delivers itself (e-mail
    over SMTP); ``image`` is the message's :class:`.base.Image`, read at send time, or None; ``down`` says why the
    destination is known down (refused, timed out: the end of the run does not wait for it), else None;
* optionally ``NAME`` (when the module's name cannot be the format's: ``json_.py``), ``identity(options)`` (what tells
  two destinations apart and what to show, when it is not the ``url``: see ``telegram``), ``RATE_LIMIT`` (messages a
  minute, the service's documented limit) or ``rate_limit(options)`` (when it depends on the options: ``apprise``),
  ``secrets(options)`` (what must never be printed besides its ``secret`` options and URLs' paths: ``apprise``),
  ``build_image`` / ``IMAGES`` and ``IMAGE_WITHOUT_TEXT`` (see :mod:`..images`).

The modules shipped here are listed once, in :data:`SERVICES`; :func:`register` adds one from elsewhere.

Examples:
    >>> from yolo_hooks.notify.message import Message
    >>> req = build_request("json", Message("test", "info", "Hello"), {"url": "https://example.com/hook"})
    >>> req.headers["Content-Type"], "Idempotency-Key" in req.headers
    ('application/json', True)
    >>> check_response("slack", 429, {"Retry-After": "3"}, b"")
    DeliveryResult(ok=False, retry=True, retry_after=3.0, error='HTTP 429 Too Many Requests (rate limited)')
    >>> [o.name for o in OPTIONS["telegram"] if o.secret]
    ['bot_token']
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Mapping

from ..message import Message
from . import schema
from .base import DeliveryResult, HttpRequest, Image, http_check, json_request
from .schema import Option

# The service modules of this package, in the order errors list them: a new service is its module plus its name here.
SERVICES = ("json_", "slack", "discord", "teams", "wecom", "dingtalk", "feishu", "telegram", "email", "apprise")

_MODULES: dict[str, ModuleType] = {}  # format name -> its module
FORMATS: tuple[str, ...] = ()  # every format name
HTTP_FORMATS: tuple[str, ...] = ()  # those sent as HTTP requests (the others deliver themselves: email)
OPTIONS: dict[str, tuple[Option, ...]] = {}  # each format's declared options
RATE_LIMITS: dict[str, int] = {}  # documented messages per minute, used when `rate_limit` is not given

__all__ = [
    "FORMATS",
    "HTTP_FORMATS",
    "OPTIONS",
    "RATE_LIMITS",
    "Option",
    "Image",
    "rate_limit_of",
    "SERVICES",
    "HttpRequest",
    "DeliveryResult",
    "build_request",
    "check_options",
    "check_response",
    "delivers_itself",
    "format_module",
    "option_names",
    "options_table",
    "register",
    "secrets",
    "shown_options",
]


def register(module: str | ModuleType) -> str:
    """Make a service module (or its dotted import name) a format; returns the format's name.

    Call it before the hooks are built (``attach`` checks ``format`` against what is registered then). The name is
    the module's ``NAME``, or else the last part of its module name.

    Raises:
        ValueError: the module has no ``OPTIONS`` of :class:`Option`, no ``payload``/``build``/``deliver``, declares
            an option twice, or its name is taken.
    """
    global FORMATS, HTTP_FORMATS
    if isinstance(module, str):
        module = importlib.import_module(module)
    name = getattr(module, "NAME", module.__name__.rsplit(".", 1)[-1])
    declared = getattr(module, "OPTIONS", None)
    sends = any(hasattr(module, attr) for attr in ("build", "payload", "deliver"))
    if not isinstance(declared, (tuple, list)) or not all(isinstance(o, Option) for o in declared) or not sends:
        raise ValueError(f"{module.__name__} is not a service module: it needs OPTIONS (a tuple of Option) and "
                         f"payload(), build() or deliver()")
    names = [o.name for o in declared]
    if len(set(names)) < len(names):
        raise ValueError(f"{module.__name__} declares an option twice: {', '.join(names)}")
    if _MODULES.get(name, module) is not module:
        raise ValueError(f"notification format {name!r} is already {_MODULES[name].__name__}")
    _MODULES[name] = module
    OPTIONS[name] = tuple(declared)
    if getattr(module, "RATE_LIMIT", None):
        RATE_LIMITS[name] = module.RATE_LIMIT
    FORMATS = tuple(_MODULES)
    HTTP_FORMATS = tuple(f for f in FORMATS if not delivers_itself(f))
    return name


def rate_limit_of(fmt: str, given: float | None, options: Mapping[str, Any] | None = None) -> float | None:
    """Messages per minute for a destination: ``given``, else the service's documented limit (None: no limit): its
    module's ``RATE_LIMIT``, or what its ``rate_limit(options)`` says for these options (apprise: the pace its
    plugins keep)."""
    if given is not None:
        return given
    module = _MODULES.get(fmt)
    if module is not None and options is not None and hasattr(module, "rate_limit"):
        return module.rate_limit(options)
    return RATE_LIMITS.get(fmt)


def format_module(fmt: str) -> ModuleType:
    """The module implementing ``fmt``."""
    if fmt not in _MODULES:
        raise ValueError(f"unknown notification format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return _MODULES[fmt]


def delivers_itself(fmt: str) -> bool:
    """Does ``fmt`` deliver its messages itself (``deliver()``: e-mail), rather than as HTTP requests we send?"""
    return hasattr(format_module(fmt), "deliver")


for _service in SERVICES:
    register(f"{__name__}.{_service}")


# --- options: checked, redacted and documented from each format's declaration -------------------------------------
def option_names() -> tuple[str, ...]:
    """Every option some registered format declares (each once, in registration order)."""
    return tuple(dict.fromkeys(o.name for options in OPTIONS.values() for o in options))


def check_options(hook: str, fmt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` of a ``fmt`` destination named ``hook``, checked against the format's ``OPTIONS`` (see
    :func:`.schema.check`); an option that another format takes is one this one "does not use"."""
    return schema.check(hook, fmt, OPTIONS[fmt], options, elsewhere=option_names())


def secrets(fmt: str, options: Mapping[str, Any]) -> list[str]:
    """What a ``fmt`` destination must never print: its secret options, and its URLs' paths and queries; plus what
    its module's ``secrets(options)`` adds (apprise: the tokens its URLs carry outside the path)."""
    more = getattr(_MODULES.get(fmt), "secrets", None)
    return schema.secrets(OPTIONS.get(fmt, ()), options) + (list(more(options)) if callable(more) else [])


def shown_options(fmt: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A ``fmt`` destination's options as they may be printed (secrets masked, URLs reduced to their host)."""
    return schema.shown(OPTIONS.get(fmt, ()), options)


def options_table(fmt: str) -> str:
    """The options of ``fmt`` as a Markdown table (for the docs)."""
    format_module(fmt)  # an unknown format is a ValueError naming the known ones
    return schema.markdown_table(OPTIONS[fmt])


# --- formats sent over HTTP ---------------------------------------------------------------------------------------
def build_request(fmt: str, message: Message, options: Mapping) -> HttpRequest:
    """The HTTP request that delivers ``message`` with format ``fmt`` (one sent over HTTP): the module's ``build``, or
    its ``payload`` POSTed as JSON to ``options["url"]``.

    Raises:
        ValueError: unknown format, one that delivers itself (``email``), or a required option missing.
    """
    module = format_module(fmt)
    if delivers_itself(fmt):
        raise ValueError(f"the {fmt} format delivers itself (its deliver()): it builds no HTTP request")
    missing = [o.name for o in OPTIONS[fmt] if o.required and not options.get(o.name)]
    if missing:
        raise ValueError(f"{fmt}: missing option(s) {', '.join(missing)}")
    if hasattr(module, "build"):
        return module.build(message, options)
    return json_request(str(options["url"]), module.payload(message, options))


def check_response(fmt: str, status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """Classify a service's reply: delivered, worth retrying (and after how long), or failed for good."""
    if delivers_itself(fmt):
        raise ValueError(f"the {fmt} format delivers itself (its deliver()): it reads no HTTP reply")
    return getattr(format_module(fmt), "check", http_check)(status, headers, body or b"")
