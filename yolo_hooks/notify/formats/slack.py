"""``slack``: a Slack incoming webhook, Block Kit message with a plain ``text`` fallback.

Payload: ``{"text": fallback, "blocks": [header, section (mrkdwn text), section (fields), context]}``.
Limits enforced (Block Kit reference): header text 150 chars, section text 3000, section field 2000 and at most
10 fields per section, context text 3000, at most 50 blocks. Text is escaped (``&``, ``<``, ``>``) and cut on
whole entities. Replies: 200 ``ok``; 400 ``invalid_payload``, 403/404/410 are permanent; 429 carries
``Retry-After``.
"""

from __future__ import annotations

from typing import Mapping

from ..message import SEVERITY_ICON, Message
from .render import SLACK, heading, render, render_message, truncate
from .schema import WEBHOOK_URL

OPTIONS = (WEBHOOK_URL,)
RATE_LIMIT = 60

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
MAX_FIELD_SECTIONS = 5  # 50 facts is far more than a training message has; keeps the message readable


def payload(message: Message, options: Mapping | None = None) -> dict:
    """The Block Kit payload of ``message``, POSTed to the incoming-webhook ``url``; replies read by ``http_check``
    (Slack names the problem in the body of a 4xx: ``invalid_payload``, ``no_service``...)."""
    title = heading(message)  # the header's text must not be empty
    blocks: list[dict] = [{"type": "header", "text": {"type": "plain_text", "text": truncate(title, HEADER_LIMIT), "emoji": True}}]
    if message.text.strip():  # a section's text must be 1 character or more
        text = render([(message.text.strip(), None)], SLACK, SECTION_LIMIT)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    items = list(message.fields.items())
    shown = items[: FIELDS_PER_SECTION * MAX_FIELD_SECTIONS]
    for start in range(0, len(shown), FIELDS_PER_SECTION):
        fields = [
            {"type": "mrkdwn", "text": render([(key.strip() or "-", "bold"), ("\n" + value, None)], SLACK, FIELD_LIMIT)}
            for key, value in shown[start : start + FIELDS_PER_SECTION]
        ]
        blocks.append({"type": "section", "fields": fields})
    context = [SEVERITY_ICON.get(message.severity, ""), message.run.get("name", ""), message.run.get("host", "")]
    if len(items) > len(shown):
        context.append(f"{len(items) - len(shown)} more fields not shown")
    context_text = render([(" · ".join(c for c in context if c), None)], SLACK, SECTION_LIMIT)
    if context_text:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context_text}]})
    # `text` is what notifications and screen readers show; the blocks are the message itself.
    fallback = render_message(message, SLACK, SECTION_LIMIT, fields=False) or title
    return {"text": fallback, "blocks": blocks[:MAX_BLOCKS]}
