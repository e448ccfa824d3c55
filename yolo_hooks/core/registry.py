"""The one registry: hook classes by hooks.yaml name, and the steps features ask the core to run for them.

The core never imports a feature. What it must find — the class behind a hooks.yaml name, the recovery of a killed
run at a run's start — is registered here as ``"module:name"`` text by :mod:`yolo_hooks.catalog` (or by a user
for a hook of their own) and imported on first use, so ``import yolo_hooks`` loads no hook.

Examples:
    >>> register_hook("my_hook", "my_package.hooks:MyHook")  # doctest: +SKIP
    >>> hook_class("my_hook")  # doctest: +SKIP
    <class 'my_package.hooks.MyHook'>
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .errors import ConfigError

# hooks.yaml name -> "module:Class", in the order errors and docs list them
REGISTRY: dict[str, str] = {}
# class name -> "module:Class" for every hook class the package exports (some have no hooks.yaml name)
CLASSES: dict[str, str] = {}
# "module:function" run on rank 0 at the start of every training, before the run is marked running:
# step(trainer, hooks, log) (recovery: finish a killed run that used the same folder)
RUN_START_STEPS: list[str] = []
# "module:Class" of hooks every model gets once (``attach`` adds one with default options unless one is attached):
# a feature the core must run in every training, such as run control's command inbox
RUN_HOOKS: list[str] = []


def register_hook(config_name: str | None, target: str) -> None:
    """Make ``target`` (``"module:Class"``) a hook class: exported by class name, and usable in hooks.yaml under
    ``config_name`` when there is one."""
    module, _, cls = target.partition(":")
    if not module or not cls:
        raise ValueError(f"a hook is registered as 'module:Class', got {target!r}")
    CLASSES[cls] = target
    if config_name:
        REGISTRY[config_name] = target


def register_run_start(target: str) -> None:
    """Run ``target`` (``"module:function"``, called as ``step(trainer, hooks, log)``) at every training's start."""
    if target not in RUN_START_STEPS:
        RUN_START_STEPS.append(target)


def register_run_hook(target: str) -> None:
    """Give every model a ``target`` (``"module:Class"``) hook: ``attach`` adds one built with no options unless one
    is attached (a configured one replaces the default)."""
    if target not in RUN_HOOKS:
        RUN_HOOKS.append(target)


def config_name_of(cls: type) -> str | None:
    """The hooks.yaml name registered for ``cls`` (None for a class registered without one, or not registered)."""
    target = f"{cls.__module__}:{cls.__qualname__}"
    return next((name for name, registered in REGISTRY.items() if registered == target), None)


def hook_class(name: str) -> type:
    """The hook class registered under hooks.yaml name ``name``.

    Raises:
        ConfigError: no such name (with the closest spelling), or its module cannot be imported.
    """
    if name not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(f"unknown hook `{name}`{hint}; available: {', '.join(REGISTRY)}")
    try:
        return load(REGISTRY[name])
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"hook `{name}` is not available in this installation: {e}") from None


def load(target: str) -> Any:
    """The object ``"module:name"`` names (imported now)."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_hook_classes() -> list[type]:
    """The registered run hooks' classes, imported."""
    return [load(target) for target in RUN_HOOKS]


def run_start_steps() -> list[Callable[..., Any]]:
    """The registered run-start steps, imported (``attach`` asks first, so the training thread never imports)."""
    return [load(target) for target in RUN_START_STEPS]
