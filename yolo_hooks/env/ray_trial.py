"""Inside a Ray Tune trial: the hooks of ``YOLO_HOOKS`` and of ``attach()`` on the trainer the trial builds.

Ultralytics' trainable (``_tune`` in ``ultralytics/utils/tuner.py``) takes the model out of Ray's object store and
calls ``model.reset_callbacks()`` before training: every callback the tuning process attached is gone. The tuning
process (:mod:`.ray_tune`) therefore wraps the trainable: before ``_tune`` runs, :func:`enter_trial` (in the trial's
process) sets ``YOLO_HOOKS`` as the tuning process had it, ``YOLO_HOOKS_TUNE`` (this trial's number, for every
message), keeps copies of the hooks ``attach()`` gave the model, and switches on the activation ``YOLO_HOOKS`` uses
(``_yolo_hooks_startup``: Ultralytics' ``add_integration_callbacks`` wrapped). When the trial's trainer is built,
:func:`yolo_hooks.env.activate.activate` attaches both, and :func:`joined`:

- quiets the notifiers (the tuning process reports crashed and stopped trials: see ``quiet_for_tune``);
- moves Ray's own ``on_fit_epoch_end`` callback after ours: its ``tune.report`` ends the trial with ``SystemExit``
  at the last epoch and whenever the scheduler stops it, and our hooks must see that epoch first;
- writes ``yolo_hooks_trial.json`` (the trial's run folder) into Ray's folder of the trial, where the tuning process
  finds each trial's weights (their run folders cannot be told from the trial's name: 8.3.253 names them all
  ``tune``, ``tune2``...).

This works whether Ray was started by Ultralytics, by the user's ``ray.init()`` or on a cluster the script joins
(where the tuning process' environment does not reach the workers): everything travels with the trainable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.tune_context import TUNE_ENV, iteration_context

TRIAL_FILE = "yolo_hooks_trial.json"  # in Ray's folder of each trial: {"trial_id", "save_dir", "pid"}
RAY_CALLBACKS = "ultralytics.utils.callbacks.raytune"  # the module of Ultralytics' tune.report callback

_pending: list = []  # copies of attach()'s hooks for the trainer this trial builds (one trial per process at a time)


@dataclass
class TrialPlan:
    """What every trial of one search needs from the tuning process (pickled with the trainable).

    Attributes:
        yolo_hooks: ``YOLO_HOOKS`` as the tuning process has it (a path, or an inline config), or None.
        hooks: the hooks ``attach()`` gave the model, pickled without their bus (cloudpickle), or None.
        tune_dir: the search's folder (Ray's experiment folder).
        planned: how many trials the search runs.
    """

    yolo_hooks: str | None = None
    hooks: bytes | None = None
    tune_dir: str = ""
    planned: int | None = None

    def made_hooks(self) -> list:
        """Fresh copies of the attached hooks (each trial, and the tuning process' notifiers, get their own)."""
        if not self.hooks:
            return []
        from ray import cloudpickle

        return cloudpickle.loads(self.hooks)


def pickled_hooks(hooks: list) -> bytes | None:
    """``hooks`` pickled (cloudpickle: a hook may be a function) without the bus of the model they are attached to,
    which holds every other hook, its console and its threads."""
    if not hooks:
        return None
    from ray import cloudpickle

    buses = [hook._bus for hook in hooks]
    try:
        for hook in hooks:
            hook._bus = None
        return cloudpickle.dumps(hooks)
    finally:
        for hook, bus in zip(hooks, buses):
            hook._bus = bus


def trial_trainable(original: Any, plan: TrialPlan) -> Any:
    """Ultralytics' trainable, entering the trial first (same name and resources: Ray names trials after it)."""
    import functools

    @functools.wraps(original)  # __name__ ("_tune") and __dict__ (with_resources' `_resources`) kept
    def trainable(config):
        enter_trial(plan)
        return original(config)

    return trainable


def enter_trial(plan: TrialPlan) -> None:
    """In the trial's process, before its trainer exists: who this trial is, and its hooks (see the module)."""
    from ray import tune

    import _yolo_hooks_startup  # the activation YOLO_HOOKS uses (installed with the package, at site-packages' root)

    context = tune.get_context()
    trial_id = str(context.get_trial_id())
    suffix = trial_id.rsplit("_", 1)[-1]
    os.environ[TUNE_ENV] = json.dumps({"kind": "ray", "dir": plan.tune_dir, "iterations": plan.planned,
                                       "trial": int(suffix) + 1 if suffix.isdigit() else 1, "trial_id": trial_id,
                                       "trial_dir": str(context.get_trial_dir())})
    if plan.yolo_hooks:
        os.environ[_yolo_hooks_startup.ENV_VAR] = plan.yolo_hooks
    _pending[:] = plan.made_hooks()
    _yolo_hooks_startup.install(always=True)


def in_trial() -> bool:
    """Is this process running a Ray Tune trial followed by yolo_hooks?"""
    context = iteration_context()
    return context is not None and context.get("kind") == "ray"


def joined(engine: Any) -> list:
    """A trial's trainer was built (its ``YOLO_HOOKS`` hooks attached already): attach ``attach()``'s hooks, put
    Ray's callback last, leave the trial's record. Anything else (a validator, a second trainer): nothing."""
    context = iteration_context()
    if context is None or context.get("kind") != "ray" or "Trainer" not in type(engine).__name__:
        return []
    from ..core.attach import attach
    from .tune import quiet_for_tune

    hooks, _pending[:] = list(_pending), []
    if hooks:
        attach(engine, *quiet_for_tune(hooks, context))
    ray_report_last(engine.callbacks)
    record_trial(context, engine)
    return hooks


def ray_report_last(callbacks: dict[str, list]) -> None:
    """Move Ultralytics' Ray Tune callback (``tune.report``, which may end the trial) after every other one."""
    for registered in callbacks.values():
        ray = [cb for cb in registered if getattr(cb, "__module__", "") == RAY_CALLBACKS]
        if ray:
            registered[:] = [cb for cb in registered if cb not in ray] + ray


def record_trial(context: dict[str, Any], engine: Any) -> None:
    """``yolo_hooks_trial.json`` in Ray's folder of the trial: the trial's run folder, for the tuning process."""
    from ..core.files import atomic_write_json

    trial_dir = context.get("trial_dir")
    if trial_dir:
        Path(trial_dir).mkdir(parents=True, exist_ok=True)  # Ray makes it with its first result: it may be later
        atomic_write_json(Path(trial_dir) / TRIAL_FILE, {"trial_id": context.get("trial_id"),
                                                         "save_dir": str(engine.save_dir), "pid": os.getpid()})
