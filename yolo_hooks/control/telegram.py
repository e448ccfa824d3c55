"""The Telegram Bot API calls run control makes: ``getUpdates`` (a long poll), ``sendMessage``, ``sendPhoto``.

Requests go over the notify package's one HTTP client (:mod:`yolo_hooks.notify.http`: no redirect followed, replies
read up to 64 KiB, errors that never name the URL, which carries the bot token). The poll and the answers use a
connection each, on their own threads.

Replies from the Bot API: ``{"ok": true, "result": ...}``; ``429`` with ``parameters.retry_after``; ``409`` when
another ``getUpdates`` on the same token is in flight (or a webhook is set); ``401`` / ``404`` for a bad token.

Examples:
    >>> incoming({"update_id": 7, "message": {"message_id": 3, "date": 1, "chat": {"id": 42},
    ...                                        "from": {"username": "alice"}, "text": "/stop diverging"}})
    Incoming(update_id=7, chat_id='42', chat_name='', text='/stop diverging', message_id=3, sender='telegram chat 42 (@alice)', date=1.0)
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from ..notify.formats.base import reply_json

LONG_POLL = 10  # seconds a getUpdates waits for an update (Telegram allows up to 50)
TEXT_LIMIT, CAPTION_LIMIT = 4096, 1024


class BotError(Exception):
    """A Bot API call that did not succeed: its HTTP status (None: no reply), Telegram's description, the wait it
    asked for (429) and whether retrying can help."""

    def __init__(self, status: int | None, description: str, retry_after: float | None = None):
        super().__init__(f"HTTP {status}: {description}" if status else description)
        self.status, self.description, self.retry_after = status, description, retry_after

    @property
    def permanent(self) -> bool:
        """A bad token (401), an unknown method or bot (404), a bad chat (400/403): retrying cannot help."""
        return self.status in (400, 401, 403, 404)


class Incoming(NamedTuple):
    """One message from a chat, as run control reads it."""

    update_id: int
    chat_id: str
    chat_name: str  # "@channelname" for a public channel or group, else ""
    text: str
    message_id: int | None
    sender: str
    date: float


def incoming(update: dict[str, Any]) -> Incoming | None:
    """The message of ``update`` (a new message or channel post; an edit is not a new command), or None."""
    message = update.get("message") or update.get("channel_post")
    if not isinstance(message, dict) or not isinstance(update.get("update_id"), int):
        return None
    chat = message.get("chat") or {}
    who = message.get("from") or {}
    handle = f"@{who['username']}" if who.get("username") else str(who.get("first_name") or "").strip()
    chat_id = str(chat.get("id", ""))
    return Incoming(
        update_id=update["update_id"],
        chat_id=chat_id,
        chat_name=f"@{chat['username']}" if chat.get("username") else "",
        text=str(message.get("text") or ""),
        message_id=message.get("message_id") if isinstance(message.get("message_id"), int) else None,
        sender=f"telegram chat {chat_id}" + (f" ({handle})" if handle else ""),
        date=float(message.get("date") or 0),
    )


def allowed(message: Incoming, chats: set[str]) -> bool:
    """Is ``message`` from one of the configured ``chats`` (ids as text, or ``@channelname``)?"""
    return message.chat_id in chats or (bool(message.chat_name) and message.chat_name.lower() in chats)


def chat_key(chat_id: Any) -> str:
    """A configured ``chat_id`` as :func:`allowed` compares it."""
    text = str(chat_id).strip()
    return text.lower() if text.startswith("@") else text


def split_command(text: str) -> tuple[str, list[str]] | None:
    """``"/stop@my_bot now diverging"`` -> ``("stop", ["now", "diverging"])``; None for text that is no command."""
    words = text.strip().split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return None
    return words[0][1:].split("@", 1)[0].lower(), words[1:]


class BotApi:
    """One connection to the Bot API for one bot (one thread uses it)."""

    def __init__(self, token: str, api_url: str, timeout: float = 10.0):
        self.base = f"{str(api_url).rstrip('/')}/bot{token}"
        self.timeout = timeout
        self._session = None

    @property
    def session(self):
        if self._session is None:
            from ..notify.http import Session

            self._session = Session(self.base)
        return self._session

    def call(self, method: str, payload: dict[str, Any] | None = None, *, body: bytes | None = None,
             content_type: str = "application/json", timeout: float | None = None) -> Any:
        """POST ``method``; returns its ``result``.

        Raises:
            BotError: no reply, or a reply that is not ``ok``.
        """
        from ..notify.http import MAX_REPLY_BYTES, TransportError

        data = body if body is not None else json.dumps(payload or {}).encode()
        try:
            status, _, reply = self.session.request("POST", f"{self.base}/{method}", data,
                                                    {"Content-Type": content_type}, timeout or self.timeout,
                                                    MAX_REPLY_BYTES)
        except TransportError as e:
            raise BotError(None, e.why) from None
        parsed = reply_json(reply)
        if status == 200 and isinstance(parsed, dict) and parsed.get("ok"):
            return parsed.get("result")
        parsed = parsed if isinstance(parsed, dict) else {}
        retry = (parsed.get("parameters") or {}).get("retry_after") if isinstance(parsed.get("parameters"), dict) else None
        raise BotError(status, str(parsed.get("description") or "not ok"),
                       float(retry) if isinstance(retry, (int, float)) else None)

    def get_updates(self, offset: int | None, wait: int = LONG_POLL) -> list[dict[str, Any]]:
        """The updates from ``offset`` on, waiting up to ``wait`` seconds for one (earlier ones are confirmed)."""
        payload = {"timeout": wait, "allowed_updates": ["message", "channel_post"]}
        if offset is not None:
            payload["offset"] = offset
        result = self.call("getUpdates", payload, timeout=wait + self.timeout)
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []

    def send_message(self, chat_id: str, text: str, reply_to: int | None = None) -> None:
        """Plain text (no parse mode: nothing to escape), as an answer to ``reply_to`` when given."""
        payload: dict[str, Any] = {"chat_id": _chat(chat_id), "text": text[:TEXT_LIMIT] or ".",
                                   "link_preview_options": {"is_disabled": True}}
        if reply_to is not None:
            payload["reply_parameters"] = {"message_id": reply_to, "allow_sending_without_reply": True}
        self.call("sendMessage", payload)

    def send_photo(self, chat_id: str, png: bytes, caption: str, reply_to: int | None = None) -> None:
        """A PNG with a plain-text caption."""
        from urllib3 import encode_multipart_formdata

        fields: dict[str, Any] = {"chat_id": str(chat_id), "caption": caption[:CAPTION_LIMIT],
                                  "photo": ("fitness.png", png, "image/png")}
        if reply_to is not None:
            fields["reply_parameters"] = json.dumps({"message_id": reply_to, "allow_sending_without_reply": True})
        body, content_type = encode_multipart_formdata(fields)
        self.call("sendPhoto", body=body, content_type=content_type)

    def abort(self) -> None:
        """From another thread: end a long poll in flight."""
        if self._session is not None:
            self._session.abort()

    def close(self) -> None:
        if self._session is not None:
            self._session.close()


def _chat(chat_id: str) -> int | str:
    return int(chat_id) if str(chat_id).lstrip("-").isdigit() else str(chat_id)
