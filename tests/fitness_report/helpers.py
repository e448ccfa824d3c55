"""Helpers for the fitness report tests: capture Ultralytics' log, listen to the bus, read CSVs."""

from __future__ import annotations

import csv
import json
import logging
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import Listener  # noqa: F401  (re-exported for these tests)


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
