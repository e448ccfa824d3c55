"""Background delivery against real loopback endpoints: retries, Retry-After, 4xx, rate limit, flush, outbox."""

from __future__ import annotations

import pickle
import threading
import time

import pytest

from tests.servers import free_port
from yolo_hooks.notify import Notify
from yolo_hooks.notify.delivery import Delivery, Destination
from yolo_hooks.notify.message import Message
from yolo_hooks.notify.outbox import read


def message(i: int = 0, event: str = "alert") -> Message:
    return Message(event=event, severity="warning", title=f"message {i}", text="val loss above 10",
                   fields={"Epoch": f"{i}/10"})


def delivery(url: str, tmp_path, logs: list | None = None, **kw) -> Delivery:
    options = {"url": url}
    kw = {"timeout": 2, "retries": 3, "backoff": 0.01, "max_backoff": 0.05, "flush_timeout": 5, **kw}
    return Delivery(Destination.of("test", "json", options), options, outbox=tmp_path / "outbox.jsonl",
                    log=(lambda text, level: logs.append((level, text))) if logs is not None else None,
                    secrets=(url,), **kw)


def test_delivers_in_order_over_one_reused_connection_with_the_id_as_idempotency_key(endpoint, tmp_path):
    d = delivery(endpoint.url, tmp_path)
    sent = [message(i) for i in range(5)]
    for m in sent:
        d.submit(m)
    assert d.flush(5) == 0
    assert [r["json"]["id"] for r in endpoint.requests] == [m.id for m in sent]
    assert [r["headers"]["Idempotency-Key"] for r in endpoint.requests] == [m.id for m in sent]
    assert len({r["client_port"] for r in endpoint.requests}) == 1  # one keep-alive connection for all five
    assert d.delivered == 5 and not (tmp_path / "outbox.jsonl").exists()


@pytest.mark.parametrize("failures", [("500", "500"), ("close", "close"), ("429", "500", "close")])
def test_transient_failures_are_retried_with_the_same_id(endpoint, tmp_path, failures):
    endpoint.retry_after = 0
    endpoint.script(*failures)
    d = delivery(endpoint.url, tmp_path)
    m = message()
    result = d.send(m)
    assert result.ok and result.attempts == len(failures) + 1
    assert [r["json"]["id"] for r in endpoint.requests] == [m.id] * (len(failures) + 1)


def test_retry_after_of_a_429_is_honoured(endpoint, tmp_path):
    endpoint.retry_after = 1
    endpoint.script("429")
    d = delivery(endpoint.url, tmp_path, backoff=0, max_backoff=0)  # any wait comes from Retry-After alone
    assert d.send(message()).ok
    first, second = endpoint.requests
    assert 0.95 <= second["time"] - first["time"] < 3


def test_backoff_is_exponential_with_full_jitter_and_capped(tmp_path):
    d = delivery("http://127.0.0.1:9/x", tmp_path, backoff=1.0, max_backoff=5.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delays = [d.policy.delay(attempt, None) for _ in range(300)]
        assert 0 <= min(delays) and max(delays) <= cap
        assert max(delays) > cap * 0.8 and min(delays) < cap * 0.2  # spread over [0, cap], not a fixed step
    assert d.policy.delay(1, 7.5) == 7.5  # the service's own wait wins


def test_a_4xx_is_not_retried_logged_once_and_kept_in_the_outbox(endpoint, tmp_path):
    endpoint.mode = "400"
    logs: list = []
    d = delivery(endpoint.url, tmp_path, logs)
    sent = [message(i) for i in range(3)]
    for m in sent:
        d.submit(m)
    d.flush(5)
    assert len(endpoint.requests) == 3  # one attempt each
    errors = [text for level, text in logs if level == "error"]
    assert len(errors) == 1 and "HTTP 400 Bad Request" in errors[0] and "Not retried" in errors[0]
    records, bad = read(tmp_path / "outbox.jsonl")
    assert [r["id"] for r in records] == [m.id for m in sent] and not bad
    assert all(r["reason"].startswith("rejected: HTTP 400") for r in records)


def test_rate_limit_spaces_messages_in_a_sliding_window(endpoint, tmp_path):
    d = delivery(endpoint.url, tmp_path, rate_limit=2, rate_window=0.5)
    for i in range(6):
        d.submit(message(i))
    assert d.flush(10) == 0
    times = [r["time"] for r in endpoint.requests]
    assert len(times) == 6
    assert all(times[i + 2] - times[i] >= 0.35 for i in range(4))  # never 3 within one window (minus jitter)
    assert times[-1] - times[0] >= 0.8


def test_dead_endpoint_flush_is_bounded_interrupts_backoff_and_keeps_every_message(dead_url, tmp_path):
    logs: list = []
    d = delivery(dead_url, tmp_path, logs, retries=5, backoff=30, max_backoff=30)  # back-off sleeps of up to 30 s
    sent = [message(i) for i in range(4)]
    for m in sent:
        d.submit(m)
    start = time.monotonic()
    assert d.flush(0.5) == 4
    assert time.monotonic() - start < 2
    records, _ = read(tmp_path / "outbox.jsonl")
    assert sorted(r["id"] for r in records) == sorted(m.id for m in sent)
    assert all(r["reason"] == "undelivered at end of run" for r in records)
    time.sleep(0.3)  # the interrupted job must not write its message a second time
    assert len(read(tmp_path / "outbox.jsonl")[0]) == 4


def test_unreachable_after_all_retries_goes_to_the_outbox_at_once_and_is_logged_once(dead_url, tmp_path):
    logs: list = []
    d = delivery(dead_url, tmp_path, logs, retries=2)
    d.submit(message(1))
    d.submit(message(2))
    assert d._worker.flush(5)  # both fail for good within their retries (the run's end would not wait: known down)
    assert d.flush(5) == 0  # already in the outbox
    records, _ = read(tmp_path / "outbox.jsonl")
    assert [r["reason"] for r in records] == ["unreachable after 3 attempts: connection refused"] * 2
    warnings = [text for level, text in logs if level == "warning"]
    assert len(warnings) == 1 and "connection refused" in warnings[0]


def test_slow_endpoint_times_out_and_flush_moves_the_in_flight_message_to_the_outbox(endpoint, tmp_path):
    endpoint.mode, endpoint.delay = "slow", 3
    d = delivery(endpoint.url, tmp_path, timeout=10)
    m = message()
    d.submit(m)
    time.sleep(0.2)  # in flight
    start = time.monotonic()
    assert d.flush(0.3) == 1
    assert time.monotonic() - start < 1
    assert [r["id"] for r in read(tmp_path / "outbox.jsonl")[0]] == [m.id]


def test_no_secret_reaches_the_outbox_or_the_log(dead_url, tmp_path):
    logs: list = []
    d = delivery(dead_url, tmp_path, logs, retries=0)
    leaky = Message(event="mirror_failed", severity="critical", title="copy failed",
                    text=f"could not reach {dead_url}")
    d.submit(leaky)
    d.flush(5)
    text = (tmp_path / "outbox.jsonl").read_text()
    assert "TOKEN-dead" not in text and "127.0.0.1" in text  # the host stays, so the user can tell destinations apart
    assert not any("TOKEN-dead" in line for _, line in logs)


def test_handing_a_message_over_never_waits_for_the_endpoint(endpoint, tmp_path):
    """50 messages to an endpoint that takes 3 s per request are handed over in a fraction of one request's time
    (the cost per message itself, p50/p99, is measured in benchmarks/bench_notify.py)."""
    endpoint.mode, endpoint.delay = "slow", 3
    d = delivery(endpoint.url, tmp_path, retries=0, timeout=10)
    start = time.monotonic()
    for i in range(50):
        d.submit(message(i))
    assert time.monotonic() - start < 1.0
    assert d.flush(0) == 50  # none delivered yet: all kept


def test_notify_pickles_while_its_worker_is_busy(dead_url, tmp_path):
    hook = Notify(format="json", url=dead_url, retries=1, backoff=0.2, outbox=str(tmp_path / "o.jsonl"))
    hook.send(message())
    assert hook.delivery.pending() >= 0 and isinstance(hook.delivery._worker._thread, (threading.Thread, type(None)))
    clone = pickle.loads(pickle.dumps(hook))
    assert clone._delivery is None and clone.secrets() == hook.secrets()
    assert clone.delivery is not hook.delivery
    hook.flush(0)


@pytest.mark.parametrize("severity,minimum,sent", [("info", "info", True), ("info", "warning", False),
                                                   ("critical", "warning", True), ("warning", "critical", False)])
def test_min_severity_filters(severity, minimum, sent):
    hook = Notify(format="json", url="http://127.0.0.1:9/x", events=["alert"], min_severity=minimum)
    assert hook.wants("alert", severity) is sent
    assert hook.wants("train_end", "critical") is False  # not among its events


def test_email_goes_through_the_same_worker_and_a_dead_smtp_server_fills_the_outbox(tmp_path, dead_url):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
            self.mails.append(envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        options = dict(smtp_host="127.0.0.1", security="none", sender="trainer@example.com", to="oncall@example.com")
        hook = Notify(format="email", smtp_port=controller.port, **options,
                      events=["alert"], outbox=str(tmp_path / "o.jsonl"))
        m = message()
        assert hook.send(m) and hook.flush(10) == 0
        assert len(inbox.mails) == 1 and f"Message-ID: <{m.id}@yolo-hooks>" in inbox.mails[0]
    finally:
        controller.stop()
    dead_port = int(dead_url.split(":")[2].split("/")[0])
    hook = Notify(format="email", smtp_port=dead_port, **options, events=["alert"], retries=1, backoff=0.01,
                  outbox=str(tmp_path / "o.jsonl"))
    hook.send(m)
    hook.flush(10)
    assert [r["id"] for r in read(tmp_path / "o.jsonl")[0]] == [m.id]


def _snap(epoch, fitness, best, final=False):
    from pathlib import Path

    from yolo_hooks.core.run import EpochSnapshot

    return EpochSnapshot(epoch=epoch, epochs=10, is_final_eval=final, fitness=fitness, best_fitness=best,
                         best_epoch=epoch, is_best=fitness == best and not final, metrics={}, val_losses={},
                         train_losses={}, lr={}, epoch_time=1.0, elapsed=epoch * 1.0, start_epoch=0, stop=False,
                         task="detect", save_dir=Path("."), best_path=Path("best.pt"), last_path=Path("last.pt"))


@pytest.mark.parametrize("fitness,announced", [
    ([0.0, 0.0, 0.0], []),                      # a random-init model's 0.0 plateau is not news
    ([0.0, 0.1, 0.1, 0.3], [2, 4]),             # only strictly better than the last announced
    ([0.2, 0.1, 0.15, 0.25], [1, 4]),           # worse epochs in between are not bests
])  # fmt: skip
def test_new_best_is_announced_only_for_a_strictly_better_fitness(tmp_path, fitness, announced):
    from types import SimpleNamespace

    hook = Notify(format="json", url="http://127.0.0.1:9/x", events=["new_best", "epoch"], progress_every=2)
    sent = []
    hook.send = lambda m: sent.append((m.event, m.data["epoch"]))
    best = None
    snaps = []
    for epoch, f in enumerate(fitness, 1):
        best = f if best is None or f >= best else best
        snaps.append(_snap(epoch, f, best))
    snaps.append(_snap(len(fitness), best, best, final=True))  # the final evaluation never announces
    hook.snapshot = lambda trainer: snaps.pop(0)
    trainer = SimpleNamespace(save_dir=tmp_path)
    for _ in range(len(fitness) + 1):
        hook.on_fit_epoch_end(trainer)
    assert [e for ev, e in sent if ev == "new_best"] == announced
    assert [e for ev, e in sent if ev == "epoch"] == [e for e in range(1, len(fitness) + 1) if e % 2 == 0]
    resumed = Notify(format="json", url="http://127.0.0.1:9/x")
    resumed.load_state_dict(hook.state_dict())
    assert resumed.state_dict()["best_sent"] == (fitness[announced[-1] - 1] if announced else None)


def test_a_script_that_exits_without_flushing_still_keeps_its_messages(tmp_path, dead_url):
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import atexit, time\n"
        "atexit.register(lambda: print(f'waited {time.monotonic() - sent:.2f}'))  # the last exit handler to run\n"
        "from yolo_hooks.notify import Notify\n"
        "from yolo_hooks.notify.message import Message\n"
        f"hook = Notify(format='json', url={dead_url!r}, backoff=30, flush_timeout=0.5,\n"
        f"              outbox={str(tmp_path / 'o.jsonl')!r})\n"
        "hook.send(Message('alert', 'warning', 'val loss high', id='abc123'))\n"
        "sent = time.monotonic()\n"
    )  # ...and the interpreter exits with the message queued, being sent or in back-off
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    records, _ = read(tmp_path / "o.jsonl")
    assert [(r["id"], r["reason"]) for r in records] == [("abc123", "undelivered at interpreter exit")]
    assert not list(tmp_path.glob(".notify_journal.*"))  # settled: in the outbox, not only in the journal
    waited = float(done.stdout.split("waited ")[-1])
    assert waited < 0.5 + 1.0, waited  # its flush_timeout, not the whole exit deadline (10 s)


def test_the_environments_proxy_settings_are_honoured_though_read_once_per_destination(endpoint, tmp_path,
                                                                                        monkeypatch):
    url = "http://hooks.example.invalid/hook/TOKEN-proxy-0123456789"  # resolvable only by way of the proxy
    monkeypatch.setenv("HTTP_PROXY", endpoint.url)  # the loopback endpoint plays the proxy
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    through_proxy = delivery(url, tmp_path / "a")
    through_proxy.submit(message(1))
    through_proxy.submit(message(2))
    assert through_proxy.flush(5) == 0 and through_proxy.delivered == 2
    assert [r["path"] for r in endpoint.requests] == [url, url]  # absolute-form: the request went to the proxy

    monkeypatch.setenv("NO_PROXY", "hooks.example.invalid")  # a new destination reads the environment again
    direct = delivery(url, tmp_path / "b", retries=0)
    direct.submit(message(3))
    direct.flush(5)
    assert direct.delivered == 0 and len(endpoint.requests) == 2
