"""The records every format shares (the request to send, the verdict on the reply, the image a message carries) and
reply helpers."""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Callable, Mapping

JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP request, as :func:`yolo_hooks.notify.http.send` sends it (``body``, else ``json`` encoded).

    Every built-in format fills ``body`` (the exact bytes, so size limits and signatures hold for what is sent)
    and sets ``Content-Type``; ``json`` is for callers building their own requests.
    """

    url: str
    json: dict | None = None
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "POST"

    def payload(self) -> Any:
        """The JSON payload (parsed from ``body`` when the request carries bytes)."""
        return self.json if self.body is None else json.loads(self.body)

    def __repr__(self) -> str:  # the URL carries the webhook token: never print it
        from ...core.redact import redact_url

        return f"HttpRequest(method={self.method!r}, url={redact_url(self.url)!r}, {len(self.body or b'')} bytes)"


@dataclass(frozen=True)
class DeliveryResult:
    """What a reply means for delivery.

    Attributes:
        ok: delivered.
        retry: a transient failure (429, 5xx, the service's own "rate limited" code in a 200 body).
        retry_after: seconds the service asked to wait, when it said so.
        error: short human reason; never contains the URL or a token.
    """

    ok: bool
    retry: bool = False
    retry_after: float | None = None
    error: str | None = None


OK = DeliveryResult(ok=True)


@dataclass(frozen=True)
class Image:
    """The image a message carries (a detection alert's image), read from its file at send time."""

    data: bytes = field(repr=False)
    filename: str
    content_type: str = "image/jpeg"


def json_body(payload: Mapping) -> bytes:
    """Compact UTF-8 JSON (non-ASCII kept as is: WeCom/DingTalk limits count bytes, ``\\uXXXX`` would triple them)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def json_request(url: str, payload: Mapping, headers: Mapping[str, str] | None = None) -> HttpRequest:
    """A POST of ``payload`` as JSON."""
    return HttpRequest(url=url, body=json_body(payload), headers={"Content-Type": JSON_CONTENT_TYPE, **(headers or {})})


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup on any mapping (a plain dict or the reply's ``http.client.HTTPMessage``)."""
    if not headers:
        return None
    lowered = name.lower()
    for key, value in headers.items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def parse_retry_after(value: str | float | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delta-seconds or an HTTP date (RFC 9110 §10.2.3).

    Examples:
        >>> parse_retry_after("2.5"), parse_retry_after(None), parse_retry_after("soon")
        (2.5, None, None)
    """
    if value is None or value == "":
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        try:
            when = email.utils.parsedate_to_datetime(str(value))
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if seconds == seconds else None  # NaN guard


def reply_json(body: bytes) -> Any:
    """The reply parsed as JSON, or ``None``."""
    try:
        return json.loads(body.decode("utf-8", "replace")) if body else None
    except ValueError:
        return None


def short_text(body: bytes, limit: int = 200) -> str:
    """The start of a reply body on one line, for error messages; scrubbed *before* it is cut, so that a token
    the server echoed back cannot survive as a half that no later scrub recognises."""
    from ...core.redact import scrub

    head = body[: limit * 4 + 4096]  # enough to hold any token that reaches into the first `limit` characters
    text = " ".join(scrub(head.decode("utf-8", "replace")).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def status_phrase(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def http_check(
    status: int,
    headers: Mapping[str, str] | None,
    body: bytes,
    *,
    describe: Callable[[bytes], str | None] | None = None,
    retry_after_from_body: Callable[[bytes], float | None] | None = None,
) -> DeliveryResult:
    """The HTTP-level verdict shared by every service.

    2xx is delivered; 429, 408, 425 and 5xx are transient (with the wait from ``Retry-After``, or from the body
    for services that put it there); any other status is permanent: retrying a bad payload or a revoked webhook
    cannot help, so it is reported once.
    """
    if 200 <= status < 300:
        return OK
    detail = short_text(str(describe(body)).encode("utf-8")) if describe and describe(body) else short_text(body)
    transient = status in (408, 425, 429) or status >= 500
    reason = status_phrase(status) + (" (rate limited)" if status == 429 else "") + (f": {detail}" if detail else "")
    if not transient:
        return DeliveryResult(ok=False, retry=False, error=reason)
    wait = parse_retry_after(header(headers, "Retry-After"))
    if retry_after_from_body is not None:
        from_body = retry_after_from_body(body)
        wait = from_body if from_body is not None and (wait is None or from_body > wait) else wait
    return DeliveryResult(ok=False, retry=True, retry_after=wait, error=reason)


def errcode_check(
    status: int,
    headers: Mapping[str, str] | None,
    body: bytes,
    *,
    code_keys: tuple[str, ...],
    message_keys: tuple[str, ...],
    rate_limited: frozenset[int],
    busy: frozenset[int] = frozenset({-1}),
    rate_limit_wait: float | None = None,
    service: str,
) -> DeliveryResult:
    """Verdict for the chat-robot APIs that answer HTTP 200 with ``{"errcode": N, "errmsg": ...}``.

    ``rate_limited`` codes are retried after ``rate_limit_wait`` seconds (these robots limit messages per minute
    and do not say how long to wait); ``busy`` codes ("system busy") are retried with the caller's back-off;
    every other non-zero code is a permanent error (bad signature, keyword missing, revoked robot...).
    """
    verdict = http_check(status, headers, body, describe=lambda b: _first(reply_json(b), message_keys))
    if not verdict.ok:
        return verdict
    reply = reply_json(body)
    if not isinstance(reply, dict):
        return DeliveryResult(ok=False, retry=True, error=f"{service}: unexpected reply {short_text(body, 80)!r}")
    code = _first(reply, code_keys)
    if code in (None, 0, "0"):
        return OK
    try:
        code = int(code)
    except (TypeError, ValueError):
        pass
    message = short_text(str(_first(reply, message_keys) or "no message").encode("utf-8"))
    limited = code in rate_limited
    return DeliveryResult(
        ok=False,
        retry=limited or code in busy,
        retry_after=rate_limit_wait if limited else None,
        error=f"{service} error {code}: {message}" + (" (rate limited)" if limited else ""),
    )


def _first(reply: Any, keys: tuple[str, ...]) -> Any:
    if isinstance(reply, dict):
        for key in keys:
            if key in reply:
                return reply[key]
    return None


def fit_json(make: Callable[[int, int], Mapping], limit: int, text_budget: int, field_count: int) -> bytes:
    """The JSON body of ``make(text_budget, field_count)`` shrunk until it is at most ``limit`` UTF-8 bytes.

    JSON escaping makes the body larger than its text by an amount that depends on the text (quotes, newlines),
    so the exact size is only known after encoding: shrink the text by the overflow, and once there is no text
    left, drop fields from the end. ``make(0, 0)`` must fit (a truncated title and fixed markup only).
    """
    while True:
        body = json_body(make(text_budget, field_count))
        over = len(body) - limit
        if over <= 0:
            return body
        if text_budget > 0:
            text_budget = max(0, text_budget - over - 16)
        elif field_count > 0:  # shrink in proportion, so a message with hundreds of facts needs few rounds
            field_count = min(field_count - 1, field_count * limit // len(body))
        else:
            raise ValueError(f"payload cannot fit in {limit} bytes")  # a bug in the format, not a user error
