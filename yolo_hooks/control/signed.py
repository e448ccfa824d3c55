"""Is a control request authentic, fresh and new? Standard Webhooks, checked as the ``json`` notify format signs.

A request carries ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature: v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">`` (several space-separated signatures are allowed while a secret is being
rotated); the key is the ``whsec_`` secret decoded, or the UTF-8 bytes of any other secret. The signature is made
by the one signing function of :mod:`yolo_hooks.notify.formats.json_`, so a sender can be tested against our own
notifications.

:func:`verify` answers with the HTTP status to reject with, or None: a request is rejected before anything in it is
read as a command, and the checks run in an order that tells an unauthenticated caller nothing about the run.

Examples:
    >>> from yolo_hooks.notify.formats.json_ import sign
    >>> secret, body = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"command": "status"}'
    >>> headers = {"webhook-id": "m1", "webhook-timestamp": "1000", "webhook-signature": sign(secret, "m1", 1000, body)}
    >>> verify(headers, body, secret, now=1010, seen=set()) is None
    True
    >>> verify(headers, body, secret, now=1400, seen=set())
    Rejection(status=401, reason='stale timestamp (400 s from now; at most 300 s)')
"""

from __future__ import annotations

import hmac
from typing import Container, Mapping, NamedTuple

from ..notify.formats.base import header
from ..notify.formats.json_ import sign

TOLERANCE = 300  # seconds a request's timestamp may be off the receiver's clock, either way (Standard Webhooks)


class Rejection(NamedTuple):
    """Why a request is refused, and the status it gets."""

    status: int
    reason: str


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float,
           seen: Container[str]) -> Rejection | None:
    """None for an authentic request signed within :data:`TOLERANCE` seconds of ``now`` whose id is not in ``seen``;
    else the :class:`Rejection` (400 headers missing, 401 stale or wrongly signed, 409 replayed)."""
    msg_id, stamp, signatures = (header(headers, h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not signatures:
        return Rejection(400, "missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        return Rejection(400, "webhook-timestamp is not a whole number of seconds")
    if abs(now - timestamp) > TOLERANCE:
        return Rejection(401, f"stale timestamp ({abs(now - timestamp):.0f} s from now; at most {TOLERANCE} s)")
    expected = sign(secret, msg_id, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures.split() if s.startswith("v1,")):
        return Rejection(401, "wrong signature")
    if msg_id in seen:
        return Rejection(409, "replayed webhook-id (already taken)")
    return None
