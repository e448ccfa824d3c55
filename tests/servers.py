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

import collections
import datetime
import ipaddress
import json
import socket
import ssl
import threading
import time
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


class TelegramApi(WebhookReceiver):
    """A loopback Telegram Bot API for one bot, answering as Telegram does.

    ``getUpdates`` serves what :meth:`write` queued (people writing in chats): a long poll that waits up to its
    ``timeout``; an ``offset`` confirms, and drops, every update before it. A second poll while one waits ends the
    first with 409 ("terminated by other getUpdates request"); :attr:`poll_replies` answers the next polls with
    ``"409"`` or ``"429"`` (``retry_after`` 1) first. ``sendMessage`` and ``sendPhoto`` are recorded in :attr:`sent`;
    anything not under ``/bot<token>/`` is a 404, as for a bad token.
    """

    TOKEN = "123456:TEST-TOKEN-s3cr3t0123456789"

    def __init__(self, token: str = TOKEN):
        super().__init__(path="")
        self.token = token
        self.updates: list[dict] = []
        self.history: dict[int, dict] = {}  # every update written, by id
        self.sent: list[dict] = []
        self.polls: list[int | None] = []  # the offset of every getUpdates
        self.conflicts = 0  # polls ended by a newer one
        self.waiting = 0  # polls waiting now (one a SIGKILL left behind waits out its timeout)
        self.poll_replies: collections.deque[str] = collections.deque()
        self._next_update = 100
        self._next_message = 1
        self._cond = threading.Condition()
        self._generation = 0
        self.mode = self._answer

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write(self, chat_id: int, text: str, username: str = "alice", date: float | None = None) -> int:
        """Someone writes ``text`` in chat ``chat_id``; returns the update's id."""
        with self._cond:
            update_id, self._next_update = self._next_update, self._next_update + 1
            message_id, self._next_message = self._next_message, self._next_message + 1
            update = {"update_id": update_id, "message": {
                "message_id": message_id, "date": int(date or time.time()), "text": text,
                "chat": {"id": chat_id, "type": "private"}, "from": {"id": chat_id, "username": username}}}
            self.updates.append(update)
            self.history[update_id] = update
            self._cond.notify_all()
        return update_id

    def redeliver(self, *update_ids: int) -> None:
        """Serve these updates again, as Telegram does for updates whose offset was never confirmed."""
        with self._cond:
            back = [self.history[i] for i in update_ids if all(u["update_id"] != i for u in self.updates)]
            self.updates = sorted(self.updates + back, key=lambda u: u["update_id"])
            self._cond.notify_all()

    def answers(self, chat_id: int | None = None) -> list[dict]:
        """What the bot sent (to ``chat_id``), in order."""
        with self._cond:
            return [s for s in self.sent if chat_id is None or s["chat_id"] == str(chat_id)]

    def _answer(self, record: dict) -> tuple:
        prefix = f"/bot{self.token}/"
        if not record["path"].startswith(prefix):
            return 404, json.dumps({"ok": False, "error_code": 404, "description": "Not Found"})
        method = record["path"][len(prefix):]
        if method == "getUpdates":
            return self._get_updates(record["json"] or {})
        if method in ("sendMessage", "sendPhoto"):
            fields = record["json"] if method == "sendMessage" else _form(record)
            with self._cond:
                self.sent.append({"method": method, "chat_id": str(fields.get("chat_id")),
                                  "text": fields.get("text") or fields.get("caption") or "",
                                  "photo": len(fields.get("photo") or b""), "reply": fields.get("reply_parameters"),
                                  "time": time.time()})
                message_id, self._next_message = self._next_message, self._next_message + 1
            return 200, json.dumps({"ok": True, "result": {"message_id": message_id}})
        return 400, json.dumps({"ok": False, "error_code": 400, "description": f"Bad Request: no method {method}"})

    def _get_updates(self, body: dict) -> tuple:
        with self._cond:
            if self.poll_replies:
                reply = self.poll_replies.popleft()
                if reply == "429":
                    return 429, json.dumps({"ok": False, "error_code": 429, "description": "Too Many Requests: retry "
                                            "after 1", "parameters": {"retry_after": 1}})
                return 409, json.dumps({"ok": False, "error_code": 409, "description": "Conflict: terminated by "
                                        "other getUpdates request; make sure that only one bot instance is running"})
            offset = body.get("offset")
            if offset is not None:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            self.polls.append(offset)
            self._generation += 1
            mine = self._generation
            self._cond.notify_all()  # a poll still waiting is ended by this one
            deadline = time.monotonic() + float(body.get("timeout") or 0)
            self.waiting += 1
            try:
                while True:
                    if self._generation != mine:
                        self.conflicts += 1
                        return 409, json.dumps({"ok": False, "error_code": 409, "description": "Conflict: terminated "
                                                "by other getUpdates request; make sure that only one bot instance "
                                                "is running"})
                    if self.updates:
                        return 200, json.dumps({"ok": True, "result": list(self.updates)})
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return 200, json.dumps({"ok": True, "result": []})
                    self._cond.wait(min(left, 0.1))
            finally:
                self.waiting -= 1


def _form(record: dict) -> dict:
    """The fields of a multipart/form-data request (sendPhoto)."""
    from email.parser import BytesParser
    from email.policy import HTTP

    content_type = next(v for k, v in record["headers"].items() if k.lower() == "content-type")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + record["body"])
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[name] = payload if name == "photo" else payload.decode()
    if isinstance(fields.get("reply_parameters"), str):
        fields["reply_parameters"] = json.loads(fields["reply_parameters"])
    return fields
