"""yolo_hooks: hooks for Ultralytics YOLO training, validation, prediction and export.

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> yolo_hooks.attach(model, "hooks.yaml")  # doctest: +SKIP
    >>> model.train(data="datasets/coco8.yaml", epochs=3, imgsz=320)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from .core import (
    REGISTRY,
    ConfigError,
    EpochSnapshot,
    Hook,
    Published,
    RunOutcome,
    attach,
    attached,
    build_hooks,
    load_config,
    on,
)

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "EpochSnapshot",
    "Hook",
    "Published",
    "RunOutcome",
    "__version__",
    "attach",
    "attached",
    "build_hooks",
    "load_config",
    "on",
]


def __getattr__(name: str):
    """Hook classes (``yolo_hooks.EarlyStop`` ...) are imported on first use, so ``import yolo_hooks`` stays light."""
    for target in REGISTRY.values():
        module, cls = target.split(":")
        if cls == name:
            return getattr(importlib.import_module(module), cls)
    raise AttributeError(f"module 'yolo_hooks' has no attribute {name!r}")
