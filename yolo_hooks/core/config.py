"""hooks.yaml (or a dict) -> hook objects, with ``${ENV_VAR}`` substitution and early, clear errors.

A config's top-level keys are hook config names; each maps to that hook's options, ``true`` for defaults, or
(for hooks that allow it, like ``notify``) a list of option sets::

    fitness_report: {csv: true, plot: true}
    early_stop: {patience: 5, min_delta: 0.001}
    notify:
      - {format: slack, url: "${SLACK_WEBHOOK_URL}"}
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .redact import SECRET_KEY, remember, remember_config

# config name -> "module:Class"; imported only when a config uses it
REGISTRY: dict[str, str] = {
    "fitness_report": "yolo_hooks.fitness.report:FitnessReport",
    "val_loss_alert": "yolo_hooks.val_loss.hook:ValLossAlert",
    "early_stop": "yolo_hooks.plateau.early_stop:EarlyStopping",
    "lr_on_plateau": "yolo_hooks.plateau.lr_on_plateau:ReduceLROnPlateau",
    "notify": "yolo_hooks.notify:Notify",
    "best_mirror": "yolo_hooks.mirror.hook:BestMirror",
    "detection_alert": "yolo_hooks.detection.hook:DetectionAlert",
    "watchdog": "yolo_hooks.recovery.watchdog:Watchdog",
}

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def load_config(source: str | Path | dict) -> dict[str, Any]:
    """Read a hooks.yaml path or take a dict; ``${VAR}`` / ``${VAR:-default}`` are replaced from the environment.

    Raises:
        ConfigError: the file is missing or not a mapping, or a referenced variable is unset (named, not shown).
    """
    if isinstance(source, dict):
        raw = source
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"hooks config file not found: {path}")
        import yaml

        try:
            raw = yaml.safe_load(path.read_bytes().decode("utf-8")) or {}
        except UnicodeDecodeError as e:
            raise ConfigError(f"hooks config {path} is not UTF-8 text (byte {e.start})") from None
        except yaml.YAMLError as e:
            raise ConfigError(f"hooks config {path} is not valid YAML: {_yaml_problem(e)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"hooks config must be a mapping of hook names to options, got {type(raw).__name__}")
    config = substitute_env(raw)
    remember_config(config)
    return config


def _yaml_problem(error: Exception) -> str:
    """Where and what, without PyYAML's quote of the offending line (it may hold a token)."""
    mark = getattr(error, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + str(getattr(error, "problem", None) or type(error).__name__)


def substitute_env(value: Any, where: str = "") -> Any:
    """Replace ``${VAR}`` references in every string of ``value`` (recursively)."""
    if isinstance(value, dict):
        return {k: substitute_env(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute_env(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, str):

        def replace(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            value = os.environ[name] if name in os.environ else default
            if value is not None:
                if SECRET_KEY.search(name) or SECRET_KEY.search(where.rsplit(".", 1)[-1]):
                    remember([value])  # an expanded ${SLACK_WEBHOOK_URL} is as secret as the variable
                return value
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")

        return ENV_REF.sub(replace, value)
    return value


def hook_class(name: str) -> type:
    """The hook class registered under config name ``name``."""
    if name not in REGISTRY:
        import difflib

        close = difflib.get_close_matches(name, REGISTRY, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(f"unknown hook `{name}`{hint}; available: {', '.join(REGISTRY)}")
    module, cls = REGISTRY[name].split(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"hook `{name}` is not available in this installation: {e}") from None


def option_names(cls: type) -> list[str]:
    """Keyword options a hook class accepts."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]


def required_options(cls: type) -> list[str]:
    """Keyword options a hook class cannot do without (no default)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
            and p.default is p.empty]


def option_sets(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(hook name, options)`` pairs in config order, checked for shape and unknown keys."""
    pairs = []
    for name, value in config.items():
        cls = hook_class(str(name))
        if value is None or value is False:
            continue  # `early_stop: false` switches a hook off
        if value is True:
            value = {}
        entries = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not cls.allow_multiple:
            raise ConfigError(f"{name}: takes one set of options (a mapping), not a list")
        allowed = option_names(cls)
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError.bad_value(name, name, entry, "a mapping of options, true, or false")
            for key in entry:
                if key not in allowed:
                    raise ConfigError.unknown_key(name, str(key), allowed)
            for key in required_options(cls):
                if key not in entry:
                    raise ConfigError(f"{entry.get('name') or name}: `{key}` is required")
            pairs.append((str(name), dict(entry)))
    return pairs


def build_hooks(config: dict[str, Any], strict: bool | None = None) -> list:
    """Construct every hook of ``config``; each validates its options and raises :class:`ConfigError`."""
    hooks = []
    for name, options in option_sets(config):
        digest = config_digest(name, options)
        if strict is not None:
            options.setdefault("strict", strict)
        hook = hook_class(name)(**options)
        hook.config_digest = digest  # the same entry from two sources (attach + YOLO_HOOKS) is attached once
        hooks.append(hook)
    return hooks


def config_digest(name: str, options: dict[str, Any]) -> str:
    """A fingerprint of one config entry (hashed: the options may hold secrets)."""
    import hashlib
    import json

    text = json.dumps([name, options], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
