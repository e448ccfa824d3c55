"""Real servers on 127.0.0.1 for the tests: one HTTP endpoint (the product's own receiver) and a dead port.

Every HTTP test talks to :class:`yolo_hooks.notify.receiver.WebhookReceiver`, which records each request and plays
any endpoint: ``ok``, ``slow`` (after ``delay`` s), any status (``"429"`` with ``Retry-After``, ``"302"`` to
``location``, ``"410"``...), ``close``, ``drop``, ``reset``, ``hangup``, ``huge``, ``never``, or a function of the
request (a service that checks what it gets); ``script(...)`` and ``cycle(...)`` order the replies, ``heal()``
makes it healthy again. The fixtures ``endpoint`` and ``dead_url`` (tests/conftest.py) hand these out.

``make_certificate`` makes a self-signed CA certificate for 127.0.0.1 (HTTPS and SMTP over TLS), ``server_tls`` the
server side of it.

Examples:
    >>> endpoint = Endpoint().start()                  # its URL carries a token: check that it never shows
    >>> endpoint.script("429", "500", "ok")             # the first three requests, then its `mode`
    >>> endpoint.ids(), endpoint.requests[0]["headers"]
    >>> endpoint.stop()
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
from pathlib import Path

from yolo_hooks.notify.receiver import WebhookReceiver

SECRET_PATH = "/hook/TOKEN-s3cr3t-0123456789"  # tests assert "TOKEN" never reaches a log line, an error or a file


class Endpoint(WebhookReceiver):
    """The receiver at a URL that carries a secret token (:data:`SECRET_PATH`); HTTPS with a server TLS context."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None):
        super().__init__(port, path=SECRET_PATH, tls=tls)


def free_port() -> int:
    """A loopback port nothing listens on (refused until someone binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_url() -> str:
    """A URL on a loopback port where nothing listens: every request is refused."""
    return f"http://127.0.0.1:{free_port()}/hook/TOKEN-dead-0123456789"


def make_certificate(folder: Path, *hosts: str) -> tuple[str, str]:
    """A self-signed CA certificate for 127.0.0.1 (and ``hosts``), valid today, as PEM files: (certificate, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), *(x509.DNSName(host) for host in hosts)]
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(folder)
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(folder / "cert.pem"), str(folder / "key.pem")


def server_tls(certificate: tuple[str, str]) -> ssl.SSLContext:
    """The server side of TLS with ``certificate`` (from :func:`make_certificate`)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context
