"""``attach(model, ...)``: register hooks (objects, a YAML file or a dict) on an Ultralytics model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .callbacks import check_event
from .config import build_hooks, load_config
from .deadline import set_exit_timeout
from .errors import ConfigError
from .hook import GuardedCallback, Hook
from .lifecycle import RunTracker
from .redact import remember
from .registry import run_hook_classes, run_start_steps
from .validate import check_number


def attach(model: Any, *items: Hook | str | Path | dict, strict: bool | None = None,
           end_timeout: float | None = None) -> list[Hook]:
    """Register hooks on ``model`` (a ``YOLO`` model, or any object with ``add_callback`` and ``callbacks``).

    Everything is validated before anything is registered: a bad config, an unknown hook or option, or a
    misspelled event method raises :class:`ConfigError` here, before training starts.

    Args:
        model: the ``ultralytics.YOLO`` model (or trainer / validator / predictor).
        *items: hook objects, paths to ``hooks.yaml`` files, or config dicts.
        strict: when given, overrides every hook's ``strict`` (True re-raises hook errors; for tests and debugging).
        end_timeout: seconds the end of a training waits for all hooks' end-of-run work together (flushes,
            uploads; default 10); the interpreter's exit waits at most as long for messages sent after it.

    Returns:
        The attached hooks, in order.

    Examples:
        >>> from ultralytics import YOLO
        >>> import yolo_hooks
        >>> model = YOLO("yolo11n.yaml")
        >>> hooks = yolo_hooks.attach(model, "hooks.yaml")  # doctest: +SKIP
    """
    if not (hasattr(model, "add_callback") and hasattr(model, "callbacks")):
        raise ConfigError(f"attach: expected an Ultralytics model (YOLO(...)) or trainer, got {type(model).__name__}")
    hooks: list[Hook] = []
    for item in items:
        if isinstance(item, Hook):
            hooks.append(item)
        elif isinstance(item, (str, Path, dict)):
            hooks.extend(build_hooks(load_config(item)))
        elif callable(item):
            raise ConfigError(
                "attach: plain functions need an event name; use model.add_callback('on_fit_epoch_end', fn) "
                "or yolo_hooks.on('on_fit_epoch_end', fn)"
            )
        else:
            raise ConfigError(f"attach: expected a Hook, a hooks.yaml path or a config dict, got {type(item).__name__}")
    for hook in hooks:
        remember(hook.secrets())  # so that every later log, error and CLI line is scrubbed of them
    plan = [(hook, hook.handlers()) for hook in hooks]  # validates every event name before registering any
    tracker = _find_tracker(model)
    give_unique_names(hooks, attached(model))  # a run hook's default is replaced, not renamed around
    if end_timeout is not None:
        end_timeout = check_number("attach", "end_timeout", end_timeout, minimum=0)
    tracker = _tracker_of(model)
    for hook, handlers in plan:
        if strict is not None:
            hook.strict = strict
        hook.bind(tracker.bus)
        for event in handlers:
            model.add_callback(event, GuardedCallback(hook, event))
    if end_timeout is not None:
        tracker.bus.end_timeout = float(end_timeout)
        set_exit_timeout(end_timeout)
    _run_hooks(model, tracker)
    _finish_last(model, tracker)
    return hooks


def _run_hooks(model: Any, tracker: RunTracker) -> None:
    """Every registered run hook once per model (see ``registry.RUN_HOOKS``): one built with its defaults unless one
    is attached, a default dropped when a configured one arrives. They finish after the model's other hooks (and
    before the notifiers, which finish last), so what they say at the end is still sent."""
    bus = tracker.bus
    for cls in run_hook_classes():
        present = [h for h in bus.hooks if isinstance(h, cls)]
        for hook in [h for h in present if getattr(h, "_run_default", False)] if len(present) > 1 else []:
            _detach(model, bus, hook)
        if not present:
            hook = cls()
            hook._run_default = True
            hook.bind(bus)
            for event in hook.handlers():
                model.add_callback(event, GuardedCallback(hook, event))
        for hook in [h for h in bus.hooks if isinstance(h, cls)]:
            bus.hooks.remove(hook)
            bus.hooks.append(hook)


def _detach(model: Any, bus, hook: Hook) -> None:
    """Remove ``hook``'s callbacks from ``model`` and the hook from the bus."""
    for callbacks in model.callbacks.values():
        callbacks[:] = [cb for cb in callbacks if not (isinstance(cb, GuardedCallback) and cb.hook is hook)]
    bus.hooks.remove(hook)


def _finish_last(model: Any, tracker: RunTracker) -> None:
    """Keep the tracker's end-of-run step after every hook's ``teardown`` (re-appended after each attach)."""
    teardown = model.callbacks.setdefault("teardown", [])
    teardown[:] = [cb for cb in teardown if not (isinstance(cb, GuardedCallback) and cb.hook is tracker
                                                 and cb.event == "finish_run")]
    teardown.append(GuardedCallback(tracker, "finish_run"))


def give_unique_names(hooks: list[Hook], present: list[Hook] | tuple = ()) -> None:
    """Names key state files, outbox lines and log prefixes: unique per model. A default name gets ``_2``, ``_3``
    ...; a name the user chose twice, or a hook attached twice, is a ConfigError."""
    present = list(present)
    taken = {h.name for h in present}
    for hook in hooks:
        if any(hook is h for h in present):
            raise ConfigError(f"{hook.name}: this hook object is already attached to this model")
        if hook.name in taken:
            if hook._named:
                raise ConfigError(f"{hook.name}: two hooks on one model are named `{hook.name}`; give them different "
                                  f"`name:`s (state files and logs are kept by name)")
            base, i = hook.name, 2
            while f"{base}_{i}" in taken:
                i += 1
            hook.name = f"{base}_{i}"
        taken.add(hook.name)
        present.append(hook)


def attached(model: Any) -> list[Hook]:
    """The hooks attached to ``model`` through :func:`attach`, in order (not the core's own: the run tracker and the
    run hooks it added with their defaults)."""
    tracker = _find_tracker(model)
    if tracker is None:
        return []
    return [h for h in tracker.bus.hooks if h is not tracker and not getattr(h, "_run_default", False)]


def _find_tracker(model: Any) -> RunTracker | None:
    for callback in model.callbacks.get("on_train_epoch_end", []):
        if isinstance(callback, GuardedCallback) and isinstance(callback.hook, RunTracker):
            return callback.hook
    return None


def _tracker_of(model: Any) -> RunTracker:
    """The model's RunTracker, registered on first use so that it runs before every later hook."""
    tracker = _find_tracker(model)
    if tracker is None:
        run_start_steps()  # imported now: the first on_train_start would pay for the imports on the training thread
        run_hook_classes()
        tracker = RunTracker()
        tracker.bind(tracker.bus)
        for event in tracker.handlers():
            model.add_callback(event, GuardedCallback(tracker, event))
    return tracker


class FunctionHook(Hook):
    """One plain function on one event, with the core's error isolation and event-name check.

    Examples:
        >>> yolo_hooks.attach(model, yolo_hooks.on("on_fit_epoch_end", lambda trainer: print(trainer.fitness)))
        ... # doctest: +SKIP
    """

    def __init__(self, event: str, func: Callable[[Any], Any], *, strict: bool = False):
        self.event, self.func = event, func
        super().__init__(strict=strict)

    def default_name(self) -> str:
        """The function's name (two functions of the same name become ``name`` and ``name_2``)."""
        return str(getattr(self.func, "__name__", "function"))

    def handlers(self) -> dict[str, Callable]:
        check_event(self.name, self.event)
        return {self.event: self.func}

    def __getattr__(self, item: str):
        # GuardedCallback looks the handler up by event name at call time.
        if item != "__dict__" and item == self.__dict__.get("event"):
            return self.__dict__["func"]
        raise AttributeError(item)


def on(event: str, func: Callable[[Any], Any], *, strict: bool = False) -> FunctionHook:
    """Wrap a plain function for ``attach`` so it gets event-name checking and error isolation."""
    return FunctionHook(event, func, strict=strict)
