"""``discord``: a Discord webhook message with one embed.

Payload: ``{"content": "", "embeds": [{"title", "description", "color", "fields": [...], "footer", "timestamp"}],
"allowed_mentions": {"parse": []}}`` (no ``@everyone`` ping from a run name). Limits enforced (Discord embed
limits): title 256, description 4096, at most 25 fields, field name 256, value 1024, footer 2048, and 6000
characters over all of them; lengths are counted in UTF-16 units, which is never less than what Discord counts.
Replies: 204 (or 200) delivered; 429 with ``Retry-After`` and JSON ``retry_after`` seconds; 400 with a JSON
``message`` and ``code`` is permanent.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Mapping

from ..message import Message
from .base import DeliveryResult, HttpRequest, http_check, json_body, reply_json
from .render import DISCORD, heading, render, run_line, truncate, utf16_len
from .schema import WEBHOOK_URL, Option

OPTIONS = (WEBHOOK_URL, Option("display_name", "text", help="the name Discord shows instead of the webhook's"))
RATE_LIMIT = 30

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
MAX_FIELDS = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
TOTAL_LIMIT = 6000
MIN_DESCRIPTION = 500  # fields never squeeze the text out entirely
COLORS = {"info": 0x2E86DE, "warning": 0xF39C12, "critical": 0xE74C3C}
EMPTY = "\u200b"  # Discord rejects empty field names and values


def payload(message: Message, options: Mapping | None = None) -> dict:
    """The embed of ``message``, POSTed to the webhook ``url`` (``display_name`` overrides the webhook's name)."""
    title = truncate(heading(message), TITLE_LIMIT, utf16_len)
    footer = truncate(run_line(message).strip(), 200, utf16_len)
    used = utf16_len(title) + utf16_len(footer)
    fields = []
    for key, value in list(message.fields.items())[:MAX_FIELDS]:
        # Discord trims names and values: a whitespace-only one would arrive empty and reject the whole message.
        name = truncate(key.strip(), FIELD_NAME_LIMIT, utf16_len) or EMPTY
        text = render([(value.strip(), None)], DISCORD, FIELD_VALUE_LIMIT, utf16_len) or EMPTY
        size = utf16_len(name) + utf16_len(text)
        if used + size > TOTAL_LIMIT - MIN_DESCRIPTION:
            break
        fields.append({"name": name, "value": text, "inline": len(text) <= 40})
        used += size
    embed = {"title": title, "color": COLORS.get(message.severity, COLORS["info"])}
    budget = min(DESCRIPTION_LIMIT, TOTAL_LIMIT - used)
    description = render([(message.text.strip(), None)], DISCORD, budget, utf16_len) if message.text.strip() else ""
    if description:
        embed["description"] = description
    if fields:
        embed["fields"] = fields
    if footer:
        embed["footer"] = {"text": footer}
    embed["timestamp"] = datetime.fromtimestamp(message.time, tz=timezone.utc).isoformat()
    body = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    if display_name := (options or {}).get("display_name"):
        body["username"] = truncate(str(display_name), 80)  # Discord's field name
    return body


def _describe(body: bytes) -> str | None:
    reply = reply_json(body)
    if isinstance(reply, dict) and "message" in reply:
        return f"{reply['message']}" + (f" (code {reply['code']})" if reply.get("code") else "")
    return None


def _retry_after(body: bytes) -> float | None:
    reply = reply_json(body)
    value = reply.get("retry_after") if isinstance(reply, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def check(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """204/200 delivered; 429 waits for the longer of ``Retry-After`` and the body's ``retry_after``."""
    return http_check(status, headers, body, describe=_describe, retry_after_from_body=_retry_after)


# --- messages with an image (additive: text-only messages above are unchanged) -----------------------------------
def build_image(message: Message, options: Mapping, image: bytes, filename: str) -> HttpRequest:
    """POST multipart/form-data: ``payload_json`` (the embed, showing ``attachment://<filename>``) and ``files[0]``."""
    from urllib3 import encode_multipart_formdata

    body = payload(message, options)
    body["embeds"][0]["image"] = {"url": f"attachment://{filename}"}
    body["attachments"] = [{"id": 0, "filename": filename}]
    fields = [
        ("payload_json", (None, json_body(body), "application/json")),
        ("files[0]", (filename, image, "image/jpeg")),
    ]
    data, content_type = encode_multipart_formdata(fields)
    return HttpRequest(url=str(options["url"]), body=data, headers={"Content-Type": content_type})
