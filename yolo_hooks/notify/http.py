"""One webhook POST: no redirect followed, at most :data:`MAX_REPLY_BYTES` of the reply read, errors without the URL.

Examples:
    >>> session = new_session()  # doctest: +SKIP
    >>> result, down = send(session, build_request("json", message, {"url": url}), "json", timeout=10)  # doctest: +SKIP
"""

from __future__ import annotations

from ..core.redact import redact_url
from .formats import DeliveryResult, check_response

MAX_REPLY_BYTES = 64 * 1024  # of any reply, read streamed: a verdict needs the status and a short error text


def new_session(url: str | None = None):
    """A ``requests.Session`` (one connection pool per destination).

    With ``url``, what ``requests`` reads from the environment on every request (proxies and ``NO_PROXY``, the CA
    bundle variables, ``.netrc`` credentials) is read once, for this destination, and kept on the session: the
    per-request lookup walks the whole ``os.environ`` twice and was 40 % of a message's CPU. A change of those
    variables while the process runs is seen by the next destination (or the next run), not by this one.
    """
    import requests

    session = requests.Session()
    if url:
        settings = session.merge_environment_settings(url, {}, None, None, None)
        session.proxies.update(settings["proxies"])
        session.verify = settings["verify"]
        session.auth = requests.utils.get_netrc_auth(url)
        session.trust_env = False
    return session


def send(session, request, fmt: str, timeout: float) -> tuple[DeliveryResult, str | None]:
    """Send ``request``; returns the verdict and, when the destination did not answer at all (refused, timed out),
    why (else None).

    Redirects are never followed: a 3xx is a permanent failure naming where it pointed (a followed redirect turns
    the POST into a body-less GET, with the signed headers, to a host nobody configured).
    """
    import requests

    try:
        reply = session.request(
            request.method,
            request.url,
            data=request.body,
            json=request.json if request.body is None else None,
            headers=request.headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,  # the body is read below, at most MAX_REPLY_BYTES of it
        )
        try:
            body = read_prefix(reply, MAX_REPLY_BYTES)
        finally:
            reply.close()  # a body read to its end keeps the connection for reuse; a cut one closes it
    except requests.RequestException as e:
        why = describe_error(e, timeout)
        down = why if isinstance(e, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)) else None
        return DeliveryResult(ok=False, retry=True, error=why), down
    if 300 <= reply.status_code < 400:
        location = reply.headers.get("Location")
        where = f" to {redact_url(location)}" if location else " without a Location"
        return DeliveryResult(ok=False, retry=False, error=f"HTTP {reply.status_code} redirect{where}, not followed "
                              f"(webhooks are never redirected: configure the URL it points to)"), None
    return check_response(fmt, reply.status_code, reply.headers, body), None


def describe_error(error: Exception, timeout: float) -> str:
    """A short reason for a ``requests`` exception, without the URL (which carries the webhook token)."""
    import requests

    text = str(error)
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"connect timed out after {timeout:g} s"
    if isinstance(error, requests.exceptions.Timeout):
        return f"no reply within {timeout:g} s"
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS error (certificate verification failed?)"
    if isinstance(error, requests.exceptions.ConnectionError):
        if "refused" in text.lower():
            return "connection refused"
        if "RemoteDisconnected" in text or "aborted" in text.lower() or "reset" in text.lower():
            return "connection closed by the server without a reply"
        if "resolve" in text.lower() or "Name or service" in text:
            return "host name not found"
        return "connection failed"
    return type(error).__name__


def read_prefix(reply, limit: int) -> bytes:
    """At most ``limit`` bytes of a streamed ``requests`` reply (a 50 MB or endless body costs nothing more)."""
    body = bytearray()
    for chunk in reply.iter_content(chunk_size=16 * 1024):
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])
