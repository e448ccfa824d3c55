"""Notifications: training news to Slack, Discord, Teams, WeCom, DingTalk, Feishu, Telegram, e-mail or any JSON
endpoint, delivered in the background with retries, rate limits and a durable outbox.

Layout: :mod:`.message` (one text model), :mod:`.formats` (one small pure module per service), :mod:`.events`
(what is worth telling), :mod:`.delivery` (the background worker), :mod:`.http` (one webhook POST),
:mod:`.outbox` (undelivered messages on disk),
:mod:`.hook` (the ``Notify`` hook), :mod:`.cli` (``yolo-hooks outbox`` and ``yolo-hooks notify-test``).
"""

from .hook import Notify

__all__ = ["Notify"]
