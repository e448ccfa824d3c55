"""``dingtalk``: a DingTalk (钉钉) custom robot, markdown message, signed when a ``secret`` is given.

Payload: ``{"msgtype": "markdown", "markdown": {"title": "...", "text": "..."}}``; ``title`` is what the
conversation list and the notification show. Limit enforced: the request body at most 20 000 bytes (the robot
answers errcode 460101 "message too long, exceed 20000 bytes"). DingTalk's markdown needs a blank line for a line
break, so lines are separated by ``\\n\\n``.

Signing ("加签"): ``sign = urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))`` with
``timestamp`` in milliseconds, appended to the webhook URL as ``&timestamp=...&sign=...``; the robot rejects a
timestamp more than an hour off.

Replies: HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}``. 130101 / 410100 ("send too fast": 20 messages a
minute, then throttled for 10 minutes) are retried after 60 s; -1 (busy) is retried; any other code (310000
keyword / signature / IP not allowed, 300001 bad token...) is permanent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from dataclasses import replace
from functools import partial
from typing import Mapping

from ..message import Message
from .base import JSON_CONTENT_TYPE, HttpRequest, errcode_check, fit_json
from .render import MARKDOWN, heading, render, run_line, truncate
from .schema import SIGNING_SECRET, WEBHOOK_URL

OPTIONS = (WEBHOOK_URL, replace(SIGNING_SECRET, help="the robot's 加签 secret (SEC…): each request's URL is signed with it"))
RATE_LIMIT = 20

MAX_BYTES = 20_000
TITLE_LIMIT = 100
RATE_LIMITED = frozenset({130101, 410100})


def sign(secret: str, timestamp_ms: int) -> str:
    """The URL-encoded ``sign`` parameter for ``timestamp_ms``."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(digest).decode("ascii"))


def signed_url(url: str, secret: str, timestamp_ms: int | None = None) -> str:
    """``url`` with ``timestamp`` and ``sign`` appended."""
    timestamp_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    joiner = "&" if "?" in url else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign(secret, timestamp_ms)}"


def payload(message: Message, text_budget: int = MAX_BYTES, field_count: int = 1000) -> dict:
    """The markdown payload with the text cut to ``text_budget`` characters and the first ``field_count`` facts."""
    title = truncate(heading(message), TITLE_LIMIT)
    spans = [(f"### {title}", None), ("\n\n", None)]
    if message.text and text_budget > 0:
        spans.append((render([(message.text.strip(), None)], MARKDOWN, text_budget).replace("\n", "\n\n"), None))
        spans.append(("\n\n", None))
    for key, value in list(message.fields.items())[:field_count]:
        spans += [(f"{truncate(key, 100)}:", "bold"), (f" {truncate(value, 500)}\n\n", None)]
    context = run_line(message)
    if context:
        spans.append((f"> {truncate(context, 200)}", None))
    return {"msgtype": "markdown", "markdown": {"title": title, "text": render(spans, MARKDOWN).strip()}}


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST the markdown message to the robot ``url``, signed when ``options["secret"]`` is set."""
    body = fit_json(lambda text, fields: payload(message, text, fields), MAX_BYTES, MAX_BYTES, len(message.fields))
    url = str(options["url"])
    if options.get("secret"):
        url = signed_url(url, str(options["secret"]))
    return HttpRequest(url=url, body=body, headers={"Content-Type": JSON_CONTENT_TYPE + "; charset=utf-8"})


# ``errcode`` 0 delivered; "send too fast" and "busy" retried; anything else permanent.
check = partial(errcode_check, code_keys=("errcode",), message_keys=("errmsg",), rate_limited=RATE_LIMITED,
                rate_limit_wait=60.0, service="dingtalk")
