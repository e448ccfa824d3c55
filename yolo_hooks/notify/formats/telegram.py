"""``telegram``: the Telegram Bot API ``sendMessage``, text in MarkdownV2.

Request: ``POST {api_url}/bot{bot_token}/sendMessage`` with ``{"chat_id", "text", "parse_mode": "MarkdownV2",
"link_preview_options": {"is_disabled": true}}``. Every reserved character (``_*[]()~`>#+-=|{}.!`` and ``\\``) is
escaped. Limit enforced: ``text`` is 1-4096 characters after entity parsing; the escaped text itself is kept
within 4096 UTF-16 units, so the parsed text is always shorter, and truncation keeps whole escape sequences and
closes a cut ``*bold*`` (never a dangling backslash or an unclosed entity, which Telegram rejects with 400
"can't parse entities").

Replies: ``{"ok": true, ...}``; 429 ``{"ok": false, "parameters": {"retry_after": N}}``; 400 / 401 / 403 (bad
chat, bad token, bot blocked) are permanent. The token is part of the URL: never log the URL.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..message import Message
from .base import DeliveryResult, HttpRequest, http_check, json_request, reply_json
from .render import TELEGRAM, message_spans, render, run_line, utf16_len
from .schema import Option

DEFAULT_API_URL = "https://api.telegram.org"
OPTIONS = (
    Option("bot_token", "text", required=True, secret=True, example="${TELEGRAM_BOT_TOKEN}",
           help="the bot's token from @BotFather (part of every request's URL)"),
    Option("chat_id", "chat_id", required=True, example="-1001234567890",
           help="the chat, group or channel: its number, or @channelname"),
    Option("api_url", "url", default=DEFAULT_API_URL, help="the Bot API server (a self-hosted one)"),
    Option("commands", "bool", default=False,
           help="take /status, /stop, /extend, /patience and /save from this chat (see Run control)"),
)
RATE_LIMIT = 20
TEXT_LIMIT = 4096


def identity(options: Mapping[str, Any]) -> tuple[str, str]:
    """Destinations differ by chat (the bot token is a secret, never shown)."""
    return f"{options.get('chat_id')}", f"telegram chat {options.get('chat_id')}"


def text(message: Message) -> str:
    """The MarkdownV2 text of ``message`` within 4096 UTF-16 units."""
    spans = message_spans(message)
    context = run_line(message)
    if context and message.run.get("name", "") not in message.title:
        spans += [("\n", None), (context, None)]
    return render(spans, TELEGRAM, TEXT_LIMIT, utf16_len).rstrip() or "\\."


def api_url(options: Mapping) -> str:
    """``{api_url}/bot{bot_token}/sendMessage``."""
    base = str(options.get("api_url") or DEFAULT_API_URL).rstrip("/")
    return f"{base}/bot{options['bot_token']}/sendMessage"


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST ``sendMessage`` for ``options["chat_id"]``."""
    chat_id = options["chat_id"]
    payload = {
        "chat_id": int(chat_id) if isinstance(chat_id, str) and chat_id.lstrip("-").isdigit() else chat_id,
        "text": text(message),
        "parse_mode": "MarkdownV2",
        "link_preview_options": {"is_disabled": True},
    }
    return json_request(api_url(options), payload)


def _describe(body: bytes) -> str | None:
    reply = reply_json(body)
    return str(reply["description"]) if isinstance(reply, dict) and reply.get("description") else None


def _retry_after(body: bytes) -> float | None:
    reply = reply_json(body)
    parameters = reply.get("parameters") if isinstance(reply, dict) else None
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def check(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """``ok: true`` delivered; 429 waits ``parameters.retry_after`` seconds; 4xx permanent."""
    verdict = http_check(status, headers, body, describe=_describe, retry_after_from_body=_retry_after)
    if verdict.ok:
        reply = reply_json(body)
        if isinstance(reply, dict) and reply.get("ok") is False:
            return DeliveryResult(ok=False, retry=False, error=f"telegram: {_describe(body) or 'not ok'}")
    return verdict


# --- messages with an image (additive: text-only messages above are unchanged) -----------------------------------
CAPTION_LIMIT = 1024  # sendPhoto caption, UTF-16 units after entity parsing


def caption(message: Message) -> str:
    """The MarkdownV2 caption of ``message`` within 1024 UTF-16 units."""
    spans = message_spans(message)
    return render(spans, TELEGRAM, CAPTION_LIMIT, utf16_len).rstrip() or "\\."


def build_image(message: Message, options: Mapping, image: bytes, filename: str) -> HttpRequest:
    """POST ``sendPhoto`` (multipart/form-data: ``chat_id``, ``caption``, ``parse_mode``, ``photo``)."""
    from urllib3 import encode_multipart_formdata

    chat_id = options["chat_id"]
    fields = {
        "chat_id": str(chat_id),
        "caption": caption(message),
        "parse_mode": "MarkdownV2",
        "photo": (filename, image, "image/jpeg"),
    }
    body, content_type = encode_multipart_formdata(fields)
    url = api_url(options).rsplit("/", 1)[0] + "/sendPhoto"
    return HttpRequest(url=url, body=body, headers={"Content-Type": content_type})
