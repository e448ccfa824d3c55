"""``YOLO_HOOKS=hooks.yaml``: the hooks of one config in every trainer, validator, predictor and exporter built in
this process, and (because children inherit the environment) in ``yolo`` CLI runs, ``model.tune()`` iterations and
per-dataset subprocesses; Ray Tune trials get it from the trainable (:mod:`yolo_hooks.env.ray_trial`).

``yolo_hooks.pth`` (see ``_yolo_hooks_startup.py``) wraps Ultralytics' ``add_integration_callbacks(engine)``, which
every engine calls when it is built; the wrapper calls :func:`activate`. Here the config is read and checked (a bad
one is a :class:`ConfigError` before the run starts) and attached exactly as ``yolo_hooks.attach`` would.

Examples:
    $ export YOLO_HOOKS=$PWD/hooks.yaml      # or: eval "$(yolo-hooks env hooks.yaml)"
    $ yolo train model=yolo11n.yaml data=coco8.yaml epochs=3
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any

from ultralytics.utils import LOGGER

from ..core.attach import attach, attached
from ..core.colour import colour_enabled, paint
from ..core.config import build_hooks, load_config
from ..core.errors import ConfigError
from ..core.hook import Hook
from ..core.redact import redact_value
from ..core.tune_context import iteration_context
from . import ray_trial
from .tune import quiet_for_tune

ENV_VAR = "YOLO_HOOKS"


def config_source(value: str) -> str | dict:
    """``YOLO_HOOKS``'s value -> a path, or the mapping it holds inline (YAML or JSON).

    Raises:
        ConfigError: neither an existing file nor an inline mapping (the inline text is never shown: it may hold
            secrets).
    """
    text = value.strip()
    try:
        if Path(text).expanduser().is_file():
            return str(Path(text).expanduser().resolve())
    except (OSError, ValueError):  # a long inline text is no file name
        pass
    if text.startswith(("{", "[")) or "\n" in text or ":" in text:
        import yaml

        try:
            inline = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"{ENV_VAR}: inline config is not valid YAML/JSON ({type(e).__name__})") from None
        if isinstance(inline, dict):
            return inline
        if isinstance(inline, (list, tuple)):
            raise ConfigError(f"{ENV_VAR}: inline config must be a mapping of hook names to options, got "
                              f"a list (e.g. {ENV_VAR}='{{notify: [{{format: json, url: ...}}]}}')")
        if not isinstance(inline, str):  # a number, a date...: what it is, not the text
            raise ConfigError(f"{ENV_VAR}: inline config must be a mapping of hook names to options")
    shown = redact_value(ENV_VAR, text) if len(text) < 500 else f"{text[:40]}..."  # a URL: only its host
    raise ConfigError(f"{ENV_VAR}={shown}: no such file (from {os.getcwd()}); give an absolute path, "
                      f"e.g. `eval \"$(yolo-hooks env hooks.yaml)\"`, or an inline YAML/JSON mapping")


def read_config(value: str | None = None) -> dict[str, Any]:
    """The config ``YOLO_HOOKS`` names, loaded and checked (every hook built once, then dropped).

    Raises:
        ConfigError: prefixed with ``YOLO_HOOKS=<file>`` so the user knows where the bad config came from.
    """
    value = os.environ.get(ENV_VAR, "") if value is None else value
    source = config_source(value)
    where = f"{ENV_VAR}={source}" if isinstance(source, str) else f"{ENV_VAR} (inline)"
    try:
        config = load_config(source)
        build_hooks(config)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return config


def activate(engine: Any) -> list[Hook]:
    """Give a newly built Ultralytics engine the ``YOLO_HOOKS`` hooks; returns the hooks attached now.

    A tuner gets the tune summary (:mod:`yolo_hooks.env.tune`); every other engine the config's hooks, unless
    its callbacks (shared by a model's trainer, validators and predictors) already hold the same entries. The
    trainer of a Ray Tune trial also gets the hooks ``attach()`` gave the model in the tuning process
    (:mod:`yolo_hooks.env.ray_trial`).

    Raises:
        ConfigError: the config is bad or clashes with hooks attached by hand (the run folder Ultralytics has just
            made for the engine, still empty, is removed first); anything else is logged, never raised.
    """
    if not (os.environ.get(ENV_VAR) or ray_trial.in_trial()):
        return []
    try:
        hooks = []
        if os.environ.get(ENV_VAR):
            config = read_config()
            if "Tuner" in type(engine).__name__:
                from .tune import follow_tuner

                follow_tuner(engine, config)
                return []
            hooks = attach_config(engine, config)
        return hooks + ray_trial.joined(engine)
    except ConfigError:
        remove_unused_run_folder(getattr(engine, "save_dir", None))
        raise
    except Exception as e:  # our bug or a changed Ultralytics: the run goes on without these hooks, loudly
        _warn(f"could not attach the hooks of {ENV_VAR} to {type(engine).__name__}, it runs without them: "
              f"{type(e).__name__}: {e}")
        return []


def attach_config(engine: Any, config: dict[str, Any]) -> list[Hook]:
    """Attach the entries of ``config`` that ``engine`` does not have yet (same entry = same name and options).

    In a ``model.tune()`` iteration or a Ray Tune trial, destinations are quieted (:func:`quiet_for_tune`): the
    tune-level news comes from the tuning process.
    """
    context = iteration_context()
    present = {h.config_digest for h in attached(engine)}
    hooks = [h for h in build_hooks(config) if h.config_digest not in present]
    if context is not None:
        quiet_for_tune(hooks, context)
    if hooks:
        attach(engine, *hooks)
    return hooks


# What an Ultralytics engine writes into its run folder before it hands itself to `add_integration_callbacks`
UNUSED_RUN = {"args.yaml", "weights"}


def remove_unused_run_folder(save_dir: Any) -> bool:
    """Remove the run folder a trainer (or validator) made before the ``YOLO_HOOKS`` config stopped it, when it holds
    nothing but what Ultralytics puts there first (``args.yaml``, an empty ``weights/``): a run that never started
    leaves no folder behind. True when it was removed; a folder with anything else in it (a run to resume) is kept."""
    if not save_dir:
        return False
    folder = Path(save_dir)
    try:
        entries = list(folder.iterdir())
        if any(p.name not in UNUSED_RUN or (p.is_dir() and any(p.iterdir())) for p in entries):
            return False
        for path in entries:
            path.rmdir() if path.is_dir() else path.unlink()
        folder.rmdir()
    except OSError:
        return False
    return True


def export_line(path: str) -> str:
    """The shell line that switches hooks on for everything started from this shell, after checking the config.

    Raises:
        ConfigError: the file is missing or its config is bad.
    """
    if not Path(path).expanduser().is_file():
        raise ConfigError(f"hooks config file not found: {path}")
    source = str(Path(path).expanduser().resolve())
    read_config(source)
    return f"export {ENV_VAR}={shlex.quote(source)}"


def _warn(text: str) -> None:
    LOGGER.warning(f"{paint('yolo_hooks:', colour_enabled(), 'yellow', 'bold')} {text}")
