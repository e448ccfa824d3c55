"""Colour only where a person reads a terminal: never when the output is redirected or ``NO_COLOR`` is set."""

from __future__ import annotations

import os
import sys

from ultralytics.utils import colorstr


def colour_enabled(stream=None) -> bool:
    """True on a terminal without ``NO_COLOR`` (no-color.org: any non-empty value switches colour off)."""
    if os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def paint(text: str, colour: bool, *styles: str) -> str:
    """``text`` in ANSI colour via Ultralytics' ``colorstr`` when ``colour`` is on, else unchanged."""
    return colorstr(*styles, text) if colour else text
