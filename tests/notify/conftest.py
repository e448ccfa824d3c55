"""Real HTTP endpoints on 127.0.0.1 for the notification tests: they record requests and answer as scripted.

``endpoint`` answers each request from its script (``endpoint.script("429", "500", "ok")``), then from its
``mode``: ``ok`` (200), ``429`` (with ``Retry-After``), ``500``, ``400``, ``slow`` (200 after ``delay`` s),
``close`` (accept, then hang up without a reply), ``hangup`` (200,
then close the kept-alive connection without saying so, as a server's idle timeout does), ``drop`` (take the message, then hang up: the sender cannot
know it arrived, so it sends it again — the at-least-once case receivers dedup by id), ``302`` (a redirect to
``location``), ``410`` (gone), ``huge`` (200 with a ``huge_bytes`` body; ``bytes_sent`` counts what the client
really read) and ``never`` (take the request, never answer). ``dead_url`` is a port with nothing listening
(connection refused).
"""

from __future__ import annotations

import collections
import json
import socket
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

MODES = ("ok", "429", "500", "400", "slow", "close", "hangup", "drop", "302", "410", "huge", "never")


class Endpoint:
    """A threaded HTTP/1.1 (keep-alive) server on loopback."""

    def __init__(self, port: int = 0, tls: ssl.SSLContext | None = None):
        self.port, self.tls = port, tls  # with a server-side TLS context: HTTPS
        self.requests: list[dict[str, Any]] = []
        self.mode, self.delay, self.retry_after = "ok", 5.0, 1.0
        self.location = "http://127.0.0.1:9/elsewhere"
        self.huge_bytes = 50 * 1024 * 1024
        self.bytes_sent = 0
        self._stopped = threading.Event()
        self._script: collections.deque[str] = collections.deque()
        self._cycle: list[str] = []
        self._cycle_i = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/hook/TOKEN-s3cr3t-0123456789"

    def script(self, *replies: str) -> Endpoint:
        """Answer the next requests with ``replies`` in order (then with ``mode``)."""
        assert all(r in MODES for r in replies)
        self._script.extend(replies)
        return self

    def cycle(self, *replies: str) -> Endpoint:
        """Answer requests with ``replies`` round and round (after the script)."""
        assert all(r in MODES for r in replies)
        self._cycle = list(replies)
        return self

    def _next_reply(self) -> str:
        with self._lock:
            if self._script:
                return self._script.popleft()
            if self._cycle:
                self._cycle_i += 1
                return self._cycle[(self._cycle_i - 1) % len(self._cycle)]
            return self.mode

    def start(self) -> Endpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is observable
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                reply = endpoint._next_reply()
                try:
                    parsed = json.loads(body)
                except ValueError:
                    parsed = None
                record = {"time": time.time(), "reply": reply, "path": self.path, "headers": dict(self.headers),
                          "body": body, "json": parsed, "client_port": self.client_address[1]}
                with endpoint._lock:
                    endpoint.requests.append(record)
                if reply in ("close", "drop"):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply == "slow":
                    time.sleep(endpoint.delay)
                if reply == "never":
                    endpoint._stopped.wait(120)
                    self.close_connection = True
                    return
                if reply == "huge":
                    self._send_huge()
                    return
                status = {"ok": 200, "hangup": 200, "slow": 200, "429": 429, "500": 500, "400": 400, "302": 302, "410": 410}[reply]
                payload = b'{"ok": true}' if status == 200 else b'{"ok": false, "error": "scripted"}'
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", f"{endpoint.retry_after:g}")
                if status == 302:
                    self.send_header("Location", endpoint.location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                if reply == "hangup":
                    self.close_connection = True

            def _send_huge(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(endpoint.huge_bytes))
                self.end_headers()
                chunk = b" " * 65536
                try:
                    for _ in range(endpoint.huge_bytes // len(chunk)):
                        self.wfile.write(chunk)
                        endpoint.bytes_sent += len(chunk)
                except OSError:  # the client stopped reading and closed: what we want
                    self.close_connection = True

            def log_message(self, *args):
                pass

        self._stopped.clear()
        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()  # requests held by `never` end too
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def received(self) -> list[dict[str, Any]]:
        """JSON bodies of requests that reached the receiver's handling (answered 200, or taken and dropped)."""
        with self._lock:
            return [r["json"] for r in self.requests if r["reply"] in ("ok", "hangup", "slow", "drop", "huge") and r["json"]]

    def ids(self) -> list[str]:
        """Message ids received, duplicates included (the ``json`` format's ``id``)."""
        return [m["id"] for m in self.received()]

    def wait_for(self, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Wait until ``count`` distinct messages arrived; returns the received bodies."""
        deadline = time.monotonic() + timeout
        while len(set(self.ids())) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received()


@pytest.fixture
def endpoint():
    server = Endpoint().start()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_url() -> str:
    """A URL on a loopback port where nothing listens: every request is refused."""
    return f"http://127.0.0.1:{free_port()}/hook/TOKEN-dead-0123456789"


def time_callbacks(model, hook) -> dict[str, list[float]]:
    """Wrap ``hook``'s registered callbacks on ``model``; returns event -> seconds spent on the calling thread."""
    from yolo_hooks.core.hook import GuardedCallback

    spent: dict[str, list[float]] = collections.defaultdict(list)

    def timed(callback):
        def call(obj):
            start = time.perf_counter()
            try:
                return callback(obj)
            finally:
                spent[callback.event].append(time.perf_counter() - start)

        return call

    for event, callbacks in model.callbacks.items():
        model.callbacks[event] = [
            timed(cb) if isinstance(cb, GuardedCallback) and cb.hook is hook else cb for cb in callbacks
        ]
    return spent
