"""Helpers for the fitness report tests: capture Ultralytics' log, listen to the bus, read CSVs."""

from __future__ import annotations

import csv
import json
import logging
from contextlib import contextmanager
from pathlib import Path

from yolo_hooks import Hook


class Listener(Hook):
    """Collects every event published on the bus."""

    def __init__(self):
        super().__init__(name="listener")
        self.events = []

    def on_published(self, event):
        self.events.append(event)

    def kinds(self):
        return [e.kind for e in self.events]


@contextmanager
def captured_log():
    """Lines logged through Ultralytics' LOGGER while the block runs (all levels)."""
    from ultralytics.utils import LOGGER

    lines: list[str] = []

    class Sink(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    sink = Sink(level=logging.DEBUG)
    LOGGER.addHandler(sink)
    try:
        yield lines
    finally:
        LOGGER.removeHandler(sink)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]
