"""Keep secrets (webhook URLs, tokens, passwords) out of logs, errors, files and CLI output.

:func:`scrub` is the one scrubbing function: every text that leaves the process (log lines, ``ConfigError``
messages, outbox and journal lines, ``yolo-hooks`` output) passes through it. It removes each secret it is given
*and* every secret this process has seen in a config (:func:`remember`, called by ``load_config`` and by each hook
that holds one), in every form a server or a library may echo it back: raw, URL-encoded and base64, and for a URL
also its path, query and long path segments (a webhook URL carries its token there).

Examples:
    >>> scrub("POST https://hooks.example.com/T0/XXXXSECRET failed", ["https://hooks.example.com/T0/XXXXSECRET"])
    'POST https://hooks.example.com/*** failed'
    >>> scrub("echo: WFhYWFNFQ1JFVA==", ["XXXXSECRET"])
    'echo: ***'
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Any, Iterable
from urllib.parse import quote, quote_plus, urlsplit

# Keys whose values are secrets: also fsspec's storage_options (key, secret, token, password, connection_string,
# account_key, sas_token, client_secret, session_token, passphrase...).
SECRET_KEY = re.compile(r"(url|token|secret|password|passwd|passphrase|key|webhook|auth|signature|credential|"
                        r"connection_?str|conn_?str|sas)", re.IGNORECASE)
MASK = "***"
# compiled at import: the first use is inside a callback (the run marker's notify identities at train start)
_URL_HEAD = re.compile(r"^([a-zA-Z][\w+.-]*://)(?:[^@/]*@)?([^/?#]*)")
# A URL starts where a run of scheme characters starts (the lookbehind): tried from every letter of a long run, the
# scheme part would rescan the rest of the run each time (quadratic: 40,000 characters before " ://" took 5.8 s).
_URL = re.compile(r"(?<![\w+.-])[a-zA-Z][\w+.-]*://[^\s'\",\]\}]+")
MIN_SECRET = 4  # shorter strings would mask ordinary words
MIN_PIECE = 8  # a URL's path segment or query value treated as a secret on its own

_remembered: frozenset[str] = frozenset()  # replaced, never mutated: safe to read from any thread


def redact_url(url: str) -> str:
    """Keep scheme and host of a URL, hide path, query and credentials (webhook URLs carry their token in the path).

    Examples:
        >>> redact_url("https://hooks.slack.com/services/T000/B000/XXXX")
        'https://hooks.slack.com/***'
    """
    match = _URL_HEAD.match(url)
    return f"{match.group(1)}{match.group(2)}/{MASK}" if match else MASK


def redact_value(key: str, value: Any) -> Any:
    """``value`` as it may be shown under ``key``: masked when ``key`` names a secret (whatever its type), any URL
    reduced to its host (whatever the key), anything else as it is."""
    if value is None or isinstance(value, bool):
        return value
    secret_key = bool(SECRET_KEY.search(str(key)))
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value  # an unresolved ${ENV_VAR} reference is safe to show
        if "://" in value:
            return redact_url(value)
        return MASK if secret_key else value
    if secret_key:
        return MASK
    if isinstance(value, (list, tuple, dict)) and "://" in str(value):
        return scrub(str(value), _urls(str(value)))
    return value


def _urls(text: str) -> list[str]:
    return _URL.findall(text)


def redact_mapping(options: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` (nested dicts and lists too) with every secret-named value and every URL redacted."""
    out = {}
    for key, value in options.items():
        if isinstance(value, dict):
            out[key] = redact_mapping(value)
        elif isinstance(value, list):
            out[key] = [redact_mapping(v) if isinstance(v, dict) else redact_value(key, v) for v in value]
        else:
            out[key] = redact_value(key, value)
    return out


def remember(secrets: Iterable[Any]) -> None:
    """Add ``secrets`` to those every later :func:`scrub` removes (a config's URLs, tokens, passwords)."""
    global _remembered
    new = {str(s) for s in secrets if s is not None and not isinstance(s, bool) and len(str(s)) >= MIN_SECRET}
    if not new <= _remembered:
        _remembered = _remembered | new


def remember_config(value: Any, key: str = "") -> None:
    """Remember every value under a secret-named key of a config (nested dicts and lists too)."""
    if isinstance(value, dict):
        for k, v in value.items():
            remember_config(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            remember_config(v, key)
    elif value is not None and SECRET_KEY.search(key):
        remember([value])


def secret_pieces(secret: str) -> list[str]:
    """The secret, and for a URL its credentials, path, query and long path segments / query values."""
    pieces = [secret]
    if "://" in secret:
        try:
            parts = urlsplit(secret)
            password = parts.password
        except ValueError:
            return pieces
        pieces += [p for p in (password, parts.path, parts.query) if p and len(p) >= MIN_PIECE]
        segments = re.split(r"[/&=]", f"{parts.path}&{parts.query}")  # a token, not a word like "services"
        pieces += [p for p in segments if len(p) >= 16 or (len(p) >= MIN_PIECE and any(c.isdigit() for c in p))]
    return pieces


@lru_cache(maxsize=256)
def secret_forms(secret: str) -> tuple[tuple[str, str], ...]:
    """``(form, replacement)`` pairs for one secret: each piece raw, URL-encoded and base64 (padded or not)."""
    out: dict[str, str] = {}
    for piece in secret_pieces(secret):
        # a URL keeps its host, a URL's path its leading slash (``https://host/***``, not ``https://host***``)
        shown = redact_url(piece) if "://" in piece else "/" + MASK if piece.startswith("/") else MASK
        raw = piece.encode("utf-8", "surrogatepass")
        encoded = [piece, quote(raw, safe=""), quote(raw), quote_plus(raw)]  # bytes: a lone surrogate quotes too
        for b64 in (base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
            encoded += [b64, b64.rstrip("=")]
        for form in encoded:
            if len(form) >= MIN_SECRET:
                out.setdefault(form, shown if form == piece else MASK)
    return tuple(sorted(out.items(), key=lambda item: len(item[0]), reverse=True))


def scrub(text: str, secrets: Iterable[Any] = ()) -> str:
    """``text`` with every form of each of ``secrets`` and of every remembered secret replaced.

    A URL keeps its scheme and host (``https://hooks.slack.com/***``) so that the reader can tell destinations
    apart; every other form becomes ``***``. Longest forms go first, so a URL is replaced before its path.
    """
    text = str(text)
    # no secret given (most calls): the remembered set itself, whose hash is cached, not a new union per call
    given = frozenset(str(s) for s in secrets if s is not None and len(str(s)) >= MIN_SECRET) if secrets else None
    for form, shown in _all_forms(given | _remembered if given else _remembered):
        if form in text:
            text = text.replace(form, shown)
    return text


def has_secret(text: str) -> bool:
    """Whether :func:`scrub` (without given secrets) would find any form of a remembered secret in ``text``: one
    look over a text made of many strings joined tells that none of them needs scrubbing."""
    return any(form in text for form, _ in _all_forms(_remembered))


@lru_cache(maxsize=64)
def _all_forms(secrets: frozenset[str]) -> tuple[tuple[str, str], ...]:
    forms = {form: shown for secret in secrets for form, shown in secret_forms(secret)}
    return tuple(sorted(forms.items(), key=lambda item: len(item[0]), reverse=True))
