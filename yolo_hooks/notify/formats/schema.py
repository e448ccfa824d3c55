"""A service's options as data: each format module declares ``OPTIONS = (Option(...), ...)`` and this module
validates, redacts and documents from that declaration (the way apprise declares each URL token with a ``private``
flag), so nothing else lists a service's options or which of them are secret.

* :func:`check` turns the options given to a destination into validated ones (one validator per ``kind``; errors
  name the destination, the key, the value with secrets redacted, and what is allowed);
* :func:`secrets` lists what must never be printed (every ``secret`` option, and a URL's path and query, which carry
  its token) and :func:`shown` what ``yolo-hooks check`` may print;
* :func:`markdown_table` documents them.

Examples:
    >>> PIN = Option("pin", "text", required=True, secret=True, help="the pager's PIN", example="${PAGER_PIN}")
    >>> check("notify_pager", "pager", (PIN,), {"pin": "8817-2234"})
    {'pin': '8817-2234'}
    >>> check("notify_pager", "pager", (PIN,), {})
    Traceback (most recent call last):
    yolo_hooks.core.errors.ConfigError: notify_pager: format `pager` needs `pin` (e.g. pin: "${PAGER_PIN}")
    >>> shown((PIN,), {"pin": "8817-2234"}), secrets((PIN,), {"pin": "8817-2234"})
    ({'pin': '***'}, ['8817-2234'])
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import urlsplit

from ...core.errors import ConfigError
from ...core.redact import MASK, MIN_PIECE, redact_url

KINDS = ("url", "urls", "text", "path", "port", "choice", "emails", "chat_id", "bool")


class Invalid(ValueError):
    """A value an option does not take; its text says what is allowed (``an http:// or https:// URL``)."""


@dataclass(frozen=True)
class Option:
    """One option of a notification service.

    Attributes:
        name: the key users write (``url``, ``bot_token``); never one of the options every destination has.
        kind: how the value is checked: ``url`` (http/https), ``urls`` (one URL of any scheme or a list of them:
            kept as a list; apprise's), ``text`` (a non-empty string), ``path`` (a file, as text), ``port``
            (1-65535), ``choice`` (one of ``choices``), ``emails`` (one address or a list: kept as a list),
            ``chat_id`` (a number or ``@channelname``), ``bool`` (true or false).
        required: the service cannot work without it.
        default: the value used when it is not given (``None``: nothing is filled in).
        secret: never printed: redacted in ``yolo-hooks check`` and in errors, scrubbed from logs and the outbox.
        choices: the values a ``choice`` takes.
        help: one line for the docs.
        example: what to write, shown when a required option is missing (``${TELEGRAM_BOT_TOKEN}``: secrets
            belong in the environment).
        check: a further check after the kind's, ``value -> value``, raising :class:`Invalid` with what is allowed
            (json's ``whsec_`` signing secret must decode).
        show: how the value may be printed, ``value -> shown`` (apprise's URLs: as apprise itself redacts them),
            instead of the kind's rule; it must not show a secret.
    """

    name: str
    kind: str
    required: bool = False
    default: Any = None
    secret: bool = False
    choices: tuple[str, ...] = ()
    help: str = ""
    example: str = ""
    check: Callable[[Any], Any] | None = field(default=None, compare=False)
    show: Callable[[Any], Any] | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (self.kind == "choice") != bool(self.choices):
            raise ValueError(f"option {self.name!r}: `choices` go with kind 'choice' (and only with it)")

    def validate(self, value: Any) -> Any:
        """``value`` checked (and normalised: ``emails`` become a list); raises :class:`Invalid`."""
        value = VALIDATORS[self.kind](self, value)
        return value if self.check is None else self.check(value)

    def shown(self, value: Any) -> Any:
        """``value`` as it may be printed: a secret masked (a URL keeps its host), any URL reduced to its host."""
        if self.show is not None:
            return self.show(value)
        if self.secret or self.kind == "url":
            return redact_url(value) if isinstance(value, str) and "://" in value else MASK if self.secret else value
        return value


# --- one validator per kind ------------------------------------------------------------------------------------
def _url(option: Option, value: Any) -> str:
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
        parts and parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("an http:// or https:// URL")
    return value


def _urls(option: Option, value: Any) -> list[str]:
    urls = [value] if isinstance(value, str) else value
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and "://" in u for u in urls):
        raise Invalid("a URL (scheme://...) or a list of them")
    return urls


def _text(option: Option, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("a non-empty string")
    return value


def _port(option: Option, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise Invalid("an integer >= 1 and <= 65535")
    return value


def _choice(option: Option, value: Any) -> str:
    if not isinstance(value, str) or value not in option.choices:
        raise Invalid("one of " + ", ".join(option.choices))
    return value


def _emails(option: Option, value: Any) -> list[str]:
    addresses = [value] if isinstance(value, str) else value
    if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) and "@" in a for a in addresses):
        raise Invalid("an e-mail address or a list of them")
    return addresses


def _chat_id(option: Option, value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise Invalid("a chat id (number or @channelname)")
    return value


def _bool(option: Option, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid("true or false")
    return value


VALIDATORS: dict[str, Callable[[Option, Any], Any]] = {
    "url": _url, "urls": _urls, "text": _text, "path": _text, "port": _port, "choice": _choice, "emails": _emails,
    "chat_id": _chat_id, "bool": _bool,
}  # fmt: skip
TYPE_NAMES = {"url": "URL", "urls": "URL(s)", "text": "text", "path": "file path", "port": "port", "choice": "choice",
              "emails": "e-mail address(es)", "chat_id": "chat id", "bool": "true / false"}  # fmt: skip


# --- the shared code: validate, redact, document ------------------------------------------------------------------
def given(value: Any) -> bool:
    """An option counts as given unless it is ``None``, ``""`` or ``[]`` (``${UNSET:-}`` expands to ``""``)."""
    return value is not None and value != "" and value != []


def check(
    hook: str, fmt: str, declared: Iterable[Option], options: Mapping[str, Any], elsewhere: Iterable[str] = ()
) -> dict[str, Any]:
    """The options of one ``fmt`` destination, validated against its declaration, defaults filled in.

    Args:
        hook: the destination's name, for the errors.
        fmt: the format's name, for the errors.
        declared: the format's ``OPTIONS``.
        options: what was given (``None`` values count as not given).
        elsewhere: option names of the other formats (a key one of them takes gets "does not use", not "unknown").

    Raises:
        ConfigError: a required option missing (with an example), an option the format does not take (with the
            closest spelling), or a value its kind does not allow (redacted when secret).
    """
    declared = {o.name: o for o in declared}
    options = {k: v for k, v in options.items() if v is not None}
    for option in declared.values():
        if option.required and not given(options.get(option.name)):
            hint = f' (e.g. {option.name}: "{option.example}")' if option.example else ""
            raise ConfigError(f"{hook}: format `{fmt}` needs `{option.name}`{hint}")
    for key in options:
        if key not in declared:
            close = difflib.get_close_matches(str(key), list(declared), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            what = "does not use" if key in set(elsewhere) else "has no option"
            raise ConfigError(f"{hook}: format `{fmt}` {what} `{key}`{hint}; its options are: {', '.join(sorted(declared))}")
    out = {}
    for name, option in declared.items():
        if name not in options:
            if option.default is not None:
                out[name] = option.default
            continue
        try:
            out[name] = option.validate(options[name])
        except Invalid as why:  # the value shown as the declaration allows: a secret never, a URL by its host
            raise ConfigError.bad_value(hook, name, option.shown(options[name]), str(why)) from None
    return out


def secrets(declared: Iterable[Option], options: Mapping[str, Any]) -> list[str]:
    """What must never be printed: each ``secret`` option's value, then the path and query of every URL (they carry
    a webhook's token, and a self-hosted API's credentials)."""
    declared = [o for o in declared if options.get(o.name) is not None]
    out = [str(v) for o in declared if o.secret for v in _values(options[o.name])]
    for option in declared:
        if option.kind == "url":
            parts = urlsplit(str(options[option.name]))
            out += [p for p in (parts.path, parts.query) if len(p) >= MIN_PIECE]
    return out


def _values(value: Any) -> list[Any]:
    """An option's value as a list of the values it holds (a ``urls`` or ``emails`` list holds several)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def shown(declared: Iterable[Option], options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` as ``yolo-hooks check`` may print them (see :meth:`Option.shown`); undeclared keys are masked."""
    declared = {o.name: o for o in declared}
    return {k: declared[k].shown(v) if k in declared else MASK for k, v in options.items()}


def markdown_table(declared: Iterable[Option]) -> str:
    """The options as a Markdown table: option, type, required, default, secret, description.

    Examples:
        >>> print(markdown_table([Option("room", "text", required=True, help="the room to post in")]))
        | option | type | required | default | secret | description |
        |---|---|---|---|---|---|
        | `room` | text | yes | — | no | the room to post in |
    """
    rows = ["| option | type | required | default | secret | description |", "|---|---|---|---|---|---|"]
    for o in declared:
        kind = TYPE_NAMES[o.kind] + (": " + ", ".join(f"`{c}`" for c in o.choices) if o.choices else "")
        shown = str(o.default).lower() if isinstance(o.default, bool) else o.default  # as YAML writes it
        default = "—" if o.default is None else f"`{shown}`"
        cells = [f"`{o.name}`", kind, "yes" if o.required else "no", default, "yes" if o.secret else "no",
                 o.help.replace("|", "\\|")]  # fmt: skip
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


# --- options several services share, declared once ------------------------------------------------------------
WEBHOOK_URL = Option("url", "url", required=True, secret=True, example="${WEBHOOK_URL}",
                     help="the webhook URL (its path or query carries the token: keep it in the environment)")
SIGNING_SECRET = Option("secret", "text", secret=True, example="${WEBHOOK_SECRET}",
                        help="signing secret: each request is signed with it")
