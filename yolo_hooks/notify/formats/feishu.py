"""``feishu``: a Feishu / Lark custom bot, interactive card, signed when a ``secret`` is given.

Payload: ``{"msg_type": "interactive", "card": {"header": {"title": {"tag": "plain_text", ...}, "template":
colour}, "elements": [div (plain_text), div (fields, lark_md), note]}}``; the same body works for Lark
(``open.larksuite.com``). Limit enforced: the request body at most 20 000 bytes (custom-bot requests are limited
to 20 KB). Text is sent as ``plain_text`` so nothing in it is parsed as markup.

Signing ("签名校验"): ``string_to_sign = f"{timestamp}\\n{secret}"`` is the HMAC-SHA256 *key*, the message is
empty; ``sign = base64(digest)``; ``timestamp`` (seconds, a string) and ``sign`` go in the JSON body. The bot
rejects a timestamp more than an hour off (code 19021).

Replies: HTTP 200 with ``{"code": 0, "msg": "success"}`` (older replies: ``StatusCode``). 11232 (flow control:
100 messages a minute, 5 a second per bot) is retried after 60 s (the frequency limit resets within a minute);
2200 (internal error) is retried; any other code (9499 bad request, 19021 signature, 19022 IP, 19024 keyword) is
permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import replace
from functools import partial
from typing import Mapping

from ..message import Message
from .base import JSON_CONTENT_TYPE, HttpRequest, errcode_check, fit_json
from .render import heading, run_line, truncate
from .schema import SIGNING_SECRET, WEBHOOK_URL

OPTIONS = (WEBHOOK_URL, replace(SIGNING_SECRET, help="the bot's 签名校验 secret: each request's body is signed with it"))
RATE_LIMIT = 60

MAX_BYTES = 20_000
TITLE_LIMIT = 200
RATE_LIMITED = frozenset({11232})
BUSY = frozenset({2200, -1})
TEMPLATES = {"info": "blue", "warning": "orange", "critical": "red"}


def sign(secret: str, timestamp: int) -> str:
    """The ``sign`` field for ``timestamp`` (seconds)."""
    key = f"{timestamp}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def _lark_md_escape(text: str) -> str:
    # lark_md understands HTML entities; escaping these keeps a value like "<none>" or "a*b" literal.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("*", "&#42;").replace("_", "&#95;")


def card(message: Message, text_budget: int = MAX_BYTES, field_count: int = 1000) -> dict:
    """The interactive card of ``message``."""
    elements: list[dict] = []
    if message.text and text_budget > 0:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": truncate(message.text.strip(), text_budget)}})
    fields = [
        {"is_short": True, "text": {"tag": "lark_md", "content": f"**{_lark_md_escape(truncate(k, 100))}**\n{_lark_md_escape(truncate(v, 500))}"}}
        for k, v in list(message.fields.items())[:field_count]
    ]
    if fields:
        elements.append({"tag": "div", "fields": fields})
    context = run_line(message)
    if context:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": truncate(context, 200)}]})
    return {
        "config": {"wide_screen_mode": True},
        "header": {
            "title": {"tag": "plain_text", "content": truncate(heading(message), TITLE_LIMIT)},
            "template": TEMPLATES.get(message.severity, "blue"),
        },
        "elements": elements or [{"tag": "div", "text": {"tag": "plain_text", "content": message.event}}],
    }


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST the card to the bot ``url``; ``timestamp`` and ``sign`` added to the body when ``secret`` is set."""
    secret = options.get("secret")
    signature = {}
    if secret:
        timestamp = int(time.time())
        signature = {"timestamp": str(timestamp), "sign": sign(str(secret), timestamp)}

    def make(text: int, fields: int) -> dict:
        return {**signature, "msg_type": "interactive", "card": card(message, text, fields)}

    body = fit_json(make, MAX_BYTES, MAX_BYTES, len(message.fields))
    return HttpRequest(url=str(options["url"]), body=body, headers={"Content-Type": JSON_CONTENT_TYPE + "; charset=utf-8"})


# ``code`` 0 delivered; flow control and internal errors retried; anything else permanent.
check = partial(errcode_check, code_keys=("code", "StatusCode"), message_keys=("msg", "StatusMessage"),
                rate_limited=RATE_LIMITED, busy=BUSY, rate_limit_wait=60.0, service="feishu")
