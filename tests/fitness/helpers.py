"""Helpers for the fitness report tests: capture Ultralytics' log, listen to the bus, read CSVs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.helpers import Listener, captured_log  # noqa: F401  (re-exported for these tests)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines()]
