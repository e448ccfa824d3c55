"""The one retry policy: exponential back-off with full jitter, the service's ``Retry-After`` first, and waits that
the end of a run can cut short.

Used by notification delivery (HTTP and SMTP) and by the best.pt mirror (folder and fsspec uploads). Why not
urllib3's ``Retry``: it retries only HTTP requests inside one connection pool (our retried work is also SMTP
sessions and file uploads), and it sleeps with ``time.sleep`` inside the request, so a ``Retry-After: 3600`` or a
long back-off could not be interrupted by the end-of-run deadline. The policy here only decides *how long*; the
caller waits on a :class:`threading.Event` that the end of the run sets.

Examples:
    >>> policy = RetryPolicy(retries=3, backoff=1.0, max_backoff=5.0)
    >>> 0 <= policy.delay(attempt=2) <= 2.0        # uniform(0, min(max_backoff, backoff * 2**(attempt-1)))
    True
    >>> policy.delay(attempt=1, retry_after=7.5)   # the service's own wait wins
    7.5
    >>> policy.sleep(0.01, abort=None)             # False: not aborted
    False
"""

from __future__ import annotations

import collections
import random
import threading
import time
from dataclasses import dataclass

RETRY_AFTER_CAP = 3600.0  # a service asking for more than an hour is down; the end-of-run deadline ends it anyway


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to wait between attempts.

    Attributes:
        retries: attempts after the first one.
        backoff: base delay in seconds (the first retry waits up to this long).
        max_backoff: cap of one back-off delay.
    """

    retries: int = 5
    backoff: float = 1.0
    max_backoff: float = 60.0

    def should_retry(self, attempts: int) -> bool:
        """True when ``attempts`` (made so far) leave a retry."""
        return attempts <= self.retries

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: ``Retry-After`` when the service gave one (at most an hour),
        else full jitter over ``[0, min(max_backoff, backoff * 2**(attempt-1))]`` so that many runs do not retry
        in lock-step."""
        if retry_after is not None:
            return min(max(0.0, retry_after), RETRY_AFTER_CAP)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** max(0, attempt - 1)))

    @staticmethod
    def sleep(seconds: float, abort: threading.Event | None) -> bool:
        """Wait ``seconds``; True when ``abort`` was set meanwhile (the caller gives up at once)."""
        if abort is None:
            abort = threading.Event()
        return abort.wait(max(0.0, seconds))


class RateLimit:
    """A sliding window: at most ``limit`` attempts in any ``window`` seconds (one worker thread uses it).

    Examples:
        >>> rate = RateLimit(limit=2, window=60)
        >>> rate.wait(abort=None), rate.wait(abort=None)   # two attempts go at once; a third would wait a minute
        (True, True)
    """

    def __init__(self, limit: float | None, window: float = 60.0):
        self.limit, self.window = limit, window
        self._sent_at: collections.deque[float] = collections.deque()  # attempt times inside the window

    def wait(self, abort: threading.Event | None) -> bool:
        """Wait until one more attempt fits in the window, and count it; False when ``abort`` was set meanwhile."""
        if not self.limit:
            return True
        abort = abort or threading.Event()
        while True:
            now = time.monotonic()
            while self._sent_at and self._sent_at[0] <= now - self.window:
                self._sent_at.popleft()
            if len(self._sent_at) < self.limit:
                self._sent_at.append(now)
                return True
            if abort.wait(self._sent_at[0] + self.window - now):
                return False
