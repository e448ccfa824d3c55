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
        """The identity of ``fmt`` with ``options`` (secrets hashed or redacted)."""
        if fmt == "telegram":
            raw, target = f"{options.get('chat_id')}", f"telegram chat {options.get('chat_id')}"
        elif fmt == "email":
            to = options.get("to") or []
            raw = ",".join([to] if isinstance(to, str) else to)
            target = f"smtp://{options.get('smtp_host')} to {raw}"
        else:
            raw = str(options.get("url") or "")
            target = redact_url(raw)
        key = hashlib.sha256(f"{fmt}\0{raw}".encode()).hexdigest()[:16]
        return cls(name=name, format=fmt, target=target, key=key)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"name": self.name, "format": self.format, "target": self.target, "key": self.key}
