"""One webhook POST: one total deadline, no redirect followed, at most :data:`MAX_REPLY_BYTES` of the reply read,
errors without the URL.

A message is sent with the standard library's ``http.client`` over one kept-alive connection per destination.
``requests`` still decides, once per destination, what the environment asks for (proxies and ``NO_PROXY``, the CA
bundle variables, ``.netrc`` credentials), so those follow the rules users know from it; it no longer carries each
message: its session machinery (merging settings, hooks, cookies, adapters, urllib3's pool) was two thirds of a
message's CPU on the notify worker (1.1-1.5 against 0.3-0.5 ms per message to a loopback endpoint, about three times
that in a training whose steps keep the caches cold), and a destination sends one message at a time to one host,
which is all this does.

Examples:
    >>> session = Session(url)  # doctest: +SKIP
    >>> result, down = send(session, build_request("json", message, {"url": url}), "json", timeout=10)  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import socket
import ssl
from urllib.parse import unquote, urlsplit

from .._version import __version__
from ..core.deadline import Deadline
from ..core.redact import redact_url
from ..core.timed_socket import TimedSocket
from .formats import DeliveryResult, check_response

MAX_REPLY_BYTES = 64 * 1024  # of any reply: a verdict needs the status and a short error text
MAX_ROUTES = 16  # URLs a session keeps parsed
USER_AGENT = f"yolo_hooks/{__version__} (Ultralytics YOLO callbacks)"  # some services refuse requests without one


class TransportError(Exception):
    """A request that got no HTTP reply; ``down`` when the destination did not answer at all (refused, timed out)."""

    def __init__(self, why: str, down: bool):
        super().__init__(why)
        self.why, self.down = why, down


class Session:
    """One destination's connection: the environment's settings read once, one kept-alive connection reused.

    Used by one thread at a time (a destination's worker). A connection the server closed while idle is noticed
    before the next request and opened again; one that failed mid-request is closed, so the next try starts fresh.
    """

    def __init__(self, url: str):
        import requests
        import requests.utils

        with requests.Session() as env:
            settings = env.merge_environment_settings(url, {}, None, None, None)
        self._proxies = dict(settings["proxies"])
        self._verify = settings["verify"]  # True, False or the path of a CA bundle (file or folder)
        self._auth = requests.utils.get_netrc_auth(url)  # (user, password) for this host in ~/.netrc, or None
        self._select_proxy = requests.utils.select_proxy
        self._context: ssl.SSLContext | None = None
        self._conn: http.client.HTTPConnection | None = None
        self._origin: tuple | None = None  # (scheme, host, port, proxy) the open connection goes to
        self._routes: dict[str, tuple] = {}  # url -> what _route makes of it (the proxies are fixed per session)

    def request(self, method: str, url: str, body: bytes, headers: dict[str, str], timeout: float,
                limit: int) -> tuple[int, http.client.HTTPMessage, bytes]:
        """Send one request; returns (status, headers, at most ``limit`` bytes of the body). Raises
        :class:`TransportError` when no HTTP reply came."""
        route = self._routes.get(url)
        if route is None:  # parsed once per URL: a destination posts to the same one every time
            if len(self._routes) >= MAX_ROUTES:  # a poller whose URLs change (a query per offset) stays bounded
                self._routes.clear()
            route = self._routes[url] = self._route(url)
        scheme, host, port, target, proxy, proxy_auth = route
        headers = {"User-Agent": USER_AGENT, "Accept": "*/*", **headers}
        if self._auth and not any(k.lower() == "authorization" for k in headers):
            headers["Authorization"] = _basic(*self._auth)
        if proxy_auth:
            headers["Proxy-Authorization"] = proxy_auth
        deadline = Deadline(timeout)  # one for the whole request: connect, send, status, headers and body
        conn = self._connection(scheme, host, port, proxy, timeout)
        try:
            try:
                if conn.sock is None:
                    conn.connect()
            except (TimeoutError, socket.timeout) as e:
                raise TransportError(f"connect timed out after {timeout:g} s", down=True) from e
            conn.sock = TimedSocket.around(conn.sock, deadline)
            conn.request(method, target, body=body, headers=headers)
            reply = conn.getresponse()
            data, whole = _read_body(reply, limit)
            if not (whole and reply.isclosed()):  # a body cut short or longer than we read: never reused
                self.close()
            return reply.status, reply.headers, data
        except TransportError:
            self.close()
            raise
        except Exception as e:
            self.close()
            raise TransportError(*_describe(e, timeout)) from e

    def _route(self, url: str) -> tuple[str, str, int, str, str | None, str | None]:
        """(scheme, host, port, request target, proxy, Proxy-Authorization) of ``url``; raises
        :class:`TransportError` for a URL that cannot be sent to."""
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:  # a port that is not a number: the message names no part of the URL (it has the token)
            raise TransportError("not a valid URL", down=False) from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"not an http(s) URL (scheme {parts.scheme!r})", down=False)
        proxy = self._select_proxy(url, self._proxies)
        if proxy and proxy.lower().startswith("https://"):
            raise TransportError("the environment names an https:// proxy (TLS to the proxy itself), which is not "
                                 "supported: give the proxy's http:// address", down=False)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        credentials = None
        if proxy and parts.scheme == "http":  # absolute-form to the proxy, which makes the request
            target = url
            credentials = _proxy_credentials(_proxy(proxy))
        return parts.scheme, parts.hostname, port, target, proxy, credentials

    def _connection(self, scheme: str, host: str, port: int, proxy: str | None,
                    timeout: float) -> http.client.HTTPConnection:
        origin = (scheme, host, port, proxy)
        conn = self._conn
        if conn is not None and (origin != self._origin or (conn.sock is not None and _dropped(conn.sock))):
            self.close()
            conn = None
        if conn is None:
            conn = self._open(scheme, host, port, proxy, timeout)
            self._conn, self._origin = conn, origin
        conn.timeout = timeout  # for the next connect; an open socket keeps its own
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _open(self, scheme: str, host: str, port: int, proxy: str | None,
              timeout: float) -> http.client.HTTPConnection:
        at = _proxy(proxy) if proxy else None
        if scheme == "http":  # through a proxy: to the proxy, in absolute-form (see request)
            return http.client.HTTPConnection(*(at[:2] if at else (host, port)), timeout=timeout)
        if at is None:
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls())
        conn = http.client.HTTPSConnection(*at[:2], timeout=timeout, context=self._tls())  # a CONNECT tunnel
        credentials = _proxy_credentials(at)
        conn.set_tunnel(host, port, headers={"Proxy-Authorization": credentials} if credentials else None)
        return conn

    def _tls(self) -> ssl.SSLContext:
        """Certificates checked as ``requests`` checks them: its CA bundle (certifi), or the one the environment
        names (``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``); not at all only when the environment says so."""
        if self._context is None:
            if self._verify is False:
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            else:
                from requests.utils import DEFAULT_CA_BUNDLE_PATH

                bundle = DEFAULT_CA_BUNDLE_PATH if self._verify is True else self._verify
                folder = os.path.isdir(bundle)
                context = ssl.create_default_context(cafile=None if folder else bundle, capath=bundle if folder else None)
            self._context = context
        return self._context

    def abort(self) -> None:
        """From another thread: end the request in flight at once (a long poll), as a dropped connection would."""
        conn = self._conn
        sock = conn.sock if conn is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self) -> None:
        """Close the connection (the next request opens a new one)."""
        conn, self._conn, self._origin = self._conn, None, None
        if conn is not None:
            conn.close()


def _read_body(reply: http.client.HTTPResponse, limit: int) -> tuple[bytes, bool]:
    """At most ``limit`` bytes of the reply's body, and whether that is all of it (False also when the request's
    deadline passed in the middle: the status and headers came, so the verdict is taken from them and the part of
    the body that arrived, as from a body longer than we read)."""
    data = bytearray()
    try:
        while len(data) < limit and not reply.isclosed():
            if reply.length == 0:  # a Content-Length body read whole: read() ends the reply (read1 does not)
                reply.read()
                break
            chunk = reply.read1(limit - len(data))
            if not chunk:
                break
            data += chunk
    except (TimeoutError, socket.timeout):
        return bytes(data), False
    return bytes(data), reply.isclosed()


def send(session: Session, request, fmt: str, timeout: float) -> tuple[DeliveryResult, str | None]:
    """Send ``request`` within ``timeout`` seconds in all (connect, send and the whole reply: a server trickling its
    reply is cut off then, see :mod:`yolo_hooks.core.timed_socket`); returns the verdict and, when the destination
    did not answer at all (refused, timed out), why (else None).

    Redirects are never followed: a 3xx is a permanent failure naming where it pointed (a followed redirect turns
    the POST into a body-less GET, with the signed headers, to a host nobody configured).
    """
    body, headers = request.body, dict(request.headers)
    if body is None:  # a request built with `json=` (callers building their own)
        body = json.dumps(request.json).encode()
        headers.setdefault("Content-Type", "application/json")
    try:
        status, reply_headers, data = session.request(request.method, request.url, body, headers, timeout,
                                                      MAX_REPLY_BYTES)
    except TransportError as e:
        return DeliveryResult(ok=False, retry=True, error=e.why), e.why if e.down else None
    if 300 <= status < 400:
        location = reply_headers.get("Location")
        where = f" to {redact_url(location)}" if location else " without a Location"
        return DeliveryResult(ok=False, retry=False, error=f"HTTP {status} redirect{where}, not followed "
                              f"(webhooks are never redirected: configure the URL it points to)"), None
    return check_response(fmt, status, reply_headers, data), None


def _describe(error: Exception, timeout: float) -> tuple[str, bool]:
    """A short reason for a failed request, without the URL (which carries the webhook token), and whether the
    destination did not answer at all."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused", True
    if isinstance(error, (TimeoutError, socket.timeout)):
        return f"no reply within {timeout:g} s", True
    if isinstance(error, ssl.SSLError):
        return "TLS error (certificate verification failed?)", True
    if isinstance(error, socket.gaierror):
        return "host name not found", True
    if isinstance(error, (http.client.RemoteDisconnected, ConnectionResetError, ConnectionAbortedError,
                          BrokenPipeError)):  # it accepted the connection: up, and the retry usually succeeds
        return "connection closed by the server without a reply", False
    if isinstance(error, http.client.HTTPException):
        return f"not an HTTP reply ({type(error).__name__})", False
    if isinstance(error, OSError):
        return "connection failed", True
    return type(error).__name__, False


def _dropped(sock: socket.socket) -> bool:
    """True when an idle kept-alive connection is readable: the server closed it (or sent what nobody asked for)."""
    if hasattr(select, "poll"):  # poll: no FD_SETSIZE limit in a process with many open files
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([sock], [], [], 0)[0])


def _proxy(proxy: str) -> tuple[str, int, str, str]:
    """(host, port, user, password) of a proxy URL (``host:port`` alone means http, as for ``requests``).

    The proxy itself is spoken to in plain HTTP (a CONNECT tunnel carries the TLS to the service), as nearly every
    corporate proxy expects; a proxy that wants TLS on its own port (an ``https://`` proxy URL) is refused with a
    reason (see :meth:`Session.request`).
    """
    at = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    port = at.port or (443 if at.scheme == "https" else 80)
    return at.hostname or "", port, unquote(at.username or ""), unquote(at.password or "")


def _proxy_credentials(proxy: tuple[str, int, str, str]) -> str | None:
    return _basic(*proxy[2:]) if proxy[2] else None


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin-1", "replace")).decode("ascii")
