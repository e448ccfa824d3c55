"""Run at interpreter start-up by ``yolo_hooks.pth`` when ``YOLO_HOOKS`` is set: hooks in every process YOLO starts.

``model.tune(use_ray=True)`` builds no engine in the tuning process: :func:`wrap_ray_tune` wraps Ultralytics'
``run_ray_tune`` the same way, when ``ultralytics.utils.tuner`` is imported.

The pattern is coverage.py's ``COVERAGE_PROCESS_START``: the ``.pth`` line reads one environment variable and, when
it is unset, does nothing else. When it is set, :func:`install` puts a post-import hook on
``ultralytics.utils.callbacks`` and returns: nothing is imported until the program imports Ultralytics itself.
When that module has been executed, its ``add_integration_callbacks(instance)`` (which every Ultralytics trainer,
validator, predictor, exporter and tuner calls when it is built) is wrapped so that it also hands the new engine to
:func:`yolo_hooks.env.activate.activate`.

This module is top-level and uses the standard library only because importing anything under ``yolo_hooks`` runs
``yolo_hooks/__init__.py``, which imports Ultralytics: far too much for a line that runs in every Python process.
The post-import hook is a ``sys.meta_path`` finder (what ``wrapt.when_imported`` installs as well), kept here in a
few lines so that start-up needs no third-party import at all.
"""

from __future__ import annotations

import os
import sys

ENV_VAR = "YOLO_HOOKS"
TARGET = "ultralytics.utils.callbacks"  # the module that defines the interception point
ENTRY = "add_integration_callbacks"  # called by every engine class of Ultralytics when it is built
RAY_TARGET = "ultralytics.utils.tuner"  # model.tune(use_ray=True) calls its run_ray_tune (imported then)
RAY_ENTRY = "run_ray_tune"
WRAPPED_MARK = "__yolo_hooks_original__"


def install(always: bool = False) -> None:
    """Arrange for engines to get the ``YOLO_HOOKS`` hooks, and for ``model.tune(use_ray=True)`` to be followed; a
    no-op when the variable is unset or empty, unless ``always`` (a Ray Tune trial given hooks by ``attach()``)."""
    if not (always or os.environ.get(ENV_VAR)):
        return
    when_imported(TARGET, wrap_entry)
    follow_ray_tunes()


def follow_ray_tunes() -> None:
    """Have every ``model.tune(use_ray=True)`` of this process followed (``import yolo_hooks`` calls it too, so that
    ``attach()``'s hooks reach the trials without ``YOLO_HOOKS``); imports nothing."""
    when_imported(RAY_TARGET, wrap_ray_tune)


def when_imported(name: str, wrap) -> None:
    """``wrap(module)`` once the module ``name`` has been executed: now if it has, else by a post-import finder."""
    module = sys.modules.get(name)
    if module is not None:
        wrap(module)
    elif not any(isinstance(f, _PostImportFinder) and f.name == name for f in sys.meta_path):
        sys.meta_path.insert(0, _PostImportFinder(name, wrap))


def wrap_ray_tune(module) -> bool:
    """Wrap ``module.run_ray_tune`` so that :mod:`yolo_hooks.env.ray_tune` follows every Ray Tune search (the hooks
    in each trial, the tune's story in this process); imported only when a search starts."""
    original = getattr(module, RAY_ENTRY, None)
    if not callable(original) or hasattr(original, WRAPPED_MARK):
        return callable(original)

    def run_ray_tune(model, *args, **kwargs):
        from yolo_hooks.env.ray_tune import follow  # Ultralytics is fully imported when a search starts

        return follow(original, model, *args, **kwargs)

    run_ray_tune.__doc__ = original.__doc__
    run_ray_tune.__wrapped__ = original
    setattr(run_ray_tune, WRAPPED_MARK, original)
    setattr(module, RAY_ENTRY, run_ray_tune)
    return True


def wrap_entry(module) -> bool:
    """Wrap ``module.add_integration_callbacks`` (and the one in ``.base``, where it is defined); False, with a
    warning, when this Ultralytics no longer has it there."""
    original = getattr(module, ENTRY, None)
    if not callable(original):
        _warn(f"{TARGET}.{ENTRY} is missing in this Ultralytics, so the hooks of {ENV_VAR} are NOT attached; "
              f"attach them in your script with yolo_hooks.attach(model, 'hooks.yaml')")
        return False
    if hasattr(original, WRAPPED_MARK):
        return True
    original = getattr(original, WRAPPED_MARK, original)

    def add_integration_callbacks(instance, *args, **kwargs):
        result = original(instance, *args, **kwargs)
        from yolo_hooks.env.activate import activate  # the first engine is built: Ultralytics is fully imported now

        activate(instance)
        return result

    add_integration_callbacks.__doc__ = original.__doc__
    add_integration_callbacks.__wrapped__ = original
    setattr(add_integration_callbacks, WRAPPED_MARK, original)
    setattr(module, ENTRY, add_integration_callbacks)
    base = sys.modules.get(f"{TARGET}.base")
    if base is not None and getattr(base, ENTRY, None) is original:
        setattr(base, ENTRY, add_integration_callbacks)
    return True


def _warn(text: str) -> None:
    import logging  # only now: start-up imports nothing the interpreter has not loaded already

    logging.getLogger("ultralytics").warning(f"yolo_hooks: {text}")  # Ultralytics' LOGGER is this logger


class _PostImportFinder:
    """A ``sys.meta_path`` entry that finds nothing itself: for one module name it asks the other finders, then
    wraps the loader so that ``callback(module)`` runs right after the module has been executed."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = _CallbackLoader(spec.loader, self)
        return spec

    def done(self, module) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # one shot: later imports do not pass through here
        try:
            self.callback(module)
        except Exception as e:  # never break `import ultralytics`
            _warn(f"could not prepare the hooks of {ENV_VAR}: {type(e).__name__}: {e}")


class _CallbackLoader:
    """The real loader, plus one call after ``exec_module`` (every other attribute is the real loader's)."""

    def __init__(self, loader, finder: _PostImportFinder):
        self._loader, self._finder = loader, finder

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._finder.done(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)
