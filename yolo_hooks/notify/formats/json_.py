"""``json``: our own documented, versioned schema for any HTTP endpoint, optionally signed (Standard Webhooks).

Body (``schema`` changes only on incompatible changes; new keys may be added within a version)::

    {"schema": "yolo_hooks.notification/v1", "id": "…", "event": "new_best", "severity": "info",
     "title": "…", "text": "…", "fields": {"Epoch": "3/10"}, "run": {"name": "train7"}, "data": {…},
     "time": 1717000000.123, "time_iso": "2024-05-29T16:26:40.123Z"}

Headers: ``Idempotency-Key: <id>`` always (a retried delivery carries the same id, so receivers can drop
duplicates). With a ``secret``, the Standard Webhooks headers ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature: v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>``; the key is the base64-decoded
part of a ``whsec_…`` secret, or the UTF-8 bytes of any other secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import replace
from datetime import datetime, timezone
from typing import Mapping

from ..message import Message
from .base import JSON_CONTENT_TYPE, DeliveryResult, HttpRequest, http_check, json_body
from .schema import SIGNING_SECRET, WEBHOOK_URL, Invalid

NAME = "json"
SCHEMA = "yolo_hooks.notification/v1"


def signing_secret(secret: str) -> str:
    """A Standard Webhooks ``whsec_<base64>`` secret must decode (else every send would fail); any other text is used
    as it is."""
    try:
        signing_key(secret)
    except ValueError:
        raise Invalid("whsec_ followed by valid base64, or any other text") from None
    return secret


OPTIONS = (
    WEBHOOK_URL,
    replace(SIGNING_SECRET, check=signing_secret, example="${NOTIFY_JSON_SECRET}",
            help="Standard Webhooks signing secret (`whsec_<base64>`, or any text): adds the webhook-signature header"),
)


def payload(message: Message) -> dict:
    """The schema-v1 body of ``message``."""
    iso = datetime.fromtimestamp(message.time, tz=timezone.utc).isoformat(timespec="milliseconds")
    return {"schema": SCHEMA, **message.as_dict(), "time_iso": iso.replace("+00:00", "Z")}


def signing_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: ``whsec_<base64>`` decoded, otherwise the raw text."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("json: `secret` starts with whsec_ but the rest is not valid base64") from None
    return secret.encode("utf-8")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def build(message: Message, options: Mapping, body: bytes | None = None) -> HttpRequest:
    """POST the schema-v1 ``body`` (by default: of ``message``) to ``options["url"]``; signed when
    ``options["secret"]`` is set."""
    body = json_body(payload(message)) if body is None else body
    headers = {"Content-Type": JSON_CONTENT_TYPE, "Idempotency-Key": message.id}
    secret = options.get("secret")
    if secret:
        timestamp = int(time.time())  # the send time, not the message time: receivers reject stale timestamps
        headers.update(
            {
                "webhook-id": message.id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(str(secret), message.id, timestamp, body),
            }
        )
    return HttpRequest(url=str(options["url"]), body=body, headers=headers)


def check(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """Any 2xx is delivered (409 Conflict too: the receiver already has this id)."""
    if status == 409:
        return DeliveryResult(ok=True)
    return http_check(status, headers, body)


# --- messages with an image (additive: text-only messages above are unchanged) -----------------------------------
def build_image(message: Message, options: Mapping, image: bytes, filename: str) -> HttpRequest:
    """The schema-v1 body plus an ``image`` object: ``{"filename", "content_type", "size", "sha256", "base64"}``.

    A base64 field rather than multipart: the body stays one JSON document (so the Standard Webhooks signature
    covers the image too, and every receiver of this format keeps working: new keys are allowed within v1).
    """
    extra = {"filename": filename, "content_type": "image/jpeg", "size": len(image),
             "sha256": hashlib.sha256(image).hexdigest(), "base64": base64.b64encode(image).decode("ascii")}
    return build(message, options, json_body({**payload(message), "image": extra}))
