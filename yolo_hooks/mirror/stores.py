"""Where mirrored files go, from a config value: a local (or mounted) folder (:mod:`.local`) or any fsspec URL
(:mod:`.fsspec_url`), behind the one interface of :mod:`.base` (temporary, verify, rename).

Pass extra fsspec options per store as ``{"url": "s3://bucket/run", "storage_options": {"endpoint_url": ...}}``.

Examples:
    >>> make_store("best_mirror", "/tmp/backup")
    LocalStore(/tmp/backup)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.redact import redact_url
from .base import Store
from .fsspec_url import FsspecStore
from .local import LocalStore

FSSPEC_HINT = 'fsspec URLs need the cloud extra: pip install "yolo-hooks[cloud]"'
DEST_KEYS = ("url", "storage_options")


def make_store(hook: str, value: Any) -> Store:
    """A :class:`Store` from a config value: a path, a URL, ``{url, storage_options}``, or a Store.

    Raises:
        ConfigError: wrong shape, unknown key, or an fsspec URL without fsspec installed (with the pip line).
    """
    from ..core.errors import ConfigError

    if isinstance(value, Store):
        return value
    options: dict[str, Any] = {}
    if isinstance(value, dict):
        for key in value:
            if key not in DEST_KEYS:
                raise ConfigError.unknown_key(hook, f"to.{key}", [f"to.{k}" for k in DEST_KEYS])
        options = value.get("storage_options") or {}
        if not isinstance(options, dict):
            raise ConfigError.bad_value(hook, "to.storage_options", options, "a mapping of fsspec options")
        value = value.get("url")
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError.bad_value(
            hook, "to", value, "a folder, an fsspec URL, or {url: ..., storage_options: {...}} (or a list of them)"
        )
    value = value.strip()
    if "://" not in value or value.startswith("file://"):
        if options:
            raise ConfigError.bad_value(hook, "to.storage_options", options, "used only with fsspec URLs")
        return LocalStore(value.removeprefix("file://"))
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{hook}: `to` {redact_url(value)} needs fsspec; {FSSPEC_HINT}") from None
    protocol = value.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as e:
        raise ConfigError(f"{hook}: `to` {redact_url(value)}: no fsspec backend for {protocol}:// ({e})") from None
    return FsspecStore(value, options)
