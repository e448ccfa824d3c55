"""The hook core: base class, attach, config, run snapshot and outcome, the bus between hooks, files, worker.

The names below are imported on first use, so that importing a light part of the core (the registry, the errors)
does not import Ultralytics: ``yolo-hooks env`` must be able to start before Ultralytics prints anything.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what IDEs and type checkers see
    from .attach import FunctionHook, attach, attached, on
    from .bus import Bus, Published
    from .config import build_hooks, load_config
    from .errors import ConfigError
    from .hook import GuardedCallback, Hook
    from .registry import REGISTRY
    from .run import EpochSnapshot, RunOutcome, is_main_process, rank

_WHERE = {
    "FunctionHook": "attach", "attach": "attach", "attached": "attach", "on": "attach",
    "Bus": "bus", "Published": "bus",
    "build_hooks": "config", "load_config": "config",
    "ConfigError": "errors",
    "GuardedCallback": "hook", "Hook": "hook",
    "REGISTRY": "registry",
    "EpochSnapshot": "run", "RunOutcome": "run", "is_main_process": "run", "rank": "run",
}  # fmt: skip

__all__ = [
    "REGISTRY",
    "Bus",
    "ConfigError",
    "EpochSnapshot",
    "FunctionHook",
    "GuardedCallback",
    "Hook",
    "Published",
    "RunOutcome",
    "attach",
    "attached",
    "build_hooks",
    "is_main_process",
    "load_config",
    "on",
    "rank",
]


class _Core(types.ModuleType):
    """This package. ``attach`` is both a module of it and the function it exports: importing the module names it
    here (the import system sets the attribute), which must not hide the function."""

    @property
    def attach(self):
        return importlib.import_module(f"{__name__}.attach").attach

    @attach.setter
    def attach(self, module: Any) -> None:
        """The import system naming the submodule ``attach`` here: ``yolo_hooks.core.attach`` stays the function."""


sys.modules[__name__].__class__ = _Core


def __getattr__(name: str) -> Any:
    """Import one of :data:`__all__` on first use."""
    if name in _WHERE:
        value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
        globals()[name] = value  # the next access is a plain attribute
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
