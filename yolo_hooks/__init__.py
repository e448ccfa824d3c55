"""yolo_hooks: hooks for Ultralytics YOLO training, validation, prediction and export.

Every hook class is importable from the package itself (one import style everywhere)::

    from yolo_hooks import EarlyStopping, FitnessReport, Notify, attach

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> yolo_hooks.attach(model, "hooks.yaml")  # doctest: +SKIP
    >>> model.train(data="datasets/coco8.yaml", epochs=3, imgsz=320)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time the table below imports each on first use
    from .detection.hook import DetectionAlert
    from .fitness.modes import ModeReports
    from .fitness.report import FitnessReport
    from .mirror.hook import BestMirror
    from .notify import Notify
    from .plateau.early_stop import EarlyStopping
    from .plateau.lr_on_plateau import ReduceLROnPlateau
    from .recovery.watchdog import Watchdog
    from .val_loss.hook import ValLossAlert

__version__ = "0.1.0"

# Hook class -> module. Imported on first use, so ``import yolo_hooks`` stays light (no matplotlib, requests...).
HOOK_CLASSES: dict[str, str] = {
    "BestMirror": "yolo_hooks.mirror.hook",
    "DetectionAlert": "yolo_hooks.detection.hook",
    "EarlyStopping": "yolo_hooks.plateau.early_stop",
    "FitnessReport": "yolo_hooks.fitness.report",
    "ModeReports": "yolo_hooks.fitness.modes",
    "Notify": "yolo_hooks.notify",
    "ReduceLROnPlateau": "yolo_hooks.plateau.lr_on_plateau",
    "ValLossAlert": "yolo_hooks.val_loss.hook",
    "Watchdog": "yolo_hooks.recovery.watchdog",
}

__all__ = [
    "BestMirror",
    "ConfigError",
    "DetectionAlert",
    "EarlyStopping",
    "EpochSnapshot",
    "FitnessReport",
    "Hook",
    "ModeReports",
    "Notify",
    "Published",
    "REGISTRY",
    "ReduceLROnPlateau",
    "RunOutcome",
    "ValLossAlert",
    "Watchdog",
    "__version__",
    "attach",
    "attached",
    "build_hooks",
    "load_config",
    "on",
]


def __getattr__(name: str):
    """Import a hook class of :data:`HOOK_CLASSES` on first use."""
    if name in HOOK_CLASSES:
        value = getattr(importlib.import_module(HOOK_CLASSES[name]), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module 'yolo_hooks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
