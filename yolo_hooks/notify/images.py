"""Messages that carry an image (a detection alert's image): the file is read when the message is sent, never before.

A message carries an image as a *path* in ``message.data["image"]`` (so the outbox keeps the path, never the
bytes; a replay reads the file again). At each delivery attempt :func:`prepare` reads the file for the formats that
show images (an HTTP format's ``build_image``, a self-delivering format's ``IMAGES``: e-mail inline); a format
without them (Slack, Teams, DingTalk, Feishu incoming webhooks cannot upload files) sends its usual text, which
names the image (and its mirrored URL when there is one). A file that cannot be read any more is sent as text
with a note saying so: never lost silently.

Examples:
    >>> m = Message("detection", "warning", "Person in zone", data={"image": "/nonexistent/a.jpg"})
    >>> build_request("json", m, {"url": "https://example.com/hook"}).payload()["text"]
    '(image a.jpg could not be read: file not found)'
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import ModuleType
from typing import Mapping

from .formats import build_request as build_text_request
from .formats import format_module
from .formats.base import HttpRequest, Image
from .message import Message

IMAGE_KEY = "image"


def image_path(message: Message) -> Path | None:
    """The image this message carries, if any (an ``image_only`` part of a split message included)."""
    value = message.data.get(IMAGE_KEY)
    return Path(value) if isinstance(value, str) and value else None


def without_image(message: Message, note: str | None = None) -> Message:
    """``message`` as text only (same id), with ``note`` appended to its text."""
    data = {k: v for k, v in message.data.items() if k != IMAGE_KEY}
    text = f"{message.text}\n{note}".strip() if note else message.text
    return dataclasses.replace(message, text=text, data=data)


def split(fmt: str, message: Message) -> list[Message]:
    """Messages to queue for ``message``: itself, or, where an image message carries no text (a format's
    ``IMAGE_WITHOUT_TEXT``: WeCom), its text and then an image-only message."""
    if image_path(message) is None or not getattr(format_module(fmt), "IMAGE_WITHOUT_TEXT", False):
        return [message]
    image_only = dataclasses.replace(message, id=f"{message.id}-image", text="",
                                     data={IMAGE_KEY: message.data[IMAGE_KEY], "image_only": True})  # fmt: skip
    return [without_image(message), image_only]


def read_image(path: Path) -> tuple[bytes | None, str | None]:
    """The file's bytes, or None and a short reason."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "file not found"
    except OSError as e:
        return None, e.strerror or type(e).__name__
    return (data, None) if data else (None, "empty file")


def shows_images(module: ModuleType) -> bool:
    """Can this format show a message's image (an HTTP format's ``build_image``, a self-delivering one's
    ``IMAGES``)?"""
    return hasattr(module, "build_image") or bool(getattr(module, "IMAGES", False))


def prepare(module: ModuleType, message: Message) -> tuple[Message, Image | None]:
    """What a format sends for ``message`` now: the message and its image read from the file, or, where the format
    shows no images or the file cannot be read, the message as text (with a note saying why it has no image)."""
    path = image_path(message)
    if path is None:
        return message, None
    if not shows_images(module):
        return without_image(message), None
    data, problem = read_image(path)
    if data is None:
        if message.data.get("image_only"):
            message = dataclasses.replace(message, text=f"(image {path.name} of this alert: see the message above)")
        return without_image(message, f"(image {path.name} could not be read: {problem})"), None
    return message, Image(data, path.name)


def build_request(fmt: str, message: Message, options: Mapping) -> HttpRequest:
    """The request for ``message`` (a format sent over HTTP), with its image for the formats that can upload one."""
    module = format_module(fmt)
    message, image = prepare(module, message)
    if image is None:
        return build_text_request(fmt, message, options)
    return module.build_image(message, options, image.data, image.filename)
