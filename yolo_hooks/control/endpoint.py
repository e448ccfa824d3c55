"""The signed control endpoint: ``control: {listen: 127.0.0.1:8765, secret: whsec_...}`` takes Standard-Webhooks-
signed JSON commands over HTTP, so that a Slack or Discord bot, Home Assistant or an ntfy action button behind a
reverse proxy can steer a run.

``POST`` any path with a body such as ``{"command": "stop", "reason": "diverging"}`` and the Standard Webhooks
headers (:mod:`.signed`). Answers (JSON ``{"id", "result", "text"}``):

======  ==========================================================================================================
200     done (``status`` answers at once with the run's status)
202     accepted, not finished yet (``save``: the copies are being verified), or the run did not decide within 10 s
        (it is validating); the result goes to ``control.jsonl``
409     refused by the run (the text says why), or a replayed ``webhook-id``
400     headers missing, a timestamp that is not a number, a body that is not JSON
401     wrong signature, or a timestamp more than 5 minutes off
411     no Content-Length; 413: a body over ``max_body`` bytes (not read)
422     not a command: an unknown command, an unknown field, a bad value
405     not a POST
======  ==========================================================================================================

A rejected request is logged (the first of each kind, then at 10, 100... of them) and changes nothing. The server
listens on loopback only, unless ``allow_remote: true`` says otherwise (then securing the network path, TLS
included, is the user's responsibility). It runs on rank 0, on one background thread, from the start of training to
its end.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from ..core.hook import LOG_REPEATS_AT
from ..core.worker import BackgroundWorker
from .commands import Command, CommandError, from_request
from .options import Endpoint
from .signed import TOLERANCE, Rejection, verify

ANSWER_WAIT = 10.0  # seconds a request waits for the run's decision
READ_TIMEOUT = 10.0  # seconds a client may take to send its request


class Waiter:
    """A request waiting for the run's decision on its command."""

    def __init__(self):
        self.done = threading.Event()
        self.record: dict[str, Any] | None = None

    def set(self, record: dict[str, Any]) -> None:
        self.record = record
        self.done.set()


class ControlServer:
    """The HTTP server of one :class:`Endpoint`.

    Args:
        endpoint: where and how.
        submit: hands a verified command to the run; returns the :class:`Waiter` its answer arrives on.
        status: the run's status as (text, data), for ``status`` (read from the run folder).
        taken: whether the run already took a command id (a replay after a restart is still a replay).
        log: the control hook's log.
    """

    def __init__(self, endpoint: Endpoint, submit: Callable[[Command], Waiter],
                 status: Callable[[Command], tuple[str, dict]], taken: Callable[[str], bool],
                 log: Callable[..., None]):
        self.endpoint, self.submit, self.status, self.taken, self.log = endpoint, submit, status, taken, log
        self.rejected: dict[str, int] = {}
        self._seen: dict[str, float] = {}  # webhook-id -> when it was taken (forgotten after twice the tolerance)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._worker: BackgroundWorker | None = None

    @property
    def address(self) -> str:
        """``host:port`` it listens on (the real port when ``listen`` asked for port 0)."""
        return self.endpoint._replace(port=self.port).address

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server is not None else self.endpoint.port

    def bind(self) -> None:
        """Take the port now (raises OSError when it is in use)."""
        family = ThreadingHTTPServer
        if ":" in self.endpoint.host:
            import socket

            family = type("ThreadingHTTPServer6", (ThreadingHTTPServer,), {"address_family": socket.AF_INET6})
        self._server = family((self.endpoint.host, self.endpoint.port), _handler(self), bind_and_activate=True)
        self._server.daemon_threads = True

    def serve(self) -> None:
        """Answer requests on a background thread until :meth:`stop`."""
        if self._server is None:
            self.bind()
        self._worker = BackgroundWorker("control-http", linger=None, settle=0)
        self._worker.submit(lambda: self._server.serve_forever(poll_interval=0.2))

    def stop(self, timeout: float) -> None:
        if self._server is not None:
            if self._worker is not None:
                self._server.shutdown()
            self._server.server_close()
        if self._worker is not None:
            self._worker.close()
            self._worker.join(timeout)

    # --- one request --------------------------------------------------------------------------------------------
    def seen(self, msg_id: str) -> bool:
        with self._lock:
            now = time.time()
            for old in [k for k, t in self._seen.items() if now - t > 2 * TOLERANCE]:
                del self._seen[old]
            return msg_id in self._seen or self.taken(msg_id)

    class _Seen:
        def __init__(self, server: ControlServer):
            self.server = server

        def __contains__(self, msg_id: object) -> bool:
            return self.server.seen(str(msg_id))

    def handle(self, headers: dict[str, str], body: bytes, client: str) -> tuple[int, dict[str, Any]]:
        """The status and JSON answer of one request with a body that was read whole."""
        now = time.time()
        rejection = verify(headers, body, self.endpoint.secret, now, self._Seen(self))
        if rejection is not None:
            return self.reject(rejection, client)
        from ..notify.formats.base import header

        msg_id = header(headers, "webhook-id") or ""
        with self._lock:
            self._seen[msg_id] = now
        try:
            parsed = json.loads(body)
        except ValueError:
            return self.reject(Rejection(400, "the body is not JSON"), client)
        try:
            command = from_request(parsed, id=f"http:{msg_id}", source="http", sender=f"http {client}",
                                   time=float(header(headers, "webhook-timestamp") or now))
        except CommandError as e:
            return self.reject(Rejection(422, str(e)), client)
        if command.name == "status":
            text, data = self.status(command)
            return 200, {"id": command.id, "result": "done", "text": text, "status": data}
        waiter = self.submit(command)
        if not waiter.done.wait(ANSWER_WAIT) or waiter.record is None:
            return 202, {"id": command.id, "result": "queued", "text": "the run takes it at its next batch or epoch "
                                                                          "end; the result goes to control.jsonl"}
        record = waiter.record
        status = {"done": 200, "refused": 409, "accepted": 202}.get(record.get("result"), 500)
        return status, {"id": command.id, "result": record.get("result"), "text": record.get("text")}

    def reject(self, rejection: Rejection, client: str) -> tuple[int, dict[str, Any]]:
        """Log the first rejection of each kind (then at 10, 100...), and answer it."""
        kind = rejection.reason.split(" (")[0]
        with self._lock:
            count = self.rejected[kind] = self.rejected.get(kind, 0) + 1
        if count == 1 or count in LOG_REPEATS_AT:
            times = f" ({count} so far)" if count > 1 else ""
            self.log(f"rejected a control request from {client}: {rejection.reason} (HTTP {rejection.status}){times}; "
                     "nothing applied", "warning")
        return rejection.status, {"result": "rejected", "text": rejection.reason}


def _handler(server: ControlServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = READ_TIMEOUT  # a client that stops sending cannot hold a thread for long

        def do_POST(self):  # noqa: N802 (http.server's naming)
            client = self.client_address[0]
            length = self.headers.get("Content-Length")
            if length is None:
                self._send(*server.reject(Rejection(411, "no Content-Length"), client), close=True)
                return
            if not length.isdigit():
                self._send(*server.reject(Rejection(400, "a Content-Length that is not a number"), client), close=True)
                return
            if int(length) > server.endpoint.max_body:
                rejection = Rejection(413, f"a body of {int(length)} bytes (at most {server.endpoint.max_body})")
                self._send(*server.reject(rejection, client), close=True)  # never read
                return
            body = self.rfile.read(int(length))
            self._send(*server.handle(dict(self.headers), body, client))

        def do_GET(self):  # noqa: N802
            self._send(405, {"result": "rejected", "text": "POST a signed JSON command"}, allow=True)

        do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET  # noqa: N815

        def _send(self, status: int, answer: dict[str, Any], close: bool = False, allow: bool = False) -> None:
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if allow:
                self.send_header("Allow", "POST")
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        def log_message(self, *args):  # the hook logs what matters
            pass

    return Handler
