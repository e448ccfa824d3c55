"""The one error type for bad configuration."""

from __future__ import annotations

from typing import Any

from .redact import redact_value, scrub


class ConfigError(ValueError):
    """Bad hook configuration, raised at attach time before any training starts.

    The message is scrubbed of every secret the process knows (a config's URLs, tokens and passwords, expanded
    ``${ENV_VAR}`` values included), so printing it anywhere (``yolo-hooks check``, a log) never shows one.

    Examples:
        >>> raise ConfigError.bad_value("early_stop", "mode", "mn", "min, max or auto")
        Traceback (most recent call last):
        yolo_hooks.core.errors.ConfigError: early_stop: `mode` must be min, max or auto, got 'mn'
    """

    def __init__(self, message: str = ""):
        super().__init__(scrub(message))

    @classmethod
    def bad_value(cls, hook: str, key: str, value: Any, allowed: str) -> ConfigError:
        """Error naming the hook, the key, the (redacted) bad value and what is allowed."""
        return cls(f"{hook}: `{key}` must be {allowed}, got {redact_value(key, value)!r}")

    @classmethod
    def unknown_key(cls, hook: str, key: str, allowed: list[str] | tuple[str, ...]) -> ConfigError:
        """Error for an option the hook does not have, with the closest spelling when there is one."""
        import difflib

        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        return cls(f"{hook}: unknown option `{key}`{hint}; allowed: {', '.join(sorted(allowed))}")
