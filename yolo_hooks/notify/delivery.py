"""Background delivery to one destination: connection reuse, timeout, retries, Retry-After, rate limit, outbox.

The training thread only calls :meth:`Delivery.submit` (a deque append). One daemon worker per destination
builds the request (:mod:`yolo_hooks.notify.formats`), sends it over a reused ``requests.Session`` and reads the
verdict from the format's ``check_response``:

- delivered: done;
- transient (connection refused, timeout, 429, 5xx, the service's own "rate limited" reply): retried up to
  ``retries`` times by the one retry policy (:mod:`yolo_hooks.core.retry`: ``Retry-After`` first, else
  exponential back-off with full jitter);
- permanent (a 4xx that retrying cannot fix: revoked webhook, bad payload; any 3xx): not retried, logged once.

Redirects are never followed (Standard Webhooks says the same): a 3xx would turn the POST into a body-less GET to
a host nobody configured, with the signed headers. At most 64 KiB of a reply are read, streamed (:mod:`.http`).

Every message is journaled before it is queued (:mod:`yolo_hooks.notify.outbox`), so nothing needs waiting for
twice: a message that failed for good goes to the outbox at once; at the end of the run :meth:`Delivery.flush`
waits at most the time it is given (not at all when this destination is known down in this run, or asked for a
wait that ends after the deadline), then interrupts back-off waits and writes everything still queued or in flight
to the outbox, where ``yolo-hooks outbox replay`` picks it up. Delivery is at least once: a message whose slow
reply arrives after it was written to the outbox is sent again on replay, with the same id for the receiver to
dedup.
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..core.deadline import Deadline, at_exit
from ..core.redact import redact_url
from ..core.retry import RetryPolicy
from ..core.worker import BackgroundWorker
from . import http, images
from . import outbox as outbox_file
from .formats import DeliveryResult
from .message import Message

# Documented per-destination limits, used when `rate_limit` is not given (messages per minute).
FORMAT_RATE_LIMITS = {"slack": 60, "discord": 30, "wecom": 20, "dingtalk": 20, "feishu": 60, "telegram": 20}


@dataclass(frozen=True)
class Destination:
    """The non-secret identity of a destination, as written to the outbox and printed by the CLI.

    Attributes:
        name: the hook's name (``notify_slack`` unless the config names it).
        format: ``json``, ``slack``...
        target: where it goes with secrets hidden (``https://hooks.slack.com/***``, ``telegram chat 1234``).
        key: a fingerprint of format and target (a hash, not reversible) to match outbox lines on replay.
    """

    name: str
    format: str
    target: str
    key: str

    @classmethod
    def of(cls, name: str, fmt: str, options: Mapping[str, Any]) -> Destination:
        """The identity of ``fmt`` with ``options`` (secrets hashed or redacted)."""
        if fmt == "telegram":
            raw, target = f"{options.get('chat_id')}", f"telegram chat {options.get('chat_id')}"
        elif fmt == "email":
            to = options.get("to") or []
            raw = ",".join([to] if isinstance(to, str) else to)
            target = f"smtp://{options.get('smtp_host')} to {raw}"
        else:
            raw = str(options.get("url") or "")
            target = redact_url(raw)
        key = hashlib.sha256(f"{fmt}\0{raw}".encode()).hexdigest()[:16]
        return cls(name=name, format=fmt, target=target, key=key)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"name": self.name, "format": self.format, "target": self.target, "key": self.key}


@dataclass(frozen=True)
class Attempt:
    """The end of one message's delivery: delivered, or why not."""

    ok: bool
    attempts: int
    error: str | None = None
    permanent: bool = False  # rejected by the service: retrying cannot help
    aborted: bool = False  # the end-of-run flush ran out of time


class _Job:
    """One queued message (a callable for the worker that the flush can still read the message from)."""

    __slots__ = ("delivery", "message")

    def __init__(self, delivery: Delivery, message: Message):
        self.delivery, self.message = delivery, message

    def __call__(self) -> None:
        self.delivery._run_job(self.message)


class Delivery:
    """Sends messages to one destination on a background thread; what cannot be delivered goes to the outbox.

    Args:
        destination: who this is (written to the outbox with each undelivered message).
        options: format options, secrets included (``url``, ``secret``, ``bot_token``, SMTP settings...).
        timeout: seconds for one HTTP request (connect and read) or SMTP session.
        retries: retries after the first attempt for transient failures.
        backoff, max_backoff: back-off base and cap in seconds (full jitter).
        rate_limit: at most this many messages per ``rate_window`` seconds (``None``: the service's documented
            per-minute limit, if it has one).
        rate_window: the rate limit's sliding window in seconds (a minute).
        flush_timeout: seconds :meth:`flush` waits by default (the end of a run passes what is left of its one
            deadline; the interpreter's exit shares one deadline among all deliveries).
        outbox: the JSONL file for undelivered messages.
        log: ``log(text, level)`` (the hook's, which scrubs secrets).
        secrets: strings scrubbed from outbox lines.

    Examples:
        >>> d = Delivery(Destination.of("hook", "json", {"url": url}), {"url": url}, outbox="o.jsonl")  # doctest: +SKIP
        >>> d.submit(message); d.flush(10)  # doctest: +SKIP
        0
    """

    def __init__(
        self,
        destination: Destination,
        options: Mapping[str, Any],
        *,
        timeout: float = 10,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60,
        rate_limit: float | None = None,
        rate_window: float = 60.0,
        flush_timeout: float = 10,
        outbox: str | Path = outbox_file.FALLBACK_OUTBOX,
        log: Callable[[str, str], None] | None = None,
        secrets: tuple[str, ...] = (),
    ):
        self.destination = destination
        self.options = dict(options)
        self.timeout, self.retries, self.backoff, self.max_backoff = timeout, retries, backoff, max_backoff
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max_backoff)
        self.rate_limit = FORMAT_RATE_LIMITS.get(destination.format) if rate_limit is None else rate_limit
        self.rate_window = rate_window
        self.flush_timeout = flush_timeout
        self.outbox = Path(outbox)
        self.secrets = tuple(secrets)
        self._log = log or (lambda text, level: None)
        self.delivered = 0  # messages delivered
        self.outboxed = 0  # messages written to the outbox
        self._worker: BackgroundWorker | None = None
        self._session = None
        self._abort = threading.Event()  # set by a flush that ran out of time: back-off sleeps end at once
        self._lock = threading.Lock()
        self._handed_over: set[str] = set()  # ids already in the outbox: their job stops retrying
        self._current: Message | None = None
        self._sent_at: collections.deque[float] = collections.deque()  # attempt times in the last minute
        self._logged: set[str] = set()
        self._failing = False
        self.down: str | None = None  # why this destination is known down in this run (refused, timed out)
        self._next_attempt: float | None = None  # monotonic time a back-off / Retry-After wait ends
        self._journals: dict[str, Path] = {}  # message id -> its journal, until the message is settled
        self._checked: set[Path] = set()  # journals already looked at for a killed run's leftovers

    # --- the training thread ----------------------------------------------------------------------------------
    def submit(self, message: Message) -> None:
        """Journal ``message`` and queue it for the worker (microseconds; starts the thread on first use)."""
        if self._worker is None:
            self._worker = BackgroundWorker(f"notify-{self.destination.name}")
        _LIVE.add(self)
        journal = outbox_file.journal_path(self.outbox, self.destination)
        if journal not in self._checked:  # a killed earlier run (resume reuses its folder) may have left one
            self._checked.add(journal)
            with self._lock:
                ours = journal in self._journals.values()
            if not ours and journal.exists():
                moved = outbox_file.recover(journal)
                if moved:
                    self._log(f"{moved} message(s) left in flight by a killed run were moved to {self.outbox}",
                              "warning")
        try:  # write-ahead: a SIGKILL before delivery leaves it here, and the next start moves it to the outbox
            record = outbox_file.make_record(message, self.destination, outbox_file.KILLED)
            with self._lock:  # registered and written as one step: _settled never drops a journal in between
                self._journals[message.id] = journal
                try:
                    outbox_file.journal_queued(journal, self.outbox, record, self.secrets)
                except OSError:
                    self._journals.pop(message.id, None)
                    raise
        except OSError as e:
            self._log_once("journal", f"cannot write the notification journal {journal}: {e}", "warning")
        self._worker.submit(_Job(self, message))

    def _settled(self, messages: list[Message]) -> None:
        """Delivered or in the outbox: strike them from their journal; drop journals with nothing pending."""
        with self._lock:  # the same lock as submit's journal write: no message is journaled while we decide
            journals = [(m.id, self._journals.pop(m.id)) for m in messages if m.id in self._journals]
            for message_id, journal in journals:
                try:
                    outbox_file.journal_done(journal, message_id)
                except OSError:
                    pass  # the message is settled; at worst the next start re-queues it to the outbox (at least once)
            for journal in {j for _, j in journals} - set(self._journals.values()):
                journal.unlink(missing_ok=True)

    def pending(self) -> int:
        """Messages queued or being sent."""
        return 0 if self._worker is None else self._worker.pending()

    def flush(self, timeout: float | None = None, reason: str = "undelivered at end of run") -> int:
        """Wait up to ``timeout`` seconds (default ``flush_timeout``) for the queue to empty; write the rest to the
        outbox. Returns how many messages went to the outbox.

        No wait at all when the destination is known down in this run (connection refused or timed out at the last
        attempt) or when its next attempt would come after the wait: the journal already holds every message, so
        the outbox gets them now instead of after a wait that cannot succeed.
        """
        if self._worker is None:
            return 0
        timeout = self.flush_timeout if timeout is None else timeout
        if self.hopeless(timeout):
            timeout = 0.0
        if self._worker.flush(timeout):
            return 0
        aborted = self._abort
        aborted.set()  # the message in back-off stops waiting; the one in a slow request is written now anyway
        messages = [job.message for job in self._worker.drain() if isinstance(job, _Job)]
        current = self._current
        if current is not None and all(m.id != current.id for m in messages):
            messages.insert(0, current)
        self._abort = threading.Event()  # messages submitted later (a val after training) are delivered normally
        return self._hand_over(messages, reason)

    def hopeless(self, within: float) -> bool:
        """True when waiting ``within`` seconds for this destination cannot deliver what is queued."""
        next_attempt = self._next_attempt
        return self.down is not None or (next_attempt is not None and next_attempt > time.monotonic() + within)

    # --- the worker thread ------------------------------------------------------------------------------------
    def _run_job(self, message: Message) -> None:
        abort = self._abort
        self._current = message
        try:
            result = self.send(message, abort)
        finally:
            self._current = None
        if result.ok:
            self._settled([message])
            return
        if result.aborted:
            reason = "undelivered at end of run"
        elif result.permanent:
            reason = f"rejected: {result.error}"
        else:
            reason = f"unreachable after {result.attempts} attempts: {result.error}"
        self._hand_over([message], reason, attempts=result.attempts)

    def send(
        self, message: Message, abort: threading.Event | None = None, retries: int | None = None, report: bool = True
    ) -> Attempt:
        """Deliver ``message`` now, on the calling thread, with retries; the worker, replay and notify-test use it.

        ``report=False``: do not log failures (the caller prints the result itself, as the CLI commands do).
        """
        abort = abort or threading.Event()
        policy = self.policy if retries is None else RetryPolicy(retries, self.backoff, self.max_backoff)
        attempts, error = 0, None
        while True:
            if message.id in self._handed_over or not self._wait_for_rate_limit(abort):
                return Attempt(False, attempts, error, aborted=True)
            attempts += 1
            result = self._attempt(message)
            if result.ok:
                self.delivered += 1
                self.down = None
                if self._failing:
                    self._failing = False
                    self._log(f"delivering again to {self.destination.target}", "info")
                return Attempt(True, attempts)
            error = result.error or "failed"
            if not result.retry:
                if report:
                    self._log_once(
                        f"rejected:{error}",
                        f"{self.destination.target} rejected a {message.event} message: {error}. Not retried "
                        f"(retrying cannot fix this: check the URL / token / chat settings); the message is kept in "
                        f"the outbox.",
                        "error",
                    )
                return Attempt(False, attempts, error, permanent=True)
            if not policy.should_retry(attempts):
                self._failing = True
                if report:
                    self._log_once(
                        f"unreachable:{error}",
                        f"could not deliver to {self.destination.target} after {attempts} attempts ({error}); "
                        f"undelivered messages are kept in the outbox for `yolo-hooks outbox replay`",
                        "warning",
                    )
                return Attempt(False, attempts, error)
            delay = policy.delay(attempts, result.retry_after)
            self._next_attempt = time.monotonic() + delay
            try:
                if policy.sleep(delay, abort):
                    return Attempt(False, attempts, error, aborted=True)
            finally:
                self._next_attempt = None

    def _wait_for_rate_limit(self, abort: threading.Event) -> bool:
        """Sliding window: at most ``rate_limit`` attempts in any ``rate_window`` s. False when the flush aborted."""
        if not self.rate_limit:
            return True
        while True:
            now = time.monotonic()
            while self._sent_at and self._sent_at[0] <= now - self.rate_window:
                self._sent_at.popleft()
            if len(self._sent_at) < self.rate_limit:
                self._sent_at.append(now)
                return True
            if abort.wait(self._sent_at[0] + self.rate_window - now):
                return False

    def _attempt(self, message: Message) -> DeliveryResult:
        """One try: build the request, send it, classify the reply (or the exception) into a DeliveryResult."""
        fmt = self.destination.format
        if fmt == "email":
            from .formats import email

            try:
                email.send_email(images.build_email(message, self.options), self.options, self.timeout)
            except Exception as e:  # the classifier decides: 4xx SMTP transient, 5xx permanent, network transient
                if isinstance(e, (ConnectionRefusedError, TimeoutError)):
                    self.down = f"{type(e).__name__}"
                return email.classify_smtp_error(e)
            return DeliveryResult(ok=True)
        try:
            request = images.build_request(fmt, message, self.options)  # reads a snapshot image, if any
        except Exception as e:  # a payload we cannot build will not build better later
            return DeliveryResult(ok=False, retry=False, error=f"could not build the {fmt} request: {e}")
        if self._session is None:
            self._session = http.new_session(request.url)  # one connection pool per destination, reused for each message
        result, self.down = http.send(self._session, request, fmt, self.timeout)
        return result

    # --- outbox -----------------------------------------------------------------------------------------------
    def _hand_over(self, messages: list[Message], reason: str, attempts: int | None = None) -> int:
        """Write ``messages`` to the outbox once each (the flush and the worker may both give up on one)."""
        with self._lock:
            fresh = [m for m in messages if m.id not in self._handed_over]
            self._handed_over.update(m.id for m in fresh)
        if not fresh:
            return 0
        records = [outbox_file.make_record(m, self.destination, reason, attempts) for m in fresh]
        try:
            outbox_file.append(self.outbox, records, self.secrets)
        except OSError as e:
            self._log(f"could not write {len(fresh)} message(s) to the outbox {self.outbox}: {e}; they stay in "
                      f"the journal next to it and are recovered at the next start or `yolo-hooks outbox`", "error")
            return 0
        self._settled(fresh)
        self.outboxed += len(fresh)
        return len(fresh)

    def _log_once(self, key: str, text: str, level: str) -> None:
        if key not in self._logged:
            self._logged.add(key)
            self._log(text, level)

    def close(self, timeout: float = 0.0) -> bool:
        """Let the worker thread end once idle (waiting up to ``timeout`` s for it) and close the connection pool;
        the object stays usable (a later submit starts a new thread). True when no thread is left."""
        ended = True
        if self._worker is not None:
            self._worker.close()
            ended = self._worker.join(timeout)
        if self._session is not None and ended:
            self._session.close()
            self._session = None
        _LIVE.discard(self)
        return ended


# Deliveries with work that outlives a training's end (messages sent after a predict, a val, an export): the
# interpreter's exit gives them all one shared deadline, once (a delivery already flushed has nothing pending).
_LIVE: weakref.WeakSet[Delivery] = weakref.WeakSet()


def _flush_at_exit(deadline: Deadline) -> None:
    for delivery in list(_LIVE):
        if delivery.pending():
            delivery.flush(deadline.left(), reason="undelivered at interpreter exit")


at_exit(_flush_at_exit, last=True)
