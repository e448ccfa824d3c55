"""``wecom``: a WeCom (企业微信) group robot, markdown message.

Payload: ``{"msgtype": "markdown", "markdown": {"content": "..."}}`` with ``content`` at most 4096 UTF-8 bytes
(the robot answers errcode 40058 "markdown.content exceed max length 4096" otherwise). Replies are HTTP 200 with
``{"errcode": 0, "errmsg": "ok"}``; 45009 (API frequency out of limit: 20 messages a minute per robot) and 45033
(too many concurrent calls) are rate limits, retried after 60 s; -1 (system busy) is retried; any other code
(93000 invalid webhook URL, 40058 too long...) is permanent.
"""

from __future__ import annotations

from typing import Mapping

from ..message import Message
from .base import DeliveryResult, HttpRequest, errcode_check, json_request
from .render import MARKDOWN, message_spans, render, utf8_len

CONTENT_BYTES = 4096
RATE_LIMITED = frozenset({45009, 45033})


def content(message: Message) -> str:
    """The markdown content, at most 4096 bytes."""
    spans = message_spans(message)
    context = " · ".join(v for v in (message.run.get("name"), message.run.get("host")) if v)
    if context:
        spans.append((f"\n> {context}", None))
    # the robot rejects an empty `content`: a message with nothing to say still names its event
    return render(spans, MARKDOWN, CONTENT_BYTES, utf8_len).strip() or message.event


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST the markdown message to the robot ``url`` (``.../cgi-bin/webhook/send?key=...``)."""
    return json_request(str(options["url"]), {"msgtype": "markdown", "markdown": {"content": content(message)}})


def check(status: int, headers: Mapping[str, str], body: bytes) -> DeliveryResult:
    """``errcode`` 0 delivered; rate limits and "busy" retried; anything else permanent."""
    return errcode_check(
        status,
        headers,
        body,
        code_keys=("errcode",),
        message_keys=("errmsg",),
        rate_limited=RATE_LIMITED,
        rate_limit_wait=60.0,
        service="wecom",
    )
