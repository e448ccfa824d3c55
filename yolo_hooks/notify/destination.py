"""Who a message goes to, without its secrets: the identity written to the outbox and printed by the CLI."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping

from ..core.redact import redact_url


@dataclass(frozen=True)
class Destination:
    """The non-secret identity of a destination, as written to the outbox and printed by the CLI.

    Attributes:
        name: the hook's name (``notify_slack`` unless the config names it).
        format: ``json``, ``slack``...
        target: where it goes with secrets hidden (``https://hooks.slack.com/***``, ``telegram chat 1234``).
        key: a fingerprint of format and target (a hash, not reversible) to match outbox lines on replay.
    """

    name: str
    format: str
    target: str
    key: str

    @classmethod
    def of(cls, name: str, fmt: str, options: Mapping[str, Any]) -> Destination:
        """The identity of ``fmt`` with ``options`` (secrets hashed or redacted): the service module's
        ``identity(options) -> (what tells destinations apart, what to show)`` where it has one (Telegram: the chat;
        e-mail: server and recipients), else its ``url``."""
        from . import formats

        try:
            identity = getattr(formats.format_module(fmt), "identity", url_identity)
        except ValueError:  # a format no longer registered (an old outbox line): its URL, if it had one
            identity = url_identity
        raw, target = identity(options)
        key = hashlib.sha256(f"{fmt}\0{raw}".encode()).hexdigest()[:16]
        return cls(name=name, format=fmt, target=target, key=key)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"name": self.name, "format": self.format, "target": self.target, "key": self.key}


def url_identity(options: Mapping[str, Any]) -> tuple[str, str]:
    """A webhook's identity: its URL (hashed into the key), shown with the token redacted."""
    raw = str(options.get("url") or "")
    return raw, redact_url(raw)
