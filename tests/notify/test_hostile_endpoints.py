"""Endpoints that misbehave: redirects, huge replies, no reply, long Retry-After; and the journal's one lock."""

from __future__ import annotations

import json
import threading
import time

from tests.notify.test_delivery import delivery, message
from tests.servers import Endpoint
from yolo_hooks.notify import journal as journals
from yolo_hooks.notify.outbox import read


def test_a_redirect_is_not_followed_but_a_clear_failure_naming_the_location_kept_in_the_outbox(endpoint, tmp_path):
    other = Endpoint().start()  # where the 302 points: a host nobody configured
    try:
        endpoint.mode, endpoint.location = "302", other.url.replace("/hook/", "/moved/")
        logs: list = []
        d = delivery(endpoint.url, tmp_path, logs)
        m = message()
        result = d.send(m)
        assert not result.ok and result.permanent and result.attempts == 1  # not retried
        assert other.requests == []  # the signed headers never went there
        assert f"redirect to http://127.0.0.1:{other.port}/" in result.error
        errors = [text for level, text in logs if level == "error"]
        assert len(errors) == 1 and "HTTP 302 redirect" in errors[0] and "TOKEN" not in errors[0]
        d.submit(message(2))
        d.flush(5)
        records, _ = read(tmp_path / "outbox.jsonl")
        assert len(records) == 1 and records[0]["reason"].startswith("rejected: HTTP 302 redirect to")
    finally:
        other.stop()


def test_only_a_small_prefix_of_a_huge_reply_is_read(endpoint, tmp_path):
    endpoint.mode = "huge"  # 200 with a 50 MB body
    d = delivery(endpoint.url, tmp_path)
    start = time.monotonic()
    assert d.send(message()).ok
    time.sleep(0.2)  # let the server notice the closed connection
    assert endpoint.bytes_sent < 20 * 1024 * 1024, endpoint.bytes_sent  # all 50 MB went through before
    assert time.monotonic() - start < 5


def test_replies_under_the_limit_keep_the_connection_for_reuse(endpoint, tmp_path):
    d = delivery(endpoint.url, tmp_path)
    for i in range(3):
        assert d.send(message(i)).ok
    assert len({r["client_port"] for r in endpoint.requests}) == 1


def test_a_destination_known_down_is_not_waited_for_at_the_end(dead_url, tmp_path):
    d = delivery(dead_url, tmp_path, retries=5, backoff=0.2, max_backoff=0.2)
    d.submit(message(1))
    deadline = time.monotonic() + 5
    while d.down is None and time.monotonic() < deadline:  # its first attempt was refused
        time.sleep(0.01)
    assert d.down == "connection refused"
    d.submit(message(2))
    start = time.monotonic()
    assert d.flush(10) == 2  # both in the outbox at once, not after 10 s of back-off that cannot succeed
    assert time.monotonic() - start < 2


def test_a_reply_lost_on_a_live_connection_is_retried_within_the_end_of_run_wait(endpoint, tmp_path):
    endpoint.cycle("drop", "ok")  # took the message, then hung up: the server is up, the next attempt succeeds
    d = delivery(endpoint.url, tmp_path, retries=5, backoff=0.5, max_backoff=0.5)
    d.submit(message())
    deadline = time.monotonic() + 5
    while not endpoint.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # in its back-off before the retry, as a run's end may find it
    assert d.down is None
    assert d.flush(10) == 0 and d.delivered == 1
    assert not (tmp_path / "outbox.jsonl").exists() and len(endpoint.requests) == 2


def test_a_retry_after_beyond_the_wait_is_not_waited_for(endpoint, tmp_path):
    endpoint.mode, endpoint.retry_after = "429", 3600
    d = delivery(endpoint.url, tmp_path, retries=5)
    d.submit(message())
    deadline = time.monotonic() + 5
    while not endpoint.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)
    start = time.monotonic()
    assert d.flush(10) == 1
    assert time.monotonic() - start < 2
    records, _ = read(tmp_path / "outbox.jsonl")
    assert len(records) == 1 and len(endpoint.requests) == 1


def test_a_message_journaled_while_another_settles_keeps_its_journal(endpoint, tmp_path, monkeypatch):
    """The race: submit journals message 2 while the worker settles message 1 (the journal's last entry)."""
    endpoint.delay = 3
    endpoint.script("ok", "slow")  # message 1 answered at once; message 2 hangs 3 s in its request
    d = delivery(endpoint.url, tmp_path, timeout=10)
    d.submit(message(1))
    real = journals.journal_queued

    def journal_slowly(*args, **kwargs):  # widen the window between journaling and registering message 2
        real(*args, **kwargs)
        deadline = time.monotonic() + 5
        while d.delivered < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.3)  # message 1 is settled inside this window (or waits for it)

    monkeypatch.setattr(journals, "journal_queued", journal_slowly)
    second = message(2)
    submitter = threading.Thread(target=d.submit, args=(second,))
    submitter.start()
    submitter.join(10)
    time.sleep(0.5)  # message 2 is in its slow request now: pending
    journal = journals.journal_path(tmp_path / "outbox.jsonl", d.destination)
    assert journal.exists(), "the journal of a pending message was deleted"
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    queued = {e["id"] for e in entries if e["op"] == "queued"}
    done = {e["id"] for e in entries if e["op"] == "done"}
    assert second.id in queued - done
    assert d.flush(10) == 0 and not journal.exists()


def test_notify_test_says_a_redirected_destination_failed(tmp_path, endpoint, capsys):
    from tests.notify.test_cli import write_hooks
    from yolo_hooks import cli

    other = Endpoint().start()
    try:
        endpoint.mode, endpoint.location = "302", other.url
        hooks = write_hooks(tmp_path, f"notify:\n  - {{format: json, url: '{endpoint.url}'}}\n")
        assert cli.main(["notify-test", str(hooks)]) == 1  # it printed OK: the other server's 200 counted
        out = capsys.readouterr().out
        assert "HTTP 302 redirect to http://127.0.0.1:" in out and "0/1 destination(s) OK" in out
        assert other.requests == [] and "TOKEN" not in out
    finally:
        other.stop()
