"""``teams``: a Microsoft Teams Workflows (Power Automate) webhook posting an Adaptive Card.

Payload (the "Post to a channel when a webhook request is received" template)::

    {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
     "content": {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                 "version": "1.4", "body": [TextBlock title, TextBlock text, FactSet, TextBlock context]}}]}

Limit enforced: the whole request at most 28 000 bytes (Teams' 28 KB message limit). Replies: 202 Accepted (200
from older connectors); 429 with ``Retry-After``; 400 with a JSON ``error.message`` is permanent.
"""

from __future__ import annotations

from typing import Mapping

from ..message import Message
from .base import JSON_CONTENT_TYPE, DeliveryResult, HttpRequest, fit_json, http_check, reply_json
from .render import heading, run_line, truncate
from .schema import WEBHOOK_URL

OPTIONS = (WEBHOOK_URL,)

MAX_BYTES = 28_000
TITLE_LIMIT = 200
MAX_FACTS = 30
FACT_TITLE_LIMIT = 100
FACT_VALUE_LIMIT = 500
TEXT_LIMIT = 20_000
COLORS = {"info": "Accent", "warning": "Warning", "critical": "Attention"}


def card(message: Message, text_budget: int = TEXT_LIMIT, fact_count: int = MAX_FACTS) -> dict:
    """The Adaptive Card (1.4) of ``message``: title, text, facts and a small run line."""
    body: list[dict] = [
        {
            "type": "TextBlock",
            "text": truncate(heading(message), TITLE_LIMIT),
            "size": "Medium",
            "weight": "Bolder",
            "color": COLORS.get(message.severity, "Default"),
            "wrap": True,
        }
    ]
    text = truncate(message.text.strip(), text_budget) if text_budget > 0 else ""
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    facts = [
        {"title": truncate(key, FACT_TITLE_LIMIT), "value": truncate(value, FACT_VALUE_LIMIT)}
        for key, value in list(message.fields.items())[:fact_count]
    ]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    context = run_line(message)
    if context:
        body.append({"type": "TextBlock", "text": truncate(context, 200), "size": "Small", "isSubtle": True, "wrap": True})
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "msteams": {"width": "Full"},
    }


def payload(message: Message, text_budget: int = TEXT_LIMIT, fact_count: int = MAX_FACTS) -> dict:
    """The Workflows message wrapping the card."""
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card(message, text_budget, fact_count)}
        ],
    }


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST the card to the Workflows ``url``, within 28 000 bytes."""
    body = fit_json(lambda text, facts: payload(message, text, facts), MAX_BYTES, TEXT_LIMIT, MAX_FACTS)
    # Workflows guesses the charset when none is given: say UTF-8 so a run name like "训练" arrives intact
    headers = {"Content-Type": JSON_CONTENT_TYPE + "; charset=utf-8"}
    return HttpRequest(url=str(options["url"]), body=body, headers=headers)


def _describe(body: bytes) -> str | None:
    reply = reply_json(body)
    error = reply.get("error") if isinstance(reply, dict) else None
    if isinstance(error, dict):
        return " ".join(str(error[k]) for k in ("code", "message") if error.get(k))
    return None


def check(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """202/200 delivered; 429 and 5xx transient; other 4xx (bad card, disabled flow) permanent."""
    return http_check(status, headers, body, describe=_describe)
