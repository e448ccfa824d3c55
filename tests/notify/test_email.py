"""E-mail: the built message, and real delivery to aiosmtpd on 127.0.0.1 over plain SMTP, STARTTLS and SSL."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.servers import free_port, make_certificate, server_tls
from yolo_hooks.notify.formats.base import DeliveryResult
from yolo_hooks.notify.formats.email import EmailError, build_email, classify_smtp_error, deliver, send_email
from yolo_hooks.notify.message import Message

PASSWORD = "hunter2-very-secret"


class Recorder:
    """Keeps every accepted message; refuses recipients at the ``busy.`` / ``nobody.`` domains like a real server."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.endswith("@busy.example"):
            return "450 4.2.1 Mailbox busy, try later"
        if address.endswith("@nobody.example"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope, session.authenticated))
        return "250 Message accepted"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"trainer" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: the server sends the 235 / 535 reply itself


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, made here (cert path, key path)."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def smtp_server(request, certificate):
    """A real SMTP server on 127.0.0.1; ``request.param`` is the security mode it speaks."""
    mode = getattr(request, "param", "none")
    recorder = Recorder()
    kwargs = dict(authenticator=_authenticator)
    if mode == "none":
        kwargs["auth_require_tls"] = False  # login over plain SMTP, for the test only
    elif mode == "starttls":
        kwargs.update(tls_context=server_tls(certificate), require_starttls=True)
    elif mode == "ssl":
        # aiosmtpd only counts STARTTLS as TLS for AUTH; this connection is TLS from the first byte.
        kwargs.update(ssl_context=server_tls(certificate), auth_require_tls=False)
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    yield controller, recorder
    controller.stop()


def message(**overrides) -> Message:
    values = dict(
        event="train_end",
        severity="critical",
        title="✅ Training finished — train7\r\nBcc: evil@example.com",
        text="10 epochs in 2m 13s.\nBest fitness 0.5123 at epoch 8 <b>.",
        fields={"Best epoch": "8", "Fitness": "0.5123"},
        run={"name": "train7", "host": "gpu01"},
    )
    values.update(overrides)
    return Message(**values)


def test_build_email_is_multipart_plain_and_html():
    msg = message()
    mail = build_email(msg, {"sender": "yolo@lab.example", "to": ["me@lab.example", "you@lab.example"]})
    assert mail["Subject"] == "✅ Training finished — train7 Bcc: evil@example.com"  # one line: no header injection
    assert mail["Bcc"] is None
    assert mail["To"] == "me@lab.example, you@lab.example"
    assert mail["Message-ID"] == f"<{msg.id}@yolo-hooks>" and mail["X-Priority"] == "1"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Best epoch: 8" in plain and "name: train7" in plain and msg.id in plain
    assert "<th align='left'>Fitness</th><td>0.5123</td>" in html and "&lt;b&gt;" in html


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
def test_deliver_gives_a_verdict_and_says_when_the_server_is_down(smtp_server):
    controller, recorder = smtp_server
    options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "security": "none",
               "sender": "yolo@lab.example", "to": ["me@lab.example"]}
    assert deliver(message(), options, timeout=5) == (DeliveryResult(ok=True), None)
    assert len(recorder.messages) == 1
    refused, down = deliver(message(), {**options, "smtp_port": free_port()}, timeout=5)  # nothing listens there
    assert not refused.ok and refused.retry and down == "ConnectionRefusedError"
    rejected, down = deliver(message(), {**options, "to": ["x@nobody.example"]}, timeout=5)
    assert not rejected.ok and not rejected.retry and down is None and "550" in rejected.error


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
def test_send_plain_smtp_with_login(smtp_server):
    controller, recorder = smtp_server
    options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "security": "none", "smtp_user": "trainer",
               "password": PASSWORD, "sender": "yolo@lab.example", "to": "me@lab.example"}
    send_email(build_email(message(), options), options, timeout=5)
    (envelope, authenticated), = recorder.messages
    assert authenticated and envelope.rcpt_tos == ["me@lab.example"] and envelope.mail_from == "yolo@lab.example"
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert received["Subject"].startswith("✅ Training finished")
    assert "Fitness: 0.5123" in received.get_body(("plain",)).get_content()


@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
def test_wrong_password_is_permanent_and_never_quoted(smtp_server):
    controller, recorder = smtp_server
    options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "security": "none", "smtp_user": "trainer",
               "password": "wrong-" + PASSWORD, "sender": "yolo@lab.example", "to": ["me@lab.example"]}
    with pytest.raises(EmailError, match="login refused: SMTP 535") as caught:
        send_email(build_email(message(), options), options, timeout=5)
    assert PASSWORD not in str(caught.value) and caught.value.__cause__ is None
    assert classify_smtp_error(caught.value).retry is False and caught.value.smtp_code == 535
    assert recorder.messages == []


def login_options(port: int, security: str, **extra) -> dict:
    """The options of a user with an account on the server at 127.0.0.1:``port``."""
    return {"smtp_host": "127.0.0.1", "smtp_port": port, "security": security, "smtp_user": "trainer",
            "password": PASSWORD, "sender": "yolo@lab.example", "to": ["me@lab.example"], **extra}


@pytest.mark.parametrize(
    "to,retry,code",
    [(["a@busy.example"], True, "450"), (["a@nobody.example"], False, "550"), (["a@busy.example", "b@nobody.example"], False, "550")],
)
@pytest.mark.parametrize("smtp_server", ["none"], indirect=True)
def test_refused_recipients(smtp_server, to, retry, code):
    controller, _ = smtp_server
    options = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "security": "none", "sender": "y@lab.example", "to": to}
    with pytest.raises(EmailError, match=f"recipients refused .*SMTP {code}") as caught:
        send_email(build_email(message(), options), options, timeout=5)
    assert caught.value.transient is retry and classify_smtp_error(caught.value).retry is retry


@pytest.mark.parametrize("smtp_server", ["starttls"], indirect=True)
def test_send_starttls_with_login_and_a_trusted_private_ca(smtp_server, certificate):
    controller, recorder = smtp_server
    options = login_options(controller.port, "starttls", ca_file=certificate[0])
    send_email(build_email(message(), options), options, timeout=5)
    (envelope, authenticated), = recorder.messages
    assert authenticated and envelope.rcpt_tos == ["me@lab.example"]


@pytest.mark.parametrize("smtp_server", ["starttls"], indirect=True)
def test_starttls_refuses_an_untrusted_certificate(smtp_server):
    controller, recorder = smtp_server
    options = login_options(controller.port, "starttls")
    with pytest.raises(EmailError, match="TLS certificate not trusted") as caught:
        send_email(build_email(message(), options), options, timeout=5)
    assert caught.value.transient is False and PASSWORD not in str(caught.value)
    assert recorder.messages == []


@pytest.mark.parametrize("smtp_server", ["ssl"], indirect=True)
def test_send_implicit_ssl_with_login(smtp_server, certificate):
    controller, recorder = smtp_server
    options = login_options(controller.port, "ssl", ca_file=certificate[0])
    send_email(build_email(message(), options), options, timeout=5)
    assert len(recorder.messages) == 1 and recorder.messages[0][1]


def test_nothing_listening_is_transient():
    options = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "security": "none", "sender": "y@lab.example", "to": ["a@b.example"],
               "password": PASSWORD}
    with pytest.raises(EmailError, match="ConnectionRefusedError") as caught:
        send_email(build_email(message(), options), options, timeout=2)
    assert caught.value.transient is True and PASSWORD not in str(caught.value)


@pytest.mark.parametrize(
    "exc,retry",
    [
        (smtplib.SMTPResponseException(421, b"Service not available"), True),
        (smtplib.SMTPResponseException(452, b"Insufficient storage"), True),
        (smtplib.SMTPResponseException(554, b"Transaction failed"), False),
        (smtplib.SMTPAuthenticationError(535, b"Authentication failed"), False),
        (smtplib.SMTPSenderRefused(553, b"Sender refused", "y@lab.example"), False),
        (smtplib.SMTPDataError(451, b"Local error"), True),
        (smtplib.SMTPConnectError(421, b"Too many connections"), True),
        (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), True),
        (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."), False),
        (TimeoutError("timed out"), True),
        (ConnectionResetError(104, "Connection reset by peer"), True),
        (socket.gaierror(-2, "Name or service not known"), True),
        (ValueError("something else"), False),
    ],
)
def test_classify_smtp_error(exc, retry):
    result = classify_smtp_error(exc)
    assert (result.ok, result.retry) == (False, retry) and result.error


def test_a_server_trickling_its_greeting_is_cut_off_at_the_timeout():
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def trickle() -> None:  # "220 ..." one byte every 0.2 s: any per-read timeout of 1 s is reset forever
        conn, _ = listener.accept()
        with conn:
            for byte in b"220 slow.example ESMTP\r\n" * 10:
                if stop.wait(0.2):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=trickle, daemon=True).start()
    options = {"smtp_host": "127.0.0.1", "smtp_port": listener.getsockname()[1], "security": "none",
               "sender": "a@example.com", "to": ["b@example.com"]}
    start = time.monotonic()
    result, down = deliver(Message("test", "info", "hello"), options, timeout=1)
    took = time.monotonic() - start
    stop.set()
    listener.close()
    assert took < 1.5 and (result.ok, result.retry, down) == (False, True, "TimeoutError")
