"""``yolo-hooks outbox replay``: resend an outbox file's messages to the destinations of hooks.yaml, oldest first.

Delivered lines are removed from the file (:func:`.outbox.remove`, under the lock a running training's appends take
too); a message keeps its id, so a receiver that already has it drops the copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .delivery import Delivery
from .message import Message
from .outbox import read, record_key, remove


@dataclass
class ReplayReport:
    """What one replay of one outbox file did."""

    path: Path
    delivered: int = 0
    duplicates: int = 0  # the same message for the same destination more than once in the file
    failed: list[str] = field(default_factory=list)  # one line per message that is still undelivered
    unmatched: int = 0  # lines for a destination not in hooks.yaml
    remaining: int = 0


def match(record: dict, deliveries: list[Delivery]) -> Delivery | None:
    """The configured destination an outbox line belongs to: same key (format + URL), else same name and format."""
    dest = record.get("destination") or {}
    for delivery in deliveries:
        if delivery.destination.key == dest.get("key"):
            return delivery
    for delivery in deliveries:
        if (delivery.destination.name, delivery.destination.format) == (dest.get("name"), dest.get("format")):
            return delivery
    return None


def replay(path: str | Path, deliveries: list[Delivery], retries: int = 2) -> ReplayReport:
    """Resend every line of ``path`` to its destination, oldest first; delivered lines are removed.

    A destination that is still unreachable is skipped after its first failure (its lines stay); a message the
    service rejects stays too, with the reason reported.
    """
    path = Path(path)
    report = ReplayReport(path)
    records, bad = read(path)
    done: set[tuple[str, str]] = set()
    down: set[str] = set()
    for record in sorted(records, key=lambda r: (r["message"].get("time", 0), r.get("written", 0))):
        key = record_key(record)
        if key in done:
            report.duplicates += 1
            continue
        delivery = match(record, deliveries)
        if delivery is None:
            report.unmatched += 1
            continue
        if delivery.destination.key in down:
            continue
        message = Message.from_dict(record["message"])
        result = delivery.send(message, retries=retries, report=False)
        if result.ok:
            done.add(key)
            report.delivered += 1
            continue
        report.failed.append(f"{delivery.destination.name}: {message.title} ({result.error})")
        if not result.permanent:
            down.add(delivery.destination.key)
    report.remaining = remove(path, done) if done else len(records) + len(bad)
    return report
