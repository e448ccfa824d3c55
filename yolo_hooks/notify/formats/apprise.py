"""``apprise``: any of apprise's ~190 services (ntfy, Pushover, Gotify, Matrix, PagerDuty, Opsgenie, ...) by URL.

A format that delivers itself (like ``email``): :func:`deliver` hands each of the destination's ``urls`` to apprise
on the destination's worker, so a message goes through the same journal, retries, rate limit, outbox and end-of-run
deadline as our own formats, keeps its id, and carries its image as an attachment where the service takes one.

How apprise is called, and why:

* one fresh ``Apprise`` object per URL and message: apprise sleeps ``request_rate_per_sec`` (5.5 s for ntfy,
  e-mail, DingTalk...) between two sends through the same object, on the calling thread; our rate limit
  (:func:`rate_limit`, the same pace as a sliding window) waits instead, and a flush can end that wait;
* ``AppriseAsset(async_mode=False, service_timeout=0)``: no thread pool of apprise's (its threads are joined at the
  interpreter's exit); persistent storage in memory only (nothing written to the user's cache folder);
* each call runs within ``timeout`` seconds in a short daemon thread of ours (:func:`_within`): a service that
  never answers costs this message one transient failure, never the worker (each of the plugin's sockets also
  times out after ``timeout`` unless the URL sets ``cto`` / ``rto`` itself). The per-request deadline issue 30
  adds to ``notify/http.py`` does not cover apprise, which opens its own connections;
* what apprise answers is only delivered or not, per service: every failure is retried (a revoked token too, until
  the retries are spent: apprise does not say which HTTP status it got), and the URLs of a destination that did
  get a message are not sent it again by the retries of this process (:data:`_SENT`); a replay of the outbox
  sends to every URL of the destination again.

Secrets: the URLs are secret (their tokens sit in the host, the path, the user info or the query). What may be
shown is apprise's own privacy form of each URL (``ntfy://user:****@host/topic``, ``tgram://1...A/chat``) without
its query, then scrubbed of what :func:`secrets` lists: every piece of the URL that the privacy form hides, the
values of custom headers / query / payload parameters (``+X-Api-Key=``, ``-token=``, ``:key=``) and of
secret-named ones, and the path of the plain webhooks (json, form, xml). apprise's own log lines pass a filter that
scrubs them too (at DEBUG it logs whole URLs and payloads).
"""

from __future__ import annotations

import collections
import functools
import logging
import re
import threading
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import parse_qsl, unquote, urlsplit

from ...core.redact import MIN_PIECE, MIN_SECRET, SECRET_KEY, redact_url, remember, scrub
from ..message import Message
from .base import OK, DeliveryResult, Image
from .render import PLAIN, heading, render_message, run_line, truncate
from .schema import Invalid, Option

NAME = "apprise"
INSTALL = "pip install 'yolo-hooks[apprise]'"
IMAGES = True  # sent as an attachment to the services that take one; named in the text to the others
BODY_LIMIT = 32_768  # apprise's default body limit; a service's own (Discord 2000, Pushover 1024) is kept too
CUSTOM_WEBHOOKS = ("json", "jsons", "form", "forms", "xml", "xmls")  # their path may carry a token
SEVERITY_TYPES = {"info": "info", "warning": "warning", "critical": "failure"}  # apprise's NotifyType values
THREAD_NAME = "yolo_hooks-apprise"


def apprise_module():
    """apprise, imported on first use (an extra: ``yolo-hooks[apprise]``); its log lines scrubbed from then on.

    Raises:
        Invalid: apprise is not installed.
    """
    try:
        import apprise
    except ImportError:
        raise Invalid(f"a URL of an apprise service, with apprise installed ({INSTALL})") from None
    logger = logging.getLogger("apprise")
    if not any(isinstance(f, _ScrubFilter) for f in logger.filters):
        logger.addFilter(_ScrubFilter())
    return apprise


class _ScrubFilter(logging.Filter):
    """apprise logs whole URLs and payloads at DEBUG (and some at WARNING): every line scrubbed of our secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), ()
        return True


@functools.lru_cache(maxsize=64)
def _plugin(url: str):
    """apprise's plugin object for ``url`` (parsed once per URL), or None when no service of apprise takes it."""
    apprise = apprise_module()
    return apprise.Apprise.instantiate(url, asset=_asset())


@functools.lru_cache(maxsize=1)
def _asset():
    apprise = apprise_module()
    return apprise.AppriseAsset(async_mode=False, service_timeout=0, storage_mode="memory")


def check_urls(urls: list[str]) -> list[str]:
    """Every URL must be one of apprise's services (parsed by apprise now, not at the first message)."""
    remember(urls)  # before apprise parses them: it may log one it cannot parse
    for url in urls:
        if _plugin(url) is None:
            raise Invalid(f"URLs of apprise's services (`{url.split('://', 1)[0]}://` is none of them, or the URL "
                          f"is incomplete: see https://github.com/caronc/apprise/wiki)")
    return urls


OPTIONS = (
    Option("urls", "urls", required=True, secret=True, example="${APPRISE_URLS}", check=check_urls,
           show=lambda urls: shown_urls(urls),
           help="one apprise URL or a list of them (`ntfy://…`, `pover://…`, `mailtos://…`): each gets every "
                "message; their tokens make them secrets, keep them in the environment"),
)


# --- what may be shown, what is secret ----------------------------------------------------------------------------
def _urls(options: Mapping[str, Any]) -> list[str]:
    urls = options.get("urls") or []
    return [urls] if isinstance(urls, str) else list(urls)


def privacy_url(url: str) -> str:
    """apprise's own redacted form of ``url`` without its query, scrubbed of :func:`url_secrets`; a plain webhook's
    (json, form, xml: apprise hides nothing of their path) and one apprise cannot read as our URLs are: host only."""
    try:
        plugin = None if url.split("://", 1)[0].lower() in CUSTOM_WEBHOOKS else _plugin(url)
    except Invalid:
        plugin = None
    shown = plugin.url(privacy=True).split("?", 1)[0].rstrip("/") if plugin is not None else redact_url(url)
    return scrub(shown, url_secrets(url))


def shown_urls(urls: Any) -> list[str]:
    """Each URL as ``yolo-hooks check``, the outbox and the logs may show it."""
    return [privacy_url(u) for u in ([urls] if isinstance(urls, str) else urls or [])]


def _pieces(text: str) -> list[str]:
    return [p for p in re.split(r"[/:@?&=#,;\s]+", unquote(text)) if p]


def url_secrets(url: str) -> list[str]:
    """What in ``url`` must never be printed (see the module docstring); the URL itself first."""
    out = [url]
    try:
        parts = urlsplit(url)
        plugin = _plugin(url)
    except (ValueError, Invalid):
        return out
    if plugin is not None:  # what apprise's privacy form hides: its private tokens, passwords, keys
        visible = set(_pieces(plugin.url(privacy=True)))
        out += [p for p in _pieces(url.split("://", 1)[-1]) if len(p) >= MIN_SECRET and p not in visible]
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        if key[:1] in "+-:" or SECRET_KEY.search(key):
            out.append(value)
    if parts.password:
        out.append(unquote(parts.password))
    if parts.scheme.lower() in CUSTOM_WEBHOOKS:
        out += [p for p in (parts.path, *parts.path.split("/")) if len(p) >= MIN_PIECE]
    return [s for s in dict.fromkeys(out) if len(s) >= MIN_SECRET]


def secrets(options: Mapping[str, Any]) -> list[str]:
    """Every URL's secrets (the format's hook: added to what the declared ``secret`` option gives)."""
    return [s for url in _urls(options) for s in url_secrets(url)]


def identity(options: Mapping[str, Any]) -> tuple[str, str]:
    """Destinations differ by their URLs; shown as apprise shows them."""
    urls = _urls(options)
    return "\n".join(urls), "apprise " + ", ".join(shown_urls(urls))


def rate_limit(options: Mapping[str, Any]) -> float | None:
    """Messages a minute: the pace apprise keeps for the slowest of the services (one per 5.5 s for ntfy, e-mail,
    DingTalk...: 10.9 a minute), enforced by our rate limit instead of apprise's sleep; None when none keeps one."""
    paces = [getattr(_plugin(url), "request_rate_per_sec", 0) or 0 for url in _urls(options)]
    slowest = max(paces, default=0)
    return round(60 / slowest, 1) if slowest >= 1 else None


# --- delivery -----------------------------------------------------------------------------------------------------
_SENT: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()  # (message id, url) delivered
_SENT_MAX = 4096
_sent_lock = threading.Lock()


def _delivered(message_id: str, url: str, mark: bool = False) -> bool:
    key = (message_id, url)
    with _sent_lock:
        if mark:
            _SENT[key] = None
            while len(_SENT) > _SENT_MAX:
                _SENT.popitem(last=False)
        return key in _SENT


def _within(seconds: float, call) -> tuple[bool, Any]:
    """``(True, call())`` when ``call`` returns within ``seconds``, else ``(False, None)``; it runs on a daemon thread
    that is left to end by itself (its sockets time out too), so no wait ever outlasts ``seconds``."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["result"] = call()
        except Exception as e:  # a plugin that raises: a failure like any other
            box["result"] = (False, f"{type(e).__name__}: {e}")

    thread = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
    thread.start()
    thread.join(seconds)
    return ("result" in box), box.get("result")


def body_text(message: Message, limit: int, note: str = "") -> str:
    """Text and facts of ``message`` as plain text within ``limit`` characters, the run under them."""
    body = render_message(message, PLAIN, title=False)
    context = run_line(message)
    if context and message.run.get("name", "") not in message.title:
        body = f"{body}\n\n{context}".strip()
    return truncate(f"{body}\n{note}".strip() if note else body, limit) or message.event


def _notify_one(url: str, message: Message, image_path: str | None, timeout: float) -> tuple[bool, str]:
    """Send ``message`` to one URL through a fresh apprise object; (delivered, why not)."""
    apprise = apprise_module()
    asset = _asset()
    plugin = apprise.Apprise.instantiate(url, asset=asset)  # fresh: no sleep behind the previous message
    if plugin is None:
        return False, "apprise no longer takes this URL"
    query = {k.lower() for k, _ in parse_qsl(urlsplit(url).query)}
    if "cto" not in query:
        plugin.socket_connect_timeout = timeout
    if "rto" not in query:
        plugin.socket_read_timeout = timeout
    attach, note = None, ""
    if image_path:
        if getattr(plugin, "attachment_support", False):
            attach = apprise.AppriseAttachment(image_path, asset=asset)
        else:
            note = f"(image {Path(image_path).name}: this service takes no attachments)"
    title_limit = int(getattr(plugin, "title_maxlen", 250) or 0)
    body_limit = min(int(getattr(plugin, "body_maxlen", BODY_LIMIT) or BODY_LIMIT), BODY_LIMIT)
    title = truncate(heading(message), title_limit) if title_limit else ""
    body = body_text(message, body_limit, note)
    if not title_limit:  # the service has no title: apprise would merge it into the body, past its limit
        body = truncate(f"{heading(message)}\n{body}", body_limit)
    ap = apprise.Apprise(asset=asset)
    ap.add(plugin)
    result = ap.notify(body=body, title=title, notify_type=SEVERITY_TYPES.get(message.severity, "info"),
                       body_format="text", attach=attach)
    return bool(result), "" if result else _why(result)


def _why(result: Any) -> str:
    """The last thing apprise logged about a failed service (its text carries the HTTP status, when there was one)."""
    lines = [str(line) for service in (result if hasattr(result, "__iter__") else ()) for line in service.logs()]
    last = lines[-1] if lines else "failed"
    return re.sub(r"^\S+ \S+ - [A-Z]+ - ", "", last).strip()


def deliver(message: Message, options: Mapping, timeout: float,
            image: Image | None = None) -> tuple[DeliveryResult, str | None]:
    """Send ``message`` to every URL that has not had it yet: delivered when all have; else a transient failure
    naming each URL that failed (as apprise shows it) and why. Never raises."""
    image_path = message.data.get("image") if image is not None else None  # the file images.prepare just read
    failures = []
    for url in _urls(options):
        if _delivered(message.id, url):
            continue
        done, outcome = _within(timeout, lambda u=url: _notify_one(u, message, image_path, timeout))
        if done and outcome[0]:
            _delivered(message.id, url, mark=True)
            continue
        why = outcome[1] if done else f"no answer within {timeout:g} s"
        failures.append(f"{privacy_url(url)}: {why}")
    if not failures:
        return OK, None
    return DeliveryResult(ok=False, retry=True, error=scrub("apprise: " + "; ".join(failures), secrets(options))), None
