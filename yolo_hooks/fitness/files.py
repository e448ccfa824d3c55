"""The fitness report's files: ``fitness.csv`` and ``fitness.jsonl`` (fresh start, per-epoch lines, rewrite on
resume) and reading them back. The records themselves are built in :mod:`yolo_hooks.fitness.record`.

Examples:
    >>> csv_line(["epoch", "fitness"], {"epoch": 3, "fitness": 0.25})
    '3,0.25'
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_text, read_jsonl

CSV_NAME, JSONL_NAME, SUMMARY_NAME, PLOT_NAME = "fitness.csv", "fitness.jsonl", "fitness_summary.json", "fitness.png"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


_NEEDS_QUOTES = re.compile(r'[,"\r\n]')


def _csv_row(cells: list[str]) -> str:
    """Cells joined by commas; the ``csv`` module (quoting) only for a row that needs it (numbers never do)."""
    if not any(_NEEDS_QUOTES.search(cell) for cell in cells):
        return ",".join(cells)
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(cells)
    return buf.getvalue()


def csv_line(columns: list[str], record: dict[str, Any]) -> str:
    """One CSV row of ``record`` in ``columns`` order (missing keys empty; floats at full precision)."""
    return _csv_row([_cell(record.get(c)) for c in columns])


def csv_header(columns: list[str]) -> str:
    return _csv_row(list(columns))


def json_line(record: dict[str, Any]) -> str:
    """One JSONL line (strict JSON: no NaN)."""
    return json.dumps(record, allow_nan=False, default=str)


def read_epoch_records(path: Path) -> list[dict]:
    """Every well-formed epoch record of ``path``; a torn last line (crash mid-write) is skipped."""
    return [rec for rec in read_jsonl(path) if isinstance(rec.get("epoch"), int)]


def read_csv_header(path: Path) -> list[str] | None:
    """The header of an existing fitness.csv, or None."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return next(csv.reader(f), None)
    except OSError:
        return None


def _parse_cell(text: str) -> Any:
    if text == "":
        return None
    if text in {"True", "False"}:
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_csv_records(path: Path) -> list[dict]:
    """Records of an existing fitness.csv (used on resume when there is no fitness.jsonl)."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return []
    out = []
    for row in rows:
        rec = {k: _parse_cell(v or "") for k, v in row.items() if k is not None}
        if isinstance(rec.get("epoch"), int):
            out.append(rec)
    return out


def rewrite_files(
    directory: Path, records: list[dict], columns: list[str] | None, csv_on: bool, jsonl_on: bool
) -> None:
    """Replace fitness.csv / fitness.jsonl atomically with exactly ``records`` (used once, at resume)."""
    if jsonl_on:
        atomic_write_text(directory / JSONL_NAME, "".join(json_line(r) + "\n" for r in records))
    if csv_on and columns:
        rows = "".join(csv_line(columns, r) + "\n" for r in records)
        atomic_write_text(directory / CSV_NAME, csv_header(columns) + "\n" + rows)


def write_fresh(path: Path, text: str) -> None:
    """Start a file over with ``text`` (truncate in place: a symlink or device stays what it is)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
