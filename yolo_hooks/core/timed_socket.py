"""One total deadline for a request on a socket: every send and receive ends by it, however the peer trickles.

A socket timeout bounds each ``recv`` alone: a server that answers one byte a second (its status line, its headers
or its body) resets it with every byte and holds the request forever. :class:`TimedSocket` wraps the socket that
``http.client`` or ``smtplib`` made and, before each operation, sets the socket's timeout to what is left of one
:class:`~yolo_hooks.core.deadline.Deadline` (``socket.timeout`` once it has passed). The standard library has no
total deadline of its own, and neither has a well-kept HTTP client: urllib3's ``Timeout(total=...)`` and httpx's
timeouts bound each read, not the reply, so the same trickle passes them.

Examples:
    >>> import http.client
    >>> conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)  # doctest: +SKIP
    >>> conn.connect(); conn.sock = TimedSocket(conn.sock, Deadline(10))  # doctest: +SKIP
    >>> conn.request("POST", "/hook", body=b"{}"); conn.getresponse().read()  # all within 10 s  # doctest: +SKIP
"""

from __future__ import annotations

import socket
from typing import Any

from .deadline import Deadline


class TimedSocket:
    """A socket (plain or TLS) whose sends and receives all end by :attr:`deadline`; anything else is the socket's.

    Args:
        sock: the connected socket (kept as :attr:`raw`).
        deadline: the request's deadline; :meth:`until` sets the next request's on a kept-alive connection.
    """

    def __init__(self, sock: socket.socket, deadline: Deadline):
        self.raw = sock
        self.deadline = deadline
        self._files = 0  # open makefile() files: the socket closes when the last one does (as socket.socket does)
        self._closing = False

    @classmethod
    def around(cls, sock: Any, deadline: Deadline) -> TimedSocket:
        """``sock`` under ``deadline``: wrapped, or (already a TimedSocket) given the new deadline."""
        if isinstance(sock, TimedSocket):
            sock.deadline = deadline
            return sock
        return cls(sock, deadline)

    def _arm(self) -> None:
        left = self.deadline.left()
        if left <= 0:
            raise socket.timeout(f"the request's {self.deadline.seconds:g} s deadline passed")
        self.raw.settimeout(left)

    def recv(self, size: int, flags: int = 0) -> bytes:
        self._arm()
        return self.raw.recv(size, flags)

    def recv_into(self, buffer, size: int = 0, flags: int = 0) -> int:
        self._arm()
        return self.raw.recv_into(buffer, size, flags)

    def send(self, data, flags: int = 0) -> int:
        self._arm()
        return self.raw.send(data, flags)

    def sendall(self, data, flags: int = 0) -> None:
        self._arm()  # CPython: the timeout of sendall is the total time of the whole call
        self.raw.sendall(data, flags)

    def makefile(self, mode: str = "r", buffering: int | None = None, **_: Any):
        """A buffered file whose raw reads and writes go through this object (so through the deadline)."""
        import io

        raw = socket.SocketIO(self, "rb" if "r" in mode else "wb")
        self._files += 1
        size = io.DEFAULT_BUFFER_SIZE if buffering in (None, -1) else buffering
        if size == 0:
            return raw
        return io.BufferedReader(raw, size) if "r" in mode else io.BufferedWriter(raw, size)

    def _decref_socketios(self) -> None:
        """``SocketIO.close`` calls this: the last file closed after :meth:`close` closes the socket."""
        self._files -= 1
        if self._closing and self._files <= 0:
            self.raw.close()

    def close(self) -> None:
        """Close the socket, or (a reply still being read from a file of it) once that file is closed: http.client
        closes its connection as soon as a reply says it will end with the connection."""
        self._closing = True
        if self._files <= 0:
            self.raw.close()

    def __getattr__(self, name: str) -> Any:  # fileno, settimeout, setsockopt, shutdown, getpeername...
        return getattr(self.raw, name)
