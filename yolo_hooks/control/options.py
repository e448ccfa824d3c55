"""The ``control`` section's options for the signed endpoint, checked when the hook is built: where it listens and
the secret requests are signed with (plain values in, an :class:`Endpoint` or a :class:`ConfigError` out).

Examples:
    >>> check_endpoint("control", "127.0.0.1:8765", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", False, 16384).address
    '127.0.0.1:8765'
"""

from __future__ import annotations

import ipaddress
from typing import Any, NamedTuple

from ..core.errors import ConfigError
from ..core.validate import check_bool, check_number

MIN_SECRET = 24  # characters of a secret that is not whsec_


class Endpoint(NamedTuple):
    """Where the control endpoint listens, and how it checks requests."""

    host: str
    port: int
    secret: str
    allow_remote: bool = False
    max_body: int = 16384

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(hook: str, listen: Any, secret: Any, allow_remote: Any, max_body: Any) -> Endpoint | None:
    """The endpoint ``listen`` and ``secret`` describe (None when neither is given).

    Raises:
        ConfigError: one without the other, a bad address or port, a non-loopback address without
            ``allow_remote: true``, a secret that is neither ``whsec_<base64>`` nor 24 characters or more.
    """
    allow_remote = check_bool(hook, "allow_remote", allow_remote)
    max_body = check_number(hook, "max_body", max_body, minimum=256, maximum=1 << 20, integer=True)
    if listen is None and secret is None:
        return None
    if listen is None:
        raise ConfigError(f"{hook}: `secret` signs requests to `listen`: give `listen` too (e.g. listen: "
                          f"127.0.0.1:8765)")
    if secret is None:
        raise ConfigError(f'{hook}: `listen` needs `secret`, which requests are signed with (e.g. secret: '
                          f'"${{CONTROL_SECRET}}", a whsec_ secret)')
    host, port = _address(hook, listen)
    if not is_loopback(host) and not allow_remote:
        raise ConfigError(f"{hook}: `listen` {listen!r} is not a loopback address: commands would be taken from the "
                          f"network. Keep 127.0.0.1 behind a reverse proxy with TLS, or set allow_remote: true "
                          f"(securing that network path is then your responsibility)")
    from ..notify.formats.json_ import signing_key

    try:
        key = signing_key(secret) if isinstance(secret, str) else None
    except ValueError:
        key = None
    if key is None or (not secret.startswith("whsec_") and len(secret) < MIN_SECRET) or len(key) < 16:
        raise ConfigError(f"{hook}: `secret` must be a Standard Webhooks secret (whsec_ + base64 of at least 16 "
                          f"bytes) or a text of at least {MIN_SECRET} characters")
    return Endpoint(host, port, secret, allow_remote, max_body)


def _address(hook: str, listen: Any) -> tuple[str, int]:
    if isinstance(listen, int) and not isinstance(listen, bool):
        host, port_text = "127.0.0.1", str(listen)
    elif isinstance(listen, str) and ":" in listen:
        host, _, port_text = listen.strip().rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
    else:
        raise ConfigError.bad_value(hook, "listen", listen, "HOST:PORT such as 127.0.0.1:8765 (or a port)")
    if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ConfigError.bad_value(hook, "listen", listen, "HOST:PORT with a port from 0 (any free one) to 65535")
    return host, int(port_text)
