"""The one background worker (in order, or latest wins) and the one retry policy."""

from __future__ import annotations

import threading
import time

import pytest

from tests.helpers import live_threads
from yolo_hooks.core.retry import RETRY_AFTER_CAP, RetryPolicy
from yolo_hooks.core.worker import BackgroundWorker


def test_tasks_run_in_order_and_the_thread_ends_once_closed():
    done: list[int] = []
    worker = BackgroundWorker("order")
    for i in range(5):
        worker.submit(lambda i=i: done.append(i))
    assert worker.flush(5) and done == [0, 1, 2, 3, 4]
    worker.close()
    assert worker.join(5) and not worker.alive
    worker.submit(lambda: done.append(5))  # usable again: a new thread
    assert worker.flush(5) and done[-1] == 5
    worker.close()
    assert worker.join(5)


def test_an_idle_thread_ends_by_itself_after_linger_seconds():
    worker = BackgroundWorker("linger", linger=0.1)
    worker.submit(lambda: None)
    assert worker.flush(5)
    deadline = time.monotonic() + 5
    while worker.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not worker.alive  # the old worker polled every second, forever


def test_a_held_thread_stays_idle_past_linger_until_closed_then_lingers_again():
    worker = BackgroundWorker("held", linger=0.05)
    worker.hold()  # started at once, before any task
    assert worker.alive
    time.sleep(0.3)
    assert worker.alive  # held: idle for six lingers
    worker.close()
    assert worker.join(5) and not worker.alive
    worker.submit(lambda: None)  # a later use lingers as constructed
    assert worker.flush(5)
    deadline = time.monotonic() + 5
    while worker.alive and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not worker.alive


def test_a_woken_idle_worker_lets_the_event_that_queued_its_work_finish_first():
    """Work is queued from inside a callback: an idle worker that wakes for it waits `settle` seconds first, so the
    training thread runs the event's other callbacks without waiting for the GIL; work queued behind it does not
    wait again."""
    worker = BackgroundWorker("settle", settle=0.5)
    worker.start()
    time.sleep(0.2)  # the thread is up and waiting for work
    started: list[float] = []
    queued = time.monotonic()
    for _ in range(2):
        worker.submit(lambda: started.append(time.monotonic()))
    assert worker.flush(5)
    assert started[0] - queued >= 0.5
    assert started[1] - started[0] < 0.5
    worker.close()
    assert worker.join(5)


def test_latest_wins_replaces_a_waiting_task_of_the_same_slot_never_the_running_one():
    release, started, processed, skipped, replaced = threading.Event(), threading.Event(), [], [], []

    def process(task):
        started.set()
        release.wait(5)
        processed.append(task)

    worker = BackgroundWorker("latest", process, on_replace=lambda old, new: replaced.append((old, new)),
                              on_skip=skipped.append)
    worker.submit("best 1", slot="best")
    assert started.wait(5)  # running: never interrupted
    worker.submit("best 2", slot="best")
    worker.submit("last 2", slot="last")
    worker.submit("best 3", slot="best")  # replaces "best 2", queued after "last 2"
    worker.submit("note")  # no slot: in order, never replaced
    release.set()
    assert worker.flush(5)
    assert processed == ["best 1", "last 2", "best 3", "note"]
    assert skipped == ["best 2"] and replaced == [("best 2", "best 3")]
    worker.close()
    assert worker.join(5)


def test_no_thread_of_ours_is_left_after_close():
    workers = [BackgroundWorker(f"w{i}") for i in range(3)]
    for w in workers:
        w.submit(lambda: time.sleep(0.05))
    for w in workers:
        w.close()
    assert all(w.join(5) for w in workers)
    assert [t.name for t in live_threads() if t.name.startswith("yolo_hooks-w")] == []


@pytest.mark.parametrize("attempt, cap", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)])
def test_backoff_is_exponential_with_full_jitter_and_capped(attempt, cap):
    policy = RetryPolicy(retries=3, backoff=1.0, max_backoff=5.0)
    delays = [policy.delay(attempt) for _ in range(300)]
    assert 0 <= min(delays) and max(delays) <= cap
    assert max(delays) > cap * 0.8 and min(delays) < cap * 0.2


@pytest.mark.parametrize("retry_after, wait", [(7.5, 7.5), (0, 0.0), (-3, 0.0), (86400, RETRY_AFTER_CAP)])
def test_retry_after_wins_over_backoff_and_is_capped(retry_after, wait):
    assert RetryPolicy(backoff=100).delay(1, retry_after) == wait


@pytest.mark.parametrize("attempts, retry", [(1, True), (3, True), (4, False)])
def test_retries_count_after_the_first_attempt(attempts, retry):
    assert RetryPolicy(retries=3).should_retry(attempts) is retry


def test_a_wait_ends_at_once_when_aborted():
    abort = threading.Event()
    threading.Timer(0.1, abort.set).start()
    start = time.monotonic()
    assert RetryPolicy.sleep(3600, abort) is True
    assert time.monotonic() - start < 2
