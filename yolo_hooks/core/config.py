"""hooks.yaml (or a dict) -> hook objects, with ``${ENV_VAR}`` substitution and early, clear errors.

A config's top-level keys are hook config names; each maps to that hook's options, ``true`` for defaults, or
(for hooks that allow it, like ``notify``) a list of option sets::

    fitness_report: {csv: true, plot: true}
    early_stop: {patience: 5, min_delta: 0.001}
    notify:
      - {format: slack, url: "${SLACK_WEBHOOK_URL}"}
"""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .redact import SECRET_KEY, remember, remember_config
from .registry import hook_class

# The default stops at a brace of either kind: "${A:-" repeated with no "}" would otherwise be rescanned to the end
# from each "${" (quadratic in the value's length).
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^{}]*))?\}")


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


def option_names(cls: type) -> list[str]:
    """Keyword options a hook class accepts (its ``__init__``'s keyword parameters)."""
    return [p.name for p in _keyword_parameters(cls)]


def required_options(cls: type) -> list[str]:
    """Keyword options a hook class cannot do without (no default)."""
    return [p.name for p in _keyword_parameters(cls) if p.default is p.empty]


def _keyword_parameters(cls: type) -> list[inspect.Parameter]:
    """The keyword parameters of ``cls.__init__``, and of its bases' while an ``__init__`` passes ``**kwargs`` on
    (a subclass ``def __init__(self, **kw): super().__init__(**kw)`` takes its base's options)."""
    found: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in klass.__dict__ or klass is object:
            continue
        params = inspect.signature(klass.__dict__["__init__"]).parameters.values()
        for p in params:
            if p.name != "self" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                found.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    return list(found.values())


def check_options(label: str, cls: type, options: dict[str, Any], positional: int = 0) -> None:
    """Every key of ``options`` is one ``cls`` accepts and none it requires is missing (the first ``positional``
    are given in order): the same errors from hooks.yaml and from Python (``BestMirror(to=..., kep=3)``).

    Raises:
        ConfigError: an unknown key (with the closest spelling) or a missing required one, naming ``label``.
    """
    allowed = cls.option_names()
    for key in options:
        if key in cls.renamed_options and key not in allowed:
            raise ConfigError(f"{label}: `{key}` was renamed in 0.2.0: use {cls.renamed_options[key]}")
        if key not in allowed:
            raise ConfigError.unknown_key(label, str(key), allowed)
    given_by_position = allowed[:positional]  # on(event, func): the first options given in order
    for key in cls.required_options():
        if key not in options and key not in given_by_position:
            raise ConfigError(f"{options.get('name') or label}: `{key}` is required")


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
        for entry in entries:
            if not isinstance(entry, dict):
                raise ConfigError.bad_value(name, name, entry, "a mapping of options, true, or false")
            check_options(str(name), cls, entry)
            pairs.append((str(name), dict(entry)))
    return pairs


def build_hooks(config: dict[str, Any], strict: bool | None = None) -> list:
    """Construct every hook of ``config``; each validates its options and raises :class:`ConfigError`."""
    hooks = []
    for name, options in option_sets(config):
        if strict is not None:
            options.setdefault("strict", strict)
        hooks.append(hook_class(name)(**options))
    return hooks


def config_digest(name: str | None, options: dict[str, Any]) -> str:
    """A fingerprint of one configured hook: its hooks.yaml name and options, ``strict`` aside (hashed: the options
    may hold secrets). The same entry from two sources (``attach`` and ``YOLO_HOOKS``) has the same digest."""
    import hashlib
    import json

    shown = {k: v for k, v in options.items() if k != "strict"}
    text = json.dumps([name, shown], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
