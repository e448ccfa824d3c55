"""Keep secrets (webhook URLs, tokens, passwords) out of logs, errors, files and ``yolo-hooks check``."""

from __future__ import annotations

import re
from typing import Any, Iterable

SECRET_KEY = re.compile(r"(url|token|secret|password|passwd|key|webhook|auth|signature)", re.IGNORECASE)
MASK = "***"


def redact_url(url: str) -> str:
    """Keep scheme and host of a URL, hide path, query and credentials (webhook URLs carry their token in the path).

    Examples:
        >>> redact_url("https://hooks.slack.com/services/T000/B000/XXXX")
        'https://hooks.slack.com/***'
    """
    match = re.match(r"^([a-zA-Z][\w+.-]*://)(?:[^@/]*@)?([^/?#]*)", url)
    return f"{match.group(1)}{match.group(2)}/{MASK}" if match else MASK


def redact_value(key: str, value: Any) -> Any:
    """Redact ``value`` when ``key`` names a secret; URLs keep their host so the user can tell them apart."""
    if value is None or not SECRET_KEY.search(str(key)) or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    if text.startswith("${") and text.endswith("}"):  # an unresolved ${ENV_VAR} reference is safe to show
        return text
    return redact_url(text) if "://" in text else MASK


def redact_mapping(options: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``options`` (nested dicts and lists too) with every secret-named value redacted."""
    out = {}
    for key, value in options.items():
        if isinstance(value, dict):
            out[key] = redact_mapping(value)
        elif isinstance(value, list):
            out[key] = [redact_mapping(v) if isinstance(v, dict) else redact_value(key, v) for v in value]
        else:
            out[key] = redact_value(key, value)
    return out


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each known secret in ``text`` (e.g. an exception message quoting a URL)."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, redact_url(secret) if "://" in secret else MASK)
    return text
