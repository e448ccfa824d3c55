"""``wecom``: a WeCom (企业微信) group robot, markdown message.

Payload: ``{"msgtype": "markdown", "markdown": {"content": "..."}}`` with ``content`` at most 4096 UTF-8 bytes
(the robot answers errcode 40058 "markdown.content exceed max length 4096" otherwise). Replies are HTTP 200 with
``{"errcode": 0, "errmsg": "ok"}``; 45009 (API frequency out of limit: 20 messages a minute per robot) and 45033
(too many concurrent calls) are rate limits, retried after 60 s; -1 (system busy) is retried; any other code
(93000 invalid webhook URL, 40058 too long...) is permanent.
"""

from __future__ import annotations

from functools import partial
from typing import Mapping

from ..message import Message
from .base import HttpRequest, errcode_check, json_request
from .render import MARKDOWN, message_spans, render, run_line, utf8_len
from .schema import WEBHOOK_URL

OPTIONS = (WEBHOOK_URL,)
RATE_LIMIT = 20
IMAGE_WITHOUT_TEXT = True  # an image message has no text: the text goes first, on its own (notify.images.split)

CONTENT_BYTES = 4096
RATE_LIMITED = frozenset({45009, 45033})


def content(message: Message) -> str:
    """The markdown content, at most 4096 bytes."""
    spans = message_spans(message)
    context = run_line(message)
    if context:
        spans.append((f"\n> {context}", None))
    # the robot rejects an empty `content`: a message with nothing to say still names its event
    return render(spans, MARKDOWN, CONTENT_BYTES, utf8_len).strip() or message.event


def build(message: Message, options: Mapping) -> HttpRequest:
    """POST the markdown message to the robot ``url`` (``.../cgi-bin/webhook/send?key=...``)."""
    return json_request(str(options["url"]), {"msgtype": "markdown", "markdown": {"content": content(message)}})


# ``errcode`` 0 delivered; rate limits and "busy" retried; anything else permanent.
check = partial(errcode_check, code_keys=("errcode",), message_keys=("errmsg",), rate_limited=RATE_LIMITED,
                rate_limit_wait=60.0, service="wecom")


# --- messages with an image (additive: text-only messages above are unchanged) -----------------------------------
IMAGE_BYTES = 2 * 1024 * 1024  # the robot's limit for an image message (before base64)


def shrink_jpeg(image: bytes, limit: int = IMAGE_BYTES) -> bytes:
    """``image`` itself when it fits, else re-encoded as JPEG at lower quality, then smaller, until it does."""
    if len(image) <= limit:
        return image
    import cv2
    import numpy as np

    decoded = cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("the image is larger than 2 MB and cannot be decoded to shrink it")
    quality = 85
    while True:
        ok, data = cv2.imencode(".jpg", decoded, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if ok and len(data) <= limit:
            return data.tobytes()
        if quality > 50:
            quality -= 15
        else:
            h, w = decoded.shape[:2]
            decoded = cv2.resize(decoded, (max(1, int(w * 0.7)), max(1, int(h * 0.7))), interpolation=cv2.INTER_AREA)


def build_image(message: Message, options: Mapping, image: bytes, filename: str) -> HttpRequest:
    """An ``image`` message (base64 + md5 of the JPEG, at most 2 MB). It carries no text: the notifier sends the
    text as a markdown message of its own first (see :func:`yolo_hooks.notify.images.split`)."""
    import base64
    import hashlib

    data = shrink_jpeg(image)
    payload = {"msgtype": "image", "image": {"base64": base64.b64encode(data).decode("ascii"),
                                             "md5": hashlib.md5(data).hexdigest()}}  # fmt: skip
    return json_request(str(options["url"]), payload)
