"""Background delivery to one destination: connection reuse, timeout, retries, Retry-After, rate limit, outbox.

The thread that sends only calls :meth:`Delivery.submit` (a journal line and a queue entry; during a training that
is the bus' writer, not the training thread). One daemon worker per destination builds the request
(:mod:`yolo_hooks.notify.formats`), sends it over one kept-alive connection (:mod:`.http`) and reads the verdict from
the format's ``check_response`` (a format that delivers itself, e-mail, is handed the message and gives the
verdict):

- delivered: done;
- transient (connection refused, timeout, 429, 5xx, the service's own "rate limited" reply): retried up to
  ``retries`` times by the one retry policy (:mod:`yolo_hooks.core.retry`: ``Retry-After`` first, else
  exponential back-off with full jitter);
- permanent (a 4xx that retrying cannot fix: revoked webhook, bad payload; any 3xx): not retried, logged once.

Redirects are never followed (Standard Webhooks says the same): a 3xx would turn the POST into a body-less GET to
a host nobody configured, with the signed headers. At most 64 KiB of a reply are read, streamed (:mod:`.http`).

Every message is journaled before it is queued (:mod:`yolo_hooks.notify.journal`), so nothing needs waiting for
twice: a message that failed for good goes to the outbox at once; at the end of the run :meth:`Delivery.flush`
waits at most the time it is given (not at all when this destination is known down in this run, or asked for a
wait that ends after the deadline), then interrupts back-off waits and writes everything still queued or in flight
to the outbox, where ``yolo-hooks outbox replay`` picks it up. Delivery is at least once: a message whose slow
reply arrives after it was written to the outbox is sent again on replay, with the same id for the receiver to
dedup.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ..core.deadline import Deadline, at_exit
from ..core.retry import RateLimit, RetryPolicy
from ..core.worker import BackgroundWorker
from . import formats, http, images
from . import outbox as outbox_file
from .destination import Destination
from .formats import DeliveryResult, rate_limit_of
from .journal import Journal, journal_path
from .message import Message

__all__ = ["Attempt", "Delivery", "Destination"]

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
        options: the format's options (its ``OPTIONS``, validated), secrets included.
        timeout: seconds for one HTTP request in all (connect, send, the whole reply), or one self-delivered send
            (an SMTP session).
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
        self.rate_limit = rate_limit_of(destination.format, rate_limit, options)
        self.rate_window = rate_window
        self._rate = RateLimit(self.rate_limit, rate_window)
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
        self._unsettled: dict[str, Message] = {}  # submitted, neither delivered nor in the outbox yet (in order)
        self._logged: set[str] = set()
        self._failing = False
        self.down: str | None = None  # why this destination is known down in this run (refused, timed out)
        self._next_attempt: float | None = None  # monotonic time a back-off / Retry-After wait ends
        self.journal = Journal(self._log)  # write-ahead: what was queued and not yet settled

    # --- the calling thread -----------------------------------------------------------------------------------
    def hold(self) -> None:
        """Start the worker's thread now and keep it, and the journal file, until :meth:`close` (a training: see
        ``BackgroundWorker.hold`` and ``Journal.hold``)."""
        self._get_worker().hold()
        self.journal.hold()

    def _get_worker(self) -> BackgroundWorker:
        if self._worker is None:
            self._worker = BackgroundWorker(f"notify-{self.destination.name}")
        return self._worker

    def submit(self, message: Message) -> None:
        """Journal ``message`` and queue it for the worker (microseconds; starts the thread on first use)."""
        worker = self._get_worker()
        _LIVE.add(self)
        with self._lock:
            self._unsettled[message.id] = message
        journal = self._journal_path()
        try:  # write-ahead: a SIGKILL before delivery leaves it there, and the next start moves it to the outbox
            self.journal.note(journal, message, self.destination, self.outbox, self.secrets)
        except OSError as e:
            self._log_once("journal", f"cannot write the notification journal {journal}: {e}", "warning")
        worker.submit(_Job(self, message))

    def _journal_path(self) -> Path:
        """The journal of this destination's outbox: made once while neither is replaced (one Path per message
        otherwise, then hashed again by the journal's bookkeeping)."""
        outbox, destination = self.outbox, self.destination
        cached = self.__dict__.get("_journal")
        if cached is None or cached[0] is not outbox or cached[1] is not destination:
            cached = self._journal = (outbox, destination, journal_path(outbox, destination))
        return cached[2]

    def pending(self) -> int:
        """Messages queued or being sent."""
        return 0 if self._worker is None else self._worker.pending()

    def unsettled(self) -> int:
        """Messages submitted and neither delivered nor in the outbox."""
        with self._lock:
            return len(self._unsettled)

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
        self._worker.drain()  # never started: the worker will not take them now
        with self._lock:  # every message not settled, wherever the worker is with it (taken, sending, backing off)
            messages = list(self._unsettled.values())
        self._abort = threading.Event()  # messages submitted later (a val after training) are delivered normally
        return self._hand_over(messages, reason)

    def hopeless(self, within: float) -> bool:
        """True when waiting ``within`` seconds for this destination cannot deliver what is queued."""
        next_attempt = self._next_attempt
        return self.down is not None or (next_attempt is not None and next_attempt > time.monotonic() + within)

    # --- the worker thread ------------------------------------------------------------------------------------
    def _run_job(self, message: Message) -> None:
        abort = self._abort
        result = self.send(message, abort)
        if result.ok:
            with self._lock:
                self._unsettled.pop(message.id, None)
            self.journal.settle([message])
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
            if message.id in self._handed_over or not self._rate.wait(abort):
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

    def _attempt(self, message: Message) -> DeliveryResult:
        """One try: build the request, send it, classify the reply (or the exception) into a DeliveryResult; or,
        for a format that delivers itself (e-mail), its ``deliver`` with the message's image read now."""
        fmt = self.destination.format
        module = formats.format_module(fmt)
        if hasattr(module, "deliver"):
            try:
                message, image = images.prepare(module, message)  # reads the message's image, if any
                result, self.down = module.deliver(message, self.options, self.timeout, image)
            except Exception as e:  # a format that broke its promise not to raise: not retried, kept in the outbox
                return DeliveryResult(ok=False, retry=False, error=f"{fmt} could not send: {type(e).__name__}: {e}")
            return result
        try:
            request = images.build_request(fmt, message, self.options)  # reads the message's image, if any
        except Exception as e:  # a payload we cannot build will not build better later
            return DeliveryResult(ok=False, retry=False, error=f"could not build the {fmt} request: {e}")
        if self._session is None:
            self._session = http.Session(request.url)  # one kept-alive connection per destination
        result, self.down = http.send(self._session, request, fmt, self.timeout)
        return result

    # --- outbox -----------------------------------------------------------------------------------------------
    def _hand_over(self, messages: list[Message], reason: str, attempts: int | None = None) -> int:
        """Write ``messages`` to the outbox once each (the flush and the worker may both give up on one)."""
        with self._lock:
            fresh = [m for m in messages if m.id not in self._handed_over]
            self._handed_over.update(m.id for m in fresh)
            for m in fresh:
                self._unsettled.pop(m.id, None)
        if not fresh:
            return 0
        records = [outbox_file.make_record(m, self.destination, reason, attempts) for m in fresh]
        try:
            outbox_file.append(self.outbox, records, self.secrets)
        except OSError as e:
            self._log(f"could not write {len(fresh)} message(s) to the outbox {self.outbox}: {e}; they stay in "
                      f"the journal next to it and are recovered at the next start or `yolo-hooks outbox`", "error")
            return 0
        self.journal.settle(fresh)
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
        self.journal.release()
        _LIVE.discard(self)
        return ended


# Deliveries with work that outlives a training's end (messages sent after a predict, a val, an export): the
# interpreter's exit gives them all one shared deadline, once (a delivery already flushed has nothing pending).
_LIVE: weakref.WeakSet[Delivery] = weakref.WeakSet()


def _flush_at_exit(deadline: Deadline) -> None:
    """Each delivery waits its ``flush_timeout`` at most, all at the same time (within the one exit deadline);
    then every message not yet settled is in the outbox."""
    waiting = [(delivery, Deadline(deadline.left(delivery.flush_timeout))) for delivery in list(_LIVE)]
    for delivery, allowance in waiting:
        if delivery.unsettled():
            try:
                delivery.flush(allowance.left(), reason="undelivered at interpreter exit")
            except Exception:  # noqa: BLE001 (the others still get their turn; the journal keeps this one's)
                pass


at_exit(_flush_at_exit, last=True)
