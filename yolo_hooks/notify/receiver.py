"""A webhook receiver on loopback, for trying a config locally, for the demo, the drill and the benchmarks.

It records every JSON request it receives, prints a one-line summary, and can play a bad endpoint: ``down``
(really not listening: connection refused), ``slow`` (answers after ``delay`` seconds), ``429`` (answers
``429 Too Many Requests`` with ``Retry-After``) or ``500``.

Examples:
    >>> with WebhookReceiver() as receiver:            # listens on 127.0.0.1, a free port
    ...     url = receiver.url                          # give this to `notify: [{format: json, url: ...}]`
    ...     receiver.set_mode("429", retry_after=1)
    ...     receiver.stop()                             # down: connection refused
    ...     _ = receiver.start()                        # back up, same port
    ...     unique = receiver.unique_ids()              # ids received, duplicates dropped
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class WebhookReceiver:
    """Threaded HTTP server on 127.0.0.1 that records requests and answers as its ``mode`` says."""

    def __init__(self, port: int = 0, quiet: bool = True, echo: Callable[[str], None] | None = None):
        self.port = port
        self.quiet = quiet
        self.echo = echo
        self.requests: list[dict[str, Any]] = []
        self.mode, self.delay, self.retry_after = "ok", 0.0, 1.0
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()  # kept alive between requests, as real services do

    @property
    def url(self) -> str:
        """The receiver's URL (valid while it is up, and again after a restart)."""
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> WebhookReceiver:
        """Listen (again) on the same port."""
        receiver = self

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
                mode = receiver.mode
                if mode == "slow":
                    time.sleep(receiver.delay)
                status = {"ok": 200, "slow": 200, "429": 429, "500": 500}.get(mode, 200)
                record = {"time": time.time(), "status": status, "headers": dict(self.headers), "body": body}
                try:
                    record["json"] = json.loads(body)
                except ValueError:
                    record["json"] = None
                with receiver._lock:
                    receiver.requests.append(record)
                if receiver.echo and status == 200 and isinstance(record["json"], dict):
                    j = record["json"]
                    receiver.echo(f"[receiver] {j.get('event', '?'):>15}  {j.get('title') or j.get('text', '')}")
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", str(receiver.retry_after))
                reply = b'{"ok": true}' if status == 200 else b'{"ok": false}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):  # keep test and demo output clean
                if not receiver.quiet:
                    super().log_message(*args)

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: senders get 'connection refused' until :meth:`start`."""
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

    def set_mode(self, mode: str, *, delay: float = 5.0, retry_after: float = 1.0) -> None:
        """``ok``, ``slow`` (answer after ``delay`` s), ``429`` (with Retry-After) or ``500``."""
        if mode not in {"ok", "slow", "429", "500"}:
            raise ValueError(f"mode must be ok, slow, 429 or 500, got {mode!r}")
        self.mode, self.delay, self.retry_after = mode, delay, retry_after

    def delivered(self) -> list[dict[str, Any]]:
        """JSON bodies of requests answered 200."""
        with self._lock:
            return [r["json"] for r in self.requests if r["status"] == 200 and r["json"] is not None]

    def unique_ids(self) -> set[str]:
        """Ids of delivered messages, duplicates of an at-least-once delivery dropped."""
        return {m.get("id") for m in self.delivered() if isinstance(m, dict) and m.get("id")}

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
