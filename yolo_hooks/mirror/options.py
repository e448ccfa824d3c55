"""The option checks of :class:`~yolo_hooks.mirror.hook.BestMirror` that are its own (numbers go through
:mod:`yolo_hooks.core.validate`): plain values in, validated values or a :class:`ConfigError` out.

Examples:
    >>> check_exports("best_mirror", ["ONNX"])
    ('onnx',)
"""

from __future__ import annotations

from typing import Any

from ..core.errors import ConfigError
from ..core.validate import check_bool, check_str
from .base import Store
from .stores import make_store


def check_stores(hook: str, to: Any) -> list[Store]:
    """One store or a non-empty list of them, none listed twice."""
    items = to if isinstance(to, (list, tuple)) else [to]
    if not items:
        raise ConfigError.bad_value(hook, "to", to, "a store or a non-empty list of stores")
    stores = [make_store(hook, item) for item in items]
    if len(set(map(repr, stores))) != len(stores):
        shown = ", ".join(d.display for d in stores)
        raise ConfigError(f"{hook}: `to` lists the same store twice: {shown}")
    return stores


def check_exports(hook: str, exports: Any) -> bool | tuple[str, ...]:
    """True, False, or export formats Ultralytics knows (lower-cased)."""
    if isinstance(exports, bool):
        return check_bool(hook, "exports", exports)
    if isinstance(exports, str):
        exports = [exports]
    if not isinstance(exports, (list, tuple)) or not exports:
        raise ConfigError.bad_value(hook, "exports", exports, "true, false, or a list of export formats")
    from ultralytics.engine.exporter import export_formats

    formats = [f for f in export_formats()["Argument"] if f != "-"]
    for fmt in exports:
        check_str(hook, "exports", fmt)
        if fmt.lower() not in formats:
            raise ConfigError.bad_value(hook, "exports", fmt, "export formats among " + ", ".join(formats))
    return tuple(f.lower() for f in exports)
