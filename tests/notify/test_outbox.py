"""The durable outbox: atomic appends, torn lines, replay to a real endpoint, dedup, concurrent appends."""

from __future__ import annotations

import json
import threading

from yolo_hooks.notify.delivery import Delivery, Destination
from yolo_hooks.notify.message import Message
from yolo_hooks.notify.outbox import append, find, make_record, read, remove
from yolo_hooks.notify.replay import replay

URL_A = "http://127.0.0.1:{port}/hook/TOKEN-a-0123456789"


def msg(i: int, event: str = "alert") -> Message:
    return Message(event=event, severity="warning", title=f"message {i}", text="text", time=1000.0 + i)


def dest(url: str, name: str = "notify_json") -> tuple[Destination, dict]:
    options = {"url": url}
    return Destination.of(name, "json", options), options


def delivery_for(url: str, tmp_path, name: str = "notify_json") -> Delivery:
    destination, options = dest(url, name)
    return Delivery(destination, options, retries=1, backoff=0.01, max_backoff=0.01, timeout=2,
                    outbox=tmp_path / "unused.jsonl")


def test_records_round_trip_and_a_torn_line_is_reported_not_fatal(tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest("https://hooks.example.com/services/T0/B0/SECRET")
    messages = [msg(i) for i in range(3)]
    append(path, [make_record(m, destination, "undelivered at end of run") for m in messages[:2]])
    append(path, [make_record(messages[2], destination, "rejected: HTTP 400")])
    with open(path, "a") as f:
        f.write('{"v": 1, "id": "torn')  # a power cut in the middle of a write
    later = msg(3)
    append(path, [make_record(later, destination, "r")])  # the next append starts on a fresh line
    records, bad = read(path)
    assert [Message.from_dict(r["message"]) for r in records] == [*messages, later]
    assert len(bad) == 1
    assert records[0]["destination"] == {"name": "notify_json", "format": "json",
                                         "target": "https://hooks.example.com/***", "key": destination.key}
    assert "SECRET" not in path.read_text()


def test_concurrent_appends_from_many_threads_never_interleave(tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest("http://127.0.0.1:1/x")

    def writer(t):
        for i in range(50):
            append(path, [make_record(Message("alert", "info", f"t{t}-{i}", "x" * 2000), destination, "r")])

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    records, bad = read(path)
    assert len(records) == 200 and not bad


def test_replay_delivers_removes_delivered_lines_and_drops_duplicates(endpoint, tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest(endpoint.url)
    other, _ = dest("https://elsewhere.example.com/hook/XYZ", name="other")
    messages = [msg(i) for i in range(3)]
    records = [make_record(m, destination, "undelivered at end of run") for m in messages]
    records.append(make_record(messages[0], destination, "unreachable after 6 attempts"))  # in the outbox twice
    records.append(make_record(msg(9), other, "undelivered at end of run"))  # not configured any more
    append(path, records)

    report = replay(path, [delivery_for(endpoint.url, tmp_path)])
    assert (report.delivered, report.duplicates, report.unmatched, report.remaining) == (3, 1, 1, 1)
    assert endpoint.ids() == [m.id for m in messages]  # oldest first, each once, with its original id
    left, _ = read(path)
    assert [r["destination"]["name"] for r in left] == ["other"]


def test_replay_matches_a_renamed_destination_by_format_and_url_key(endpoint, tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest(endpoint.url, name="old_name")
    append(path, [make_record(msg(1), destination, "r")])
    assert replay(path, [delivery_for(endpoint.url, tmp_path, name="new_name")]).delivered == 1


def test_replay_to_a_still_dead_endpoint_keeps_everything_and_gives_up_after_the_first(dead_url, tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest(dead_url)
    append(path, [make_record(msg(i), destination, "r") for i in range(5)])
    before = path.read_text()
    report = replay(path, [delivery_for(dead_url, tmp_path)])
    assert report.delivered == 0 and len(report.failed) == 1 and "connection refused" in report.failed[0]
    assert path.read_text() == before


def test_remove_keeps_lines_appended_after_the_replay_read_the_file(tmp_path):
    path = tmp_path / "notify_outbox.jsonl"
    destination, _ = dest("http://127.0.0.1:1/x")
    first = make_record(msg(1), destination, "r")
    append(path, [first])
    records, _ = read(path)  # the replay has read the file...
    append(path, [make_record(msg(2), destination, "r")])  # ...when a running training appends
    remaining = remove(path, {(first["destination"]["key"], first["id"])})
    assert remaining == 1 and [r["message"]["title"] for r in read(path)[0]] == ["message 2"]
    remove(path, {(first["destination"]["key"], read(path)[0][0]["id"])})
    assert not path.exists()


def test_find_lists_run_outboxes_below_a_folder(tmp_path):
    for run in ("train", "train2"):
        append(tmp_path / "runs" / run / "notify_outbox.jsonl",
               [json.loads(json.dumps(make_record(msg(1), dest("http://h/x")[0], "r")))])
    assert [p.parent.name for p in find(tmp_path / "runs")] == ["train", "train2"]
    assert find(tmp_path / "nothing") == []
