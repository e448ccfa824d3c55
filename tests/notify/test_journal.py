"""A SIGKILLed process loses no message: the write-ahead journal hands what was in flight to the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from yolo_hooks.notify import journal as journals
from yolo_hooks.notify import outbox
from yolo_hooks.notify.delivery import Delivery, Destination
from yolo_hooks.notify.receiver import WebhookReceiver
from yolo_hooks.notify.replay import replay

ROOT = Path(__file__).resolve().parents[2]

PREAMBLE = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from yolo_hooks.notify.delivery import Delivery, Destination
    from yolo_hooks.notify.message import Message
    url, box = {url!r}, {box!r}
    delivery = Delivery(Destination.of("notify_json", "json", {{"url": url}}), {{"url": url}}, outbox=box, timeout=60)
    """
)  # a sender process: a `json` delivery to `url` with its outbox (and journal) at `box`

SENDER = PREAMBLE + textwrap.dedent(
    """
    for i in range(3):
        delivery.submit(Message(event="alert", severity="warning", title=f"alert {{i}}", id=f"msg-{{i}}"))
    print("submitted", flush=True)
    time.sleep(60)
    """
)


def json_delivery(url: str, box) -> Delivery:
    """The same delivery, in this process."""
    return Delivery(Destination.of("notify_json", "json", {"url": url}), {"url": url}, outbox=box)


def test_messages_in_flight_when_the_process_is_killed_reach_the_outbox_and_replay(tmp_path):
    box = tmp_path / "notify_outbox.jsonl"
    with WebhookReceiver() as receiver:
        receiver.set_mode("slow", delay=30)  # the first message hangs in its request; two wait in the queue
        script = SENDER.format(root=str(ROOT), url=receiver.url, box=str(box))
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "submitted"
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

        assert not box.exists()  # nothing was settled before the kill...
        assert journals.recover(tmp_path) == 3  # ...but the journal knew all three
        records, bad = outbox.read(box)
        assert sorted(r["id"] for r in records) == ["msg-0", "msg-1", "msg-2"] and bad == []
        assert all("killed" in r["reason"] for r in records)
        assert list(tmp_path.glob(journals.JOURNAL_GLOB)) == []

        receiver.set_mode("ok")
        delivery = json_delivery(receiver.url, box)
        report = replay(box, [delivery])
        assert report.remaining == 0
        assert {"msg-0", "msg-1", "msg-2"} <= receiver.unique_ids()


def test_a_finished_run_leaves_no_journal(tmp_path):
    with WebhookReceiver() as receiver:
        url = receiver.url
        delivery = json_delivery(url, tmp_path / "notify_outbox.jsonl")
        from yolo_hooks.notify.message import Message

        delivery.submit(Message(event="train_end", severity="info", title="done"))
        assert delivery.flush(10) == 0
    assert list(tmp_path.glob(journals.JOURNAL_GLOB)) == [] and not (tmp_path / "notify_outbox.jsonl").exists()


def test_recover_leaves_the_journal_of_a_running_process_alone(tmp_path):
    destination = Destination.of("notify_json", "json", {"url": "http://127.0.0.1:9/x"})
    journal = journals.journal_path(tmp_path / "notify_outbox.jsonl", destination)
    from yolo_hooks.notify.message import Message

    record = outbox.make_record(Message(event="alert", severity="info", title="t"), destination, journals.KILLED)
    journals.journal_queued(journal, tmp_path / "notify_outbox.jsonl", record)  # this (live) process wrote it
    assert journals.recover(tmp_path) == 0 and journal.exists()


def test_a_training_appends_to_one_journal_and_removes_it_when_the_delivery_closes(tmp_path):
    from yolo_hooks.notify.message import Message

    with WebhookReceiver() as receiver:
        url = receiver.url
        delivery = json_delivery(url, tmp_path / "notify_outbox.jsonl")
        delivery.hold()  # what Notify does in on_train_start
        for epoch in (1, 2):
            delivery.submit(Message(event="epoch_end", severity="info", title=f"epoch {epoch}"))
            assert delivery.flush(10) == 0
            [journal] = tmp_path.glob(journals.JOURNAL_GLOB)  # settled, and kept for the next epoch's message
        assert [line.count('"op": "queued"') for line in journal.read_text().splitlines()] == [1, 0, 1, 0]
        assert journals.recover(tmp_path) == 0 and journal.exists()  # a live process's journal is not touched
        delivery.close(5)
    assert list(tmp_path.glob(journals.JOURNAL_GLOB)) == [] and not (tmp_path / "notify_outbox.jsonl").exists()


HELD_SENDER = PREAMBLE + textwrap.dedent(
    """
    delivery.hold()
    delivery.submit(Message(event="epoch_end", severity="info", title="epoch 1", id="msg-0"))
    assert delivery.flush(10) == 0
    print("delivered", flush=True)
    sys.stdin.readline()
    for i in (1, 2):
        delivery.submit(Message(event="epoch_end", severity="info", title=f"epoch {{i + 1}}", id=f"msg-{{i}}"))
    print("submitted", flush=True)
    time.sleep(60)
    """
)


def test_a_killed_training_hands_only_its_unsettled_messages_to_the_outbox(tmp_path):
    box = tmp_path / "notify_outbox.jsonl"
    with WebhookReceiver() as receiver:
        script = HELD_SENDER.format(root=str(ROOT), url=receiver.url, box=str(box))
        proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout.readline().strip() == "delivered"
        receiver.set_mode("slow", delay=30)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "submitted"
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    assert journals.recover(tmp_path) == 2  # the delivered epoch stays delivered: not sent twice
    records, bad = outbox.read(box)
    assert sorted(r["id"] for r in records) == ["msg-1", "msg-2"] and bad == []
    assert list(tmp_path.glob(journals.JOURNAL_GLOB)) == []
