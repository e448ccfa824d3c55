"""The transport under every webhook: one kept-alive connection per destination, TLS checked against the CA bundle
the environment names, CONNECT tunnels through a proxy, ``.netrc`` credentials; all on real loopback servers."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from tests.notify.test_delivery import delivery, message
from tests.servers import Endpoint, make_certificate, server_tls
from yolo_hooks.notify import http
from yolo_hooks.notify.formats.base import HttpRequest

HOST = "hooks.example.invalid"  # resolvable by nobody: reached by way of the test's proxy only


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and HOST, as PEM files (certificate, key)."""
    return make_certificate(tmp_path_factory.mktemp("tls"), HOST)


@pytest.fixture
def https_endpoint(certificate):
    """The notification tests' endpoint, over TLS with the self-signed certificate."""
    server = Endpoint(tls=server_tls(certificate)).start()
    yield server
    server.stop()


@pytest.fixture
def connect_proxy():
    """A CONNECT proxy on loopback that tunnels every target to the port in ``proxy.to``; records the CONNECT lines
    and their Proxy-Authorization."""

    class Proxy:
        to = 0
        tunnels: list[tuple[str, str | None]] = []

    listener = socket.create_server(("127.0.0.1", 0))
    Proxy.url = f"http://user:p%40ss@127.0.0.1:{listener.getsockname()[1]}"

    def pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            b.close()

    def serve() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            line, *lines = head.decode().split("\r\n")
            auth = next((v.split(":", 1)[1].strip() for v in lines if v.lower().startswith("proxy-authorization")), None)
            Proxy.tunnels.append((line.rsplit(" ", 1)[0], auth))  # without the HTTP version (1.0 or 1.1)
            upstream = socket.create_connection(("127.0.0.1", Proxy.to))
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield Proxy
    listener.close()


def test_https_is_checked_against_the_ca_bundle_the_environment_names(https_endpoint, certificate, tmp_path,
                                                                     monkeypatch):
    url = https_endpoint.url
    untrusted = delivery(url, tmp_path / "a", retries=0)
    result = untrusted.send(message(1))
    assert not result.ok and "TLS error" in result.error and "TOKEN" not in result.error
    assert https_endpoint.requests == []  # nothing was sent to a server whose certificate did not check out

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))  # read when the destination is first used
    trusted = delivery(url, tmp_path / "b", retries=0)
    for i in range(3):
        trusted.submit(message(i))
    assert trusted.flush(5) == 0 and trusted.delivered == 3
    assert len({r["client_port"] for r in https_endpoint.requests}) == 1  # one TLS connection for all three


def test_https_goes_through_a_connect_tunnel_with_the_proxys_credentials(https_endpoint, connect_proxy, certificate,
                                                                        tmp_path, monkeypatch):
    connect_proxy.to = https_endpoint.port
    monkeypatch.setenv("HTTPS_PROXY", connect_proxy.url)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    d = delivery(f"https://{HOST}/hook/TOKEN-tunnel-0123456789", tmp_path, retries=0)
    d.submit(message(1))
    d.submit(message(2))
    assert d.flush(5) == 0 and d.delivered == 2
    assert connect_proxy.tunnels == [(f"CONNECT {HOST}:443", "Basic dXNlcjpwQHNz")]  # user:p@ss, once
    assert [r["headers"]["Host"] for r in https_endpoint.requests] == [HOST, HOST]  # TLS and Host name the target


def test_a_connection_the_server_closed_while_idle_is_opened_again_without_a_failed_attempt(endpoint, tmp_path):
    endpoint.script("hangup", "hangup")
    d = delivery(endpoint.url, tmp_path, retries=0)
    for i in range(3):
        result = d.send(message(i))
        assert result.ok and result.attempts == 1
        time.sleep(0.1)  # the server's close arrives while the connection is idle
    assert d.delivered == 3 and len({r["client_port"] for r in endpoint.requests}) == 3


def test_requests_name_their_sender_and_carry_netrc_credentials_for_the_host(endpoint, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password wonder\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert delivery(endpoint.url, tmp_path).send(message()).ok
    headers = endpoint.requests[0]["headers"]
    assert headers["User-Agent"] == http.USER_AGENT and headers["Authorization"] == "Basic YWxpY2U6d29uZGVy"


def test_a_request_built_with_json_is_sent_as_json(endpoint):
    request = HttpRequest(url=endpoint.url, json={"x": 1})  # what a caller building its own request may do
    session = http.Session(endpoint.url)
    try:
        result, down = http.send(session, request, "json", timeout=5)
    finally:
        session.close()
    assert result.ok and down is None
    assert endpoint.requests[0]["json"] == {"x": 1}
    assert endpoint.requests[0]["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport/hook/TOKEN-x", "ftp://127.0.0.1/hook/TOKEN-x"])
def test_a_url_that_cannot_be_sent_to_is_a_failed_attempt_that_does_not_name_it(url):
    session = http.Session(url)
    result, down = http.send(session, HttpRequest(url=url, body=b"{}"), "json", timeout=5)
    assert not result.ok and down is None and "TOKEN" not in result.error


def test_an_https_proxy_is_refused_with_a_reason_that_names_no_credentials(tmp_path, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "https://user:SECRETPW@127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    result = delivery(f"https://{HOST}/hook/TOKEN-x-0123456789", tmp_path, retries=0).send(message())
    assert not result.ok and "https:// proxy" in result.error and "SECRETPW" not in result.error


# --- one total deadline per request --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "reply, verdict",
    [
        ("trickle_headers", "no reply within 1 s"),  # the status line never completes: no verdict, retried
        ("trickle_body", None),  # the status came (200): the verdict is taken from it and the body read so far
        ("no_length", None),  # a 200 whose body never says it ended: the same
    ],
)
def test_a_reply_trickled_or_never_ended_is_cut_off_at_the_requests_timeout(endpoint, reply, verdict):
    endpoint.set_mode(reply, trickle=0.2)  # a byte every 0.2 s resets any per-read timeout of 1 s, forever
    session = http.Session(endpoint.url)
    start = time.monotonic()
    result, down = http.send(session, HttpRequest(url=endpoint.url, json={"event": "test"}), "json", timeout=1)
    took = time.monotonic() - start
    endpoint.heal()
    assert took < 1.5  # one deadline for connect, send and the whole reply
    assert (result.ok, result.error) == ((False, verdict) if verdict else (True, None))
    assert session._conn is None  # a reply cut short leaves a connection nobody can reuse


def test_a_reply_reset_midway_is_a_transient_failure_and_the_next_attempt_opens_a_fresh_connection(endpoint):
    endpoint.script("reset_mid_reply")
    session = http.Session(endpoint.url)
    first, down = http.send(session, HttpRequest(url=endpoint.url, json={"n": 1}), "json", timeout=2)
    second, _ = http.send(session, HttpRequest(url=endpoint.url, json={"n": 2}), "json", timeout=2)
    assert (first.ok, first.retry, down) == (False, True, None) and second.ok
    assert len({r["client_port"] for r in endpoint.requests}) == 2


def test_a_name_that_does_not_resolve_is_down_at_once_without_naming_the_url():
    url = "http://no-such-host.invalid/hook/TOKEN-s3cr3t-0123456789"
    start = time.monotonic()
    result, down = http.send(http.Session(url), HttpRequest(url=url, json={}), "json", timeout=5)
    assert (result.ok, result.retry, down) == (False, True, "host name not found")
    assert time.monotonic() - start < 5 and "TOKEN" not in result.error
