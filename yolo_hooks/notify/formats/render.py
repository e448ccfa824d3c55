"""Render a :class:`Message` as plain text or one of the Markdown dialects, truncated cleanly.

Every service limits its payload (characters, UTF-8 bytes or UTF-16 units) and most parse some Markdown. Text
is therefore built as *spans* (a piece of text plus a style) and each dialect turns a span into *atomic units*:
one character, or one escape sequence (``\\.`` in Telegram's MarkdownV2, ``&amp;`` in Slack). Truncation keeps
whole units only, closes a style it cut into and appends "…", so it never leaves a dangling backslash, half an
entity, an unclosed ``*bold`` or half a multi-byte character.

Examples:
    >>> truncate("héllo wörld", 8, utf8_len)
    'héll…'
    >>> escape_markdown_v2("v1.2 (best)!")
    'v1\\\\.2 \\\\(best\\\\)\\\\!'
    >>> render([("Done", "bold"), (" 3.5%", None)], TELEGRAM, limit=9)
    '*Done* 3…'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from ..message import Message

ELLIPSIS = "…"
Span = tuple[str, "str | None"]  # (text, style) with style None or "bold"


def char_len(text: str) -> int:
    """Length in characters (code points)."""
    return len(text)


def utf8_len(text: str) -> int:
    """Length in UTF-8 bytes (WeCom, DingTalk, Feishu, Teams count bytes)."""
    return len(text.encode("utf-8"))


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (Telegram and Discord count these; an emoji is 2)."""
    return len(text.encode("utf-16-le")) // 2


def fit_units(units: Iterable[str], limit: int, measure: Callable[[str], int] = char_len, tail: str = "") -> tuple[str, bool]:
    """The longest prefix of whole ``units`` that, with ``tail``, fits ``limit``; and whether all units fit."""
    kept: list[str] = []
    used = 0
    budget = limit - measure(tail)
    for unit in units:
        size = measure(unit)
        if used + size > budget:
            return "".join(kept), False
        kept.append(unit)
        used += size
    return "".join(kept), True


def truncate(text: str, limit: int, measure: Callable[[str], int] = char_len, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``limit`` (by ``measure``) with ``ellipsis`` appended when cut; whole characters only."""
    if measure(text) <= limit:
        return text
    if measure(ellipsis) > limit:
        return fit_units(text, limit, measure)[0]
    return fit_units(text, limit, measure, tail=ellipsis)[0].rstrip() + ellipsis


# --- dialects -------------------------------------------------------------------------------------------------

MARKDOWN_V2_SPECIAL = frozenset("_*[]()~`>#+-=|{}.!\\")


def _plain_units(text: str) -> list[str]:
    return list(text)


def _markdown_v2_units(text: str) -> list[str]:
    return ["\\" + c if c in MARKDOWN_V2_SPECIAL else c for c in text]


_SLACK_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _slack_units(text: str) -> list[str]:
    return [_SLACK_ENTITIES.get(c, c) for c in text]


# Discord (simple-markdown) treats a backslash before any punctuation as an escape; these start formatting.
_DISCORD_SPECIAL = frozenset("\\*_~`|>#[]-")


def _discord_units(text: str) -> list[str]:
    return ["\\" + c if c in _DISCORD_SPECIAL else c for c in text]


@dataclass(frozen=True)
class Dialect:
    """How a service writes text: its escape (as atomic units) and its style markers."""

    name: str
    units: Callable[[str], list[str]] = _plain_units
    styles: dict[str, tuple[str, str]] = field(default_factory=dict)


PLAIN = Dialect("plain")
MARKDOWN = Dialect("markdown", styles={"bold": ("**", "**")})  # WeCom, DingTalk, Teams
DISCORD = Dialect("discord", _discord_units, {"bold": ("**", "**")})
SLACK = Dialect("slack", _slack_units, {"bold": ("*", "*")})
TELEGRAM = Dialect("telegram_markdown_v2", _markdown_v2_units, {"bold": ("*", "*")})


def escape(text: str, dialect: Dialect) -> str:
    """``text`` escaped for ``dialect`` (no truncation)."""
    return "".join(dialect.units(text))


def escape_markdown_v2(text: str) -> str:
    """Escape every character Telegram's MarkdownV2 reserves (``_*[]()~`>#+-=|{}.!`` and ``\\``)."""
    return escape(text, TELEGRAM)


def render(
    spans: Iterable[Span],
    dialect: Dialect = PLAIN,
    limit: int | None = None,
    measure: Callable[[str], int] = char_len,
    ellipsis: str = ELLIPSIS,
) -> str:
    """Spans written in ``dialect``; when over ``limit``, cut on a unit boundary, close the cut style, add "…"."""
    out: list[str] = []
    used = 0
    for text, style in spans:
        if not text:
            continue
        opening, closing = dialect.styles.get(style, ("", "")) if style else ("", "")
        if limit is not None:  # every unit measures at least 1: no need to escape more than the room left
            text = text[: max(0, limit - used) + 1]
        units = dialect.units(text)
        piece = opening + "".join(units) + closing
        if limit is None or used + measure(piece) <= limit:
            out.append(piece)
            used += measure(piece)
            continue
        room = limit - used - measure(opening) - measure(closing)
        kept, _ = fit_units(units, room, measure, tail=ellipsis)
        kept = kept.rstrip()
        if kept:
            out.append(opening + kept + closing + ellipsis)
        else:
            out.append(fit_units([ellipsis], limit - used, measure)[0])
        break
    return "".join(out).rstrip() if limit is None else "".join(out)


def message_spans(
    message: Message,
    *,
    title: bool = True,
    text: bool = True,
    fields: bool = True,
    separator: str = "\n",
) -> list[Span]:
    """The message as spans: bold title, blank line, text, blank line, one ``Key: value`` line per field."""
    spans: list[Span] = []
    if title and message.title:
        spans += [(message.title, "bold"), ("\n", None)]
    if text and message.text:
        spans += [("\n" if spans else "", None), (message.text.strip(), None), ("\n", None)]
    if fields and message.fields:
        spans.append(("\n" if spans else "", None))
        for key, value in message.fields.items():
            spans += [(f"{key}:", "bold"), (f" {value}{separator}", None)]
    return spans


def heading(message: Message) -> str:
    """The message's title, or its event when the title is blank (services reject an empty heading)."""
    return message.title.strip() or message.event


def run_line(message: Message) -> str:
    """``run name · host``: the small context line under a message (empty when the run has neither)."""
    return " · ".join(v for v in (message.run.get("name"), message.run.get("host")) if v)


def render_message(
    message: Message,
    dialect: Dialect = PLAIN,
    limit: int | None = None,
    measure: Callable[[str], int] = char_len,
    **parts,
) -> str:
    """Title, text and fields of ``message`` in ``dialect``, within ``limit``."""
    return render(message_spans(message, **parts), dialect, limit, measure).rstrip()
