"""``email``: one multipart message (plain text + simple HTML) over SMTP with STARTTLS, SSL or neither.

A format that delivers itself: :func:`deliver` builds the mail (the image inline when the message has one) and
sends it; the delivery worker calls it as it sends the other formats' HTTP requests (same retries, outbox, journal).

Options (:data:`OPTIONS`): ``smtp_host``, ``smtp_port`` (default 587 for ``starttls``, 465 for ``ssl``, 25 for
``none``), ``security``, ``smtp_user`` / ``password`` (login when given), ``sender``, ``to`` (a list, or one
address), ``ca_file`` (a CA bundle for a server with a private certificate; certificate and host-name verification
always stay on).

Errors: :func:`send_email` raises :class:`EmailError` whose text never contains the password;
:func:`classify_smtp_error` says whether to retry (4xx replies and connection problems) or not (5xx replies,
a refused login, a certificate that does not verify).
"""

from __future__ import annotations

import email.utils
import html
import smtplib
import ssl
from email.message import EmailMessage
from typing import Any, Mapping

from ...core.deadline import Deadline
from ...core.redact import scrub
from ...core.timed_socket import TimedSocket
from ..message import Message
from .base import OK, DeliveryResult, Image
from .render import PLAIN, heading, render_message, truncate
from .schema import Option

SECURITY = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
OPTIONS = (
    Option("smtp_host", "text", required=True, example="smtp.example.com", help="the SMTP server"),
    Option("smtp_port", "port", help="default: 587 for starttls, 465 for ssl, 25 for none"),
    Option("security", "choice", default="starttls", choices=SECURITY, help="how the connection is encrypted"),
    Option("smtp_user", "text", help="the login, when the server wants one"),
    Option("password", "text", secret=True, example="${SMTP_PASSWORD}", help="the login's password"),
    Option("sender", "text", required=True, example="trainer@example.com", help="the From address"),
    Option("to", "emails", required=True, example="oncall@example.com", help="one address or a list of them"),
    Option("ca_file", "path", help="a CA bundle for a server with a private certificate (verification stays on)"),
)
IMAGES = True  # an image goes inline in the HTML part
SUBJECT_LIMIT = 200
BODY_LIMIT = 100_000


def identity(options: Mapping[str, Any]) -> tuple[str, str]:
    """Destinations differ by recipients; shown with the server. ``to`` is joined as written, not through
    :func:`recipients`: the key is hashed from it, and outbox lines written earlier must keep matching."""
    to = options.get("to") or []
    raw = ",".join([to] if isinstance(to, str) else to)
    return raw, f"smtp://{options.get('smtp_host')} to {raw}"


class EmailError(Exception):
    """Sending failed. ``smtp_code`` is the server's reply code when there was one, ``transient`` the verdict."""

    def __init__(self, text: str, smtp_code: int | None = None, transient: bool = False):
        super().__init__(text)
        self.smtp_code = smtp_code
        self.transient = transient


def recipients(options: Mapping) -> list[str]:
    """``options["to"]`` as a list (a single address or a comma-separated string is accepted)."""
    to = options.get("to") or []
    if isinstance(to, str):
        to = [part for part in (p.strip() for p in to.split(",")) if part]
    return [str(t) for t in to]


def _one_line(text: str) -> str:
    return " ".join(text.split())  # no CR/LF: a header can never be split or injected


def plain_body(message: Message) -> str:
    """The text/plain part: title, text, facts and the run."""
    lines = [render_message(message, PLAIN, BODY_LIMIT)]
    if message.run:
        lines += ["", "Run:"] + [f"  {key}: {value}" for key, value in message.run.items()]
    lines += ["", f"Message id: {message.id}"]
    return "\n".join(lines) + "\n"


def html_body(message: Message) -> str:
    """The text/html part: the same content, escaped, with the facts in a table."""
    esc = html.escape
    rows = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in message.fields.items())
    run = "".join(f"<tr><th align='left'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in message.run.items())
    text = esc(truncate(message.text.strip(), BODY_LIMIT)).replace("\n", "<br>")
    parts = [f"<h2>{esc(message.title)}</h2>"]
    if text:
        parts.append(f"<p>{text}</p>")
    if rows:
        parts.append(f"<table cellpadding='4'>{rows}</table>")
    if run:
        parts.append(f"<p style='font-size:small'>Run</p><table cellpadding='2' style='font-size:small'>{run}</table>")
    parts.append(f"<p style='font-size:small'>Message id: {esc(message.id)}</p>")
    return "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"


def deliver(
    message: Message, options: Mapping, timeout: float, image: Image | None = None
) -> tuple[DeliveryResult, str | None]:
    """Build the e-mail for ``message`` (with ``image`` inline) and send it: the verdict, and why the server is known
    down (refused the connection, timed out) or None. Never raises: every failure is a verdict."""
    try:
        send_email(build_email(message, options, image), options, timeout)
    except Exception as e:  # the classifier decides: 4xx SMTP transient, 5xx permanent, network transient
        return classify_smtp_error(e), _down(e)
    return OK, None


def _down(error: BaseException) -> str | None:
    """``ConnectionRefusedError`` / ``TimeoutError`` when one is behind ``error`` (send_email and smtplib keep the
    socket's error as the context of theirs): the server is known down."""
    seen = 0
    while error is not None and seen < 4:
        if isinstance(error, (ConnectionRefusedError, TimeoutError)):
            return type(error).__name__
        error, seen = error.__context__, seen + 1
    return None


def build_email(message: Message, options: Mapping, image: Image | None = None) -> EmailMessage:
    """The e-mail for ``message``: subject from the title, plain text and HTML alternatives (``image`` inline)."""
    if image is not None:
        return _with_image(message, options, image)
    mail = EmailMessage()
    mail["Subject"] = truncate(_one_line(heading(message)), SUBJECT_LIMIT)
    mail["From"] = _one_line(str(options["sender"]))
    mail["To"] = ", ".join(_one_line(t) for t in recipients(options))
    mail["Date"] = email.utils.formatdate(message.time, localtime=True)
    # The message id is the idempotency key: a resent copy has the same Message-ID, mail clients thread or drop it.
    mail["Message-ID"] = f"<{message.id}@yolo-hooks>"
    mail["X-Yolo-Hooks-Event"] = message.event
    mail["X-Yolo-Hooks-Severity"] = message.severity
    if message.severity == "critical":
        mail["X-Priority"] = "1"
    mail.set_content(plain_body(message))
    mail.add_alternative(html_body(message), subtype="html")
    return mail


def _tls_context(options: Mapping) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=options.get("ca_file") or None)


def send_email(msg: EmailMessage, options: Mapping, timeout: float = 10.0) -> None:
    """Send ``msg`` through ``options["smtp_host"]``.

    Raises:
        EmailError: whatever went wrong (refused login, refused recipient, connection, TLS), without the password.
    """
    security = str(options.get("security") or "starttls").lower()
    if security not in SECURITY:
        raise EmailError(f"email: `security` must be one of {', '.join(SECURITY)}, got {security!r}")
    host = str(options["smtp_host"])
    port = int(options.get("smtp_port") or DEFAULT_PORTS[security])
    user, password = options.get("smtp_user"), options.get("password")
    deadline = Deadline(timeout)  # the whole session: a server trickling its replies is cut off at `timeout`
    try:
        if security == "ssl":
            client = _SMTPSSL(host, port, timeout=timeout, context=_tls_context(options), deadline=deadline)
        else:
            client = _SMTP(host, port, timeout=timeout, deadline=deadline)
        with client:
            if security == "starttls":
                client.starttls(context=_tls_context(options))
            if user:
                client.login(str(user), str(password or ""))
            refused = client.send_message(msg, to_addrs=recipients(options) or None)
        if refused:  # some recipients accepted, some refused: report, do not resend to the ones that got it
            raise smtplib.SMTPRecipientsRefused(refused)
    except (smtplib.SMTPException, OSError) as exc:
        verdict = classify_smtp_error(exc)
        text = scrub(f"email via {host}:{port}: {verdict.error}", [str(password or "")])
        raise EmailError(text, getattr(exc, "smtp_code", None), verdict.retry) from None


class _Timed:
    """An SMTP session whose every send and receive ends by one deadline (:mod:`yolo_hooks.core.timed_socket`)."""

    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any):
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return TimedSocket(super()._get_socket(host, port, self.deadline.left()), self.deadline)

    def starttls(self, *args: Any, **kwargs: Any):
        self.sock = self.sock.raw  # TLS wraps the real socket; the TLS socket then gets the deadline in turn
        try:
            return super().starttls(*args, **kwargs)
        finally:
            if self.sock is not None and not isinstance(self.sock, TimedSocket):
                self.sock = TimedSocket(self.sock, self.deadline)


class _SMTP(_Timed, smtplib.SMTP):
    pass


class _SMTPSSL(_Timed, smtplib.SMTP_SSL):
    pass


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"SMTP {code} {' '.join(str(text).split())}".strip()


def classify_smtp_error(exc: BaseException) -> DeliveryResult:
    """Whether an SMTP failure is worth retrying.

    4xx replies (greylisting, mailbox busy, too many connections) and connection problems are transient; 5xx
    replies (refused login, unknown recipient, message rejected) and certificates that fail verification are
    permanent: retrying them only repeats the failure.
    """
    if isinstance(exc, EmailError):
        return DeliveryResult(ok=False, retry=exc.transient, error=str(exc))
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()] or [550]
        transient = all(400 <= int(code) < 500 for code in codes)
        details = "; ".join(f"{addr}: {_reply(code, text)}" for addr, (code, text) in exc.recipients.items())
        return DeliveryResult(ok=False, retry=transient, error=f"recipients refused ({details})")
    if isinstance(exc, smtplib.SMTPConnectError):  # the server greeted with an error: treat like a refused connection
        return DeliveryResult(ok=False, retry=True, error=f"connection refused by server: {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        transient = 400 <= int(exc.smtp_code) < 500
        what = "login refused" if isinstance(exc, smtplib.SMTPAuthenticationError) else "server refused"
        return DeliveryResult(ok=False, retry=transient, error=f"{what}: {_reply(exc.smtp_code, exc.smtp_error)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryResult(ok=False, retry=False, error=f"server does not support it: {exc}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryResult(ok=False, retry=True, error=f"server disconnected: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryResult(ok=False, retry=False, error=f"TLS certificate not trusted: {exc.verify_message or exc}")
    if isinstance(exc, (OSError, smtplib.SMTPException)):  # refused, reset, timeout, DNS, TLS handshake
        return DeliveryResult(ok=False, retry=True, error=f"{type(exc).__name__}: {exc}")
    return DeliveryResult(ok=False, retry=False, error=f"{type(exc).__name__}: {exc}")


# --- messages with an image (additive: text-only messages above are unchanged) -----------------------------------
def _with_image(message: Message, options: Mapping, image: Image) -> EmailMessage:
    """The same e-mail, with the image inline in the HTML part (``multipart/related``, ``cid:``) below the text."""
    filename = image.filename
    mail = EmailMessage()
    for key, value in build_email(message, options).items():
        if not key.lower().startswith(("content-", "mime-version")):
            mail[key] = value
    cid = email.utils.make_msgid(idstring="image", domain="yolo-hooks")
    mail.set_content(plain_body(message) + f"\n(image attached: {filename})\n")
    img = f"<p><img src='cid:{cid[1:-1]}' alt='{html.escape(filename)}' style='max-width:100%'></p>"
    mail.add_alternative(html_body(message).replace("</h2>", "</h2>" + img, 1), subtype="html")
    maintype, subtype = image.content_type.split("/", 1)
    mail.get_payload()[1].add_related(image.data, maintype, subtype, cid=cid, filename=filename, disposition="inline")
    return mail
