"""The hostile-endpoint drill: a real training against each kind of bad webhook endpoint, then a replay.

For each case the drill trains coco8 for one epoch with one ``json`` destination pointing at the endpoint (every
event, a progress message per epoch), then makes the endpoint healthy and replays the outbox. Each case asserts what
its endpoint must leave (``OUTCOMES``: the messages delivered during training, the messages kept in the outbox, the
requests the training made), that nothing was lost, and that the replay delivered each kept message exactly once (a
second replay finds nothing), and that the run ended within its one end-of-run deadline after the final validation. The
table of the training's wall time against the same training without hooks, the messages delivered and kept and the
time from the final validation to the end of ``train()`` is printed at the end of the session.
"""

from __future__ import annotations

import collections
import time

import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.conftest import train
from tests.drill.conftest import DRILL_ROWS
from tests.servers import Endpoint
from yolo_hooks.notify import Notify
from yolo_hooks.notify import delivery as delivery_module
from yolo_hooks.notify.outbox import OUTBOX_NAME, read
from yolo_hooks.notify.replay import replay

pytestmark = [pytest.mark.drill, pytest.mark.training]

END_TIMEOUT = 3.0  # the run's one end-of-run deadline in this drill (default 10 s)
EXPECTED = {"train_start", "epoch", "train_end"}  # one epoch: what the destination is told


def flapping(endpoint, other):
    endpoint.cycle("ok", "close", "500", "ok", "close")


def never(endpoint, other):
    endpoint.mode = "never"


def huge(endpoint, other):
    endpoint.mode = "huge"  # 200 with a 50 MB body


def redirect(endpoint, other):
    endpoint.mode, endpoint.location = "302", other.url


def gone(endpoint, other):
    endpoint.mode = "410"


def retry_after_an_hour(endpoint, other):
    endpoint.mode, endpoint.retry_after = "429", 3600


def trickle_headers(endpoint, other):
    endpoint.mode = "trickle_headers"  # its status line and headers one byte a second: no per-read timeout fires


def trickle_body(endpoint, other):
    endpoint.mode = "trickle_body"  # a 200 at once, then its body one byte a second


def reset_mid_reply(endpoint, other):
    endpoint.mode = "reset_mid_reply"  # a 200 begun, then RST


def retry_after_an_http_date(endpoint, other):
    import email.utils

    endpoint.mode, endpoint.retry_after = "429", email.utils.formatdate(time.time() + 3600, usegmt=True)


def no_length(endpoint, other):
    endpoint.mode = "no_length"  # a 200 whose body never says it ended: no Content-Length, the connection kept


def unresolvable(endpoint, other):
    return UNRESOLVABLE  # nothing answers under this name; the replay goes through the endpoint as a proxy


UNRESOLVABLE = "http://no-such-host.invalid/hook/TOKEN-s3cr3t-0123456789"
CASES = [flapping, never, huge, redirect, gone, retry_after_an_hour, trickle_headers, trickle_body, reset_mid_reply,
         retry_after_an_http_date, no_length, unresolvable]

ALL, NONE, EACH = "all", "none", "one per message"
OUTCOMES = {  # case: (messages delivered during training, messages kept in the outbox, requests the training made)
    # back-off against the end deadline decides whether the later messages get through live or are kept: the
    # first is answered "ok"; whatever was not delivered is in the outbox (nothing lost, checked for every case)
    "flapping": ({"train_start"}, None, None),
    "never": (NONE, ALL, 1),  # the first request hangs: the end deadline hands all of them to the outbox
    "huge": (ALL, NONE, EACH),  # a 200 is a delivery, however long its body (only a prefix is read)
    "redirect": (NONE, ALL, EACH),  # a 3xx is a permanent failure: not followed, not retried
    "gone": (NONE, ALL, EACH),  # 410: permanent, one attempt each
    "retry_after_an_hour": (NONE, ALL, 1),  # one 429; the others are kept, not sent into the hour
    # each request ends at its 10 s `timeout` in all: the endpoint took the message but the sender never got a
    # verdict (at least once: the replay sends them again, under the same ids)
    "trickle_headers": (set(), ALL, None),
    # the status (200) came at once: each is delivered when its 10 s run out, one after another; the end deadline
    # hands the rest to the outbox
    "trickle_body": (set(), None, None),
    "reset_mid_reply": (NONE, ALL, None),  # no verdict: retried with back-off until the end deadline keeps them
    "retry_after_an_http_date": (NONE, ALL, 1),  # the date an hour ahead is an hour's wait, as a number of seconds
    "no_length": (set(), None, None),  # as trickle_body: the 200 counts, the body ends at the request's timeout
    "unresolvable": (NONE, ALL, 0),  # host name not found: down at once, nothing waited for at the end
}


def check_outcome(case: str, messages: set[str], delivered: set[str], delivered_events: set[str],
                  outboxed: set[str], requests: int) -> None:
    """What ``OUTCOMES`` says of ``case``, for the run's ``messages`` (ids)."""
    live, kept, sent = OUTCOMES[case]
    if live == ALL:
        assert delivered == messages
    elif live == NONE:
        assert delivered == set()
    else:
        assert live <= delivered_events
    if kept == ALL:
        assert outboxed == messages
    elif kept == NONE:
        assert outboxed == set()
    if sent is not None:
        assert requests == (len(messages) if sent == EACH else sent)


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_a_training_against_a_hostile_endpoint(tmp_path, case, monkeypatch):
    endpoint, other = Endpoint().start(), Endpoint().start()
    url = case(endpoint, other) or endpoint.url
    try:
        hook = Notify(format="json", url=url, events="all", progress_every=1, strict=True)
        model = YOLO("yolo11n.yaml")
        yolo_hooks.attach(model, hook, end_timeout=END_TIMEOUT)
        ended = {}
        model.add_callback("on_train_end", lambda trainer: ended.setdefault("at", time.monotonic()))  # after the
        start = time.monotonic()  # final validation, before every hook's end-of-run work
        train(tmp_path, model=model, epochs=1, imgsz=64)
        seconds, exit_after = time.monotonic() - start, time.monotonic() - ended["at"]
        assert exit_after < END_TIMEOUT + 2.0, exit_after  # the one end-of-run deadline, whatever the endpoint does
        delivered = set(endpoint.ids())
        box = model.trainer.save_dir / OUTBOX_NAME
        records, bad = read(box)
        outboxed = {r["id"] for r in records}
        assert bad == [] and other.requests == []  # a redirect is never followed

        # nothing lost: every message was delivered or is in the outbox
        delivered_events = {m["event"] for m in endpoint.received()}
        events = {r["message"]["event"] for r in records} | delivered_events
        assert events >= EXPECTED
        check_outcome(case.__name__, delivered | outboxed, delivered, delivered_events, outboxed,
                      len(endpoint.requests))
        # the end of the run waited at most its one deadline (no 3600 s Retry-After, no second wait)
        assert hook.delivery not in delivery_module._LIVE

        endpoint.heal()  # healthy again; requests still held by `never` and the trickles are let go
        if url != endpoint.url:  # the name resolves nowhere: reach it through the endpoint playing a proxy
            monkeypatch.setenv("HTTP_PROXY", endpoint.url)
            monkeypatch.delenv("NO_PROXY", raising=False)
            monkeypatch.delenv("no_proxy", raising=False)
        before = len(endpoint.requests)
        report = replay(box, [Notify(format="json", url=url, strict=True).delivery])
        sent = collections.Counter(r["json"]["id"] for r in endpoint.requests[before:] if r["json"])
        assert report.remaining == 0 and set(sent) == outboxed and all(n == 1 for n in sent.values())
        again = replay(box, [Notify(format="json", url=url, strict=True).delivery])
        assert again.delivered == 0 and read(box)[0] == []
        DRILL_ROWS[case.__name__] = {"seconds": seconds, "delivered": len(delivered), "outboxed": len(outboxed),
                                     "replayed_once": True, "exit_after": exit_after}
    finally:
        endpoint.stop()
        other.stop()


def test_the_same_training_without_hooks(tmp_path):
    """The baseline of the table (run after the cases: the first training of a process pays for warm-up)."""
    start = time.monotonic()
    model = train(tmp_path, epochs=1, imgsz=64)
    seconds = time.monotonic() - start
    assert model.trainer.epoch == 0 and (model.trainer.save_dir / "weights" / "last.pt").is_file()  # one whole epoch
    assert not (model.trainer.save_dir / OUTBOX_NAME).exists()  # nothing to notify, nothing kept
    DRILL_ROWS["no hooks"] = {"seconds": seconds}
