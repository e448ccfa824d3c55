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

# ruff: noqa: F401 - every import here is public API; __all__ is derived from the catalog, which ruff cannot read
from __future__ import annotations

from typing import TYPE_CHECKING

from . import catalog
from ._version import __version__
from .core.registry import CLASSES, REGISTRY, load

try:  # model.tune(use_ray=True): attach()'s hooks reach every trial (yolo_hooks.env.ray_tune); imports nothing now
    from _yolo_hooks_startup import follow_ray_tunes
except ImportError:  # a copy of the package without its start-up module
    pass
else:
    follow_ray_tunes()

if TYPE_CHECKING:  # what IDEs and type checkers see; at run time each class is imported on first use
    from .control.hook import RunControl
    from .core import (
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
    from .detection.hook import DetectionAlert
    from .fitness.modes import ModeReports
    from .fitness.report import FitnessReport
    from .mirror.hook import BestMirror
    from .notify.hook import Notify
    from .plateau.early_stop import EarlyStopping
    from .plateau.lr_on_plateau import ReduceLROnPlateau
    from .recovery.watchdog import Watchdog
    from .trackers.hook import Trackers
    from .val_loss.hook import ValLossAlert

# Hook class -> module, derived from the catalog. Imported on first use, so ``import yolo_hooks`` stays light.
HOOK_CLASSES: dict[str, str] = {name: target.partition(":")[0] for name, target in CLASSES.items()}

_CORE_API = ["ConfigError", "EpochSnapshot", "Hook", "Published", "REGISTRY", "RunOutcome", "__version__", "attach",
             "attached", "build_hooks", "load_config", "on"]
__all__ = sorted([*_CORE_API, *HOOK_CLASSES])


def __getattr__(name: str):
    """Import a hook class of :data:`HOOK_CLASSES`, or a name of the core, on first use (``import yolo_hooks``
    imports no hook, and not Ultralytics either)."""
    if name in CLASSES or name in _CORE_API:
        from . import core

        value = load(CLASSES[name]) if name in CLASSES else getattr(core, name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module 'yolo_hooks' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
