"""A webhook receiver on loopback: for trying a config locally, the demo, the drill, the benchmarks and the tests.

It records every request, prints a one-line summary of each message, and can play the endpoints a sender meets in
the wild, misbehaving as a real server does (on a real socket, nothing mocked). A reply is one of :data:`REPLIES`
or any HTTP status as a string (``"503"``), or a function of the recorded request that returns ``(status, body)``
or ``(status, body, headers)``. The receiver answers each request with the next reply of its ``script``, then round
its ``cycle``, then with its ``mode``.

Examples:
    >>> with WebhookReceiver() as receiver:            # listens on 127.0.0.1, a free port
    ...     url = receiver.url                          # give this to `notify: [{format: json, url: ...}]`
    ...     receiver.set_mode("429", retry_after=1)     # every request: 429 with Retry-After: 1
    ...     receiver.script("500", "close")             # the next two requests: a 500, then a hang-up
    ...     receiver.stop()                             # down: connection refused
    ...     _ = receiver.start()                        # back up, same port
    ...     receiver.heal()                             # a healthy endpoint again
    ...     unique = receiver.unique_ids()              # ids delivered, duplicates dropped
"""

from __future__ import annotations

import collections
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union

REPLIES = {
    "ok": "200",
    "slow": "200 after `delay` seconds",
    "hangup": "200, then close the kept-alive connection without saying so (as a server's idle timeout does)",
    "huge": "200 with a `huge_bytes` body (`bytes_sent` counts what the client really read)",
    "close": "read the request, then hang up without a reply",
    "drop": "take the message, then hang up: the sender cannot know it arrived (the at-least-once case)",
    "reset": "read the request, then reset the connection (RST)",
    "never": "take the request and never answer (until `heal()` or `stop()`; 120 s at most)",
    "trickle_headers": "200, its status line and headers one byte every `trickle` seconds (then the body)",
    "trickle_body": "200, headers at once, then the body one byte every `trickle` seconds",
    "reset_mid_reply": "begin a 200 (status line, part of the headers), then reset the connection (RST)",
    "no_length": "200 with a body but no Content-Length, then keep the connection open (the end is never said)",
}
# Besides these: any status as a string; "429" and "503" carry Retry-After: `retry_after` (seconds, or a string such
# as an HTTP date), a 3xx Location: `location`. The slow replies (trickles, no_length) end at `heal()` or `stop()`.

Answer = Callable[[dict], tuple]  # the recorded request -> (status, body) or (status, body, headers)
Reply = Union[str, Answer]
_HUNG_UP = ("close", "drop", "reset", "never", "reset_mid_reply")  # replies that send no whole HTTP answer
_RAW = ("trickle_headers", "trickle_body", "no_length")  # a 200 written byte by byte, or never ended


def _status_of(reply: str) -> int | None:
    if reply in _HUNG_UP:
        return None
    if reply in REPLIES:
        return 200
    return int(reply)


def check_reply(reply: Reply) -> Reply:
    """``reply`` if the receiver can play it, else a ValueError that lists what it can."""
    if callable(reply) or reply in REPLIES or (isinstance(reply, str) and reply.isdigit() and 100 <= int(reply) < 600):
        return reply
    raise ValueError(f"a reply must be one of {', '.join(REPLIES)}, an HTTP status such as '503', or a function; "
                     f"got {reply!r}")


class WebhookReceiver:
    """Threaded HTTP/1.1 server on 127.0.0.1 that records requests and answers as its script, cycle and mode say.

    Args:
        port: the port (0: a free one, kept across :meth:`stop` / :meth:`start`).
        quiet: no request log lines on stderr.
        echo: called with a one-line summary of every JSON message answered 200 (``print`` for the CLI).
        path: the URL path :attr:`url` gives (any path is answered).
        tls: a server-side ``ssl.SSLContext``: HTTPS.

    Each request is recorded in :attr:`requests` as it arrives: ``time``, ``path`` (with the query), ``headers``,
    ``body``, ``json`` (None if not JSON), ``client_port``, ``reply`` (the reply's name, ``answer`` for a function),
    ``status`` (None for a hang-up) and ``answered`` (set once the answer is being written).
    """

    def __init__(self, port: int = 0, quiet: bool = True, echo: Callable[[str], None] | None = None, *,
                 path: str = "/hook", tls: ssl.SSLContext | None = None):
        self.port, self.quiet, self.echo, self.path, self.tls = port, quiet, echo, path, tls
        self.requests: list[dict[str, Any]] = []
        self._mode: Reply = "ok"
        self.delay, self.retry_after, self.trickle = 5.0, 1.0, 1.0
        self.location = "http://127.0.0.1:9/elsewhere"  # where a 3xx points
        self.huge_bytes, self.bytes_sent = 50 * 1024 * 1024, 0
        self._script: collections.deque[Reply] = collections.deque()
        self._cycle: list[Reply] = []
        self._cycle_next = 0
        self._release = threading.Event()  # ends the requests held by `never`
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()  # kept alive between requests, as real services do

    @property
    def url(self) -> str:
        """The receiver's URL (valid while it is up, and again after a restart)."""
        return self.url_for(self.path)

    def url_for(self, path: str) -> str:
        """The URL of ``path`` on this receiver."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    @property
    def mode(self) -> Reply:
        """How requests are answered once the script and the cycle are used up."""
        return self._mode

    @mode.setter
    def mode(self, reply: Reply) -> None:
        self._mode = check_reply(reply)

    def set_mode(self, mode: Reply, *, delay: float = 5.0, retry_after: float | str = 1.0,
                 trickle: float = 1.0) -> None:
        """Answer every request with ``mode`` (``slow``: after ``delay`` s; ``429``: with Retry-After; a trickle:
        one byte every ``trickle`` s)."""
        self.mode, self.delay, self.retry_after, self.trickle = mode, delay, retry_after, trickle

    def script(self, *replies: Reply) -> WebhookReceiver:
        """Answer the next requests with ``replies`` in order (then as the cycle or the mode says)."""
        checked = [check_reply(r) for r in replies]
        with self._lock:
            self._script.extend(checked)
        return self

    def cycle(self, *replies: Reply) -> WebhookReceiver:
        """Answer requests with ``replies`` round and round (after the script)."""
        checked = [check_reply(r) for r in replies]
        with self._lock:
            self._cycle, self._cycle_next = checked, 0
        return self

    def heal(self) -> None:
        """A healthy endpoint again: script and cycle dropped, mode ``ok``, requests held by ``never`` let go."""
        with self._lock:
            self._script.clear()
            self._cycle = []
        self._mode = "ok"
        self._release.set()

    def _next_reply(self) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._cycle:
                self._cycle_next += 1
                return self._cycle[(self._cycle_next - 1) % len(self._cycle)]
            return self._mode

    def start(self) -> WebhookReceiver:
        """Listen (again) on the same port."""
        self._server = _Server(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        self._release.clear()
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="webhook-receiver",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: senders get 'connection refused' until :meth:`start`."""
        self._release.set()  # requests held by `never` end too
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:  # a kept-alive connection must not go on answering: down means down
            connections, self._connections = list(self._connections), set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def delivered(self) -> list[dict[str, Any]]:
        """JSON bodies of requests answered with a 2xx."""
        with self._lock:
            return [r["json"] for r in self.requests if r["answered"] and _ok(r["status"]) and r["json"] is not None]

    def received(self) -> list[dict[str, Any]]:
        """JSON bodies the receiver took: answered (or being answered) with a 2xx, or taken and ``drop``-ped."""
        with self._lock:
            return [r["json"] for r in self.requests if (_ok(r["status"]) or r["reply"] == "drop") and r["json"]]

    def ids(self) -> list[str | None]:
        """Ids of the messages received, duplicates included (the ``json`` format's ``id``)."""
        return [m.get("id") if isinstance(m, dict) else None for m in self.received()]

    def unique_ids(self) -> set[str]:
        """Ids of delivered messages, duplicates of an at-least-once delivery dropped."""
        return {m.get("id") for m in self.delivered() if isinstance(m, dict) and m.get("id")}

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until ``count`` distinct messages were received; returns the received bodies."""
        deadline = time.monotonic() + timeout
        while len(set(self.ids())) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        """A sender that hung up before its answer (a client's timeout, a test's cut connection) is not an error."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: a sender reuses its connection, as with a real service
        disable_nagle_algorithm = True  # the reply's headers and body go as two writes: without this the body
        # waits for the client's delayed ACK (40 ms a message on Linux), which a real service does not make wait

        def setup(self):
            super().setup()
            with receiver._lock:
                receiver._connections.add(self.connection)

        def finish(self):
            with receiver._lock:
                receiver._connections.discard(self.connection)
            super().finish()

        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = receiver._next_reply()
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            record = {"time": time.time(), "path": self.path, "headers": dict(self.headers), "body": body,
                      "json": parsed, "client_port": self.client_address[1],
                      "reply": "answer" if callable(reply) else reply, "status": None, "answered": False}
            headers: dict[str, str] = {}
            if callable(reply):
                status, payload, *extra = reply(record)
                headers = dict(extra[0]) if extra else {}
                payload = payload.encode() if isinstance(payload, str) else payload
            else:
                status = _status_of(reply)
                payload = b'{"ok": true}' if _ok(status) else b'{"ok": false, "error": "%s"}' % _phrase(status)
            record["status"] = status
            with receiver._lock:
                receiver.requests.append(record)
            if reply in _HUNG_UP:
                self._hang_up(reply)
                return
            if reply == "slow":
                time.sleep(receiver.delay)
            record["answered"] = True
            if reply in _RAW:
                self._answer_raw(reply, payload)
                return
            if reply == "huge":
                self._send_huge()
                return
            self._echo(status, parsed)
            self._answer(status, payload, headers)
            if reply == "hangup":
                self.close_connection = True

        def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            if status in (429, 503):
                wait = receiver.retry_after
                self.send_header("Retry-After", wait if isinstance(wait, str) else f"{wait:g}")
            if 300 <= status < 400:
                self.send_header("Location", receiver.location)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _answer_raw(self, reply: str, payload: bytes) -> None:
            """A 200 written by hand: trickled byte by byte, or without the Content-Length that says where it ends."""
            self.close_connection = True
            length = "" if reply == "no_length" else f"Content-Length: {len(payload)}\r\n"
            head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode()
            try:
                if reply == "trickle_headers":
                    self._trickle(head + payload)
                elif reply == "trickle_body":
                    self.wfile.write(head)
                    self._trickle(payload)
                else:
                    self.wfile.write(head + payload)
                    receiver._release.wait(120)  # the body never ends: the client cannot tell it is all there
            except OSError:  # the sender gave up and closed: what a careful sender does
                pass

        def _trickle(self, data: bytes) -> None:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                if receiver._release.wait(receiver.trickle):  # healed or stopped: the rest at once
                    self.wfile.write(data[i + 1:])
                    return

        def _hang_up(self, reply: str) -> None:
            self.close_connection = True
            if reply == "never":
                receiver._release.wait(120)
            elif reply == "reset_mid_reply":  # a reply begun, then RST (linger 0)
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: appli")
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            elif reply == "reset":  # linger 0: close() sends RST, not FIN
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)

        def _send_huge(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(receiver.huge_bytes))
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(receiver.huge_bytes // len(chunk)):
                    self.wfile.write(chunk)
                    receiver.bytes_sent += len(chunk)
            except OSError:  # the client stopped reading and closed: what a careful sender does
                self.close_connection = True

        def _echo(self, status: int, message: Any) -> None:
            if receiver.echo and status == 200 and isinstance(message, dict):
                title = message.get("title") or message.get("text", "")
                receiver.echo(f"[receiver] {message.get('event', '?'):>15}  {title}")

        def log_message(self, *args):  # keep test and demo output clean
            if not receiver.quiet:
                super().log_message(*args)

    return Handler


def _phrase(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b"error"
