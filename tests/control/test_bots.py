"""One poller per bot and machine: routing (a table), the shared lock, 409 / 429, foreign chats, the answers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.control.support import wait_until
from tests.servers import TelegramApi
from yolo_hooks.control.bots import Bot, route
from yolo_hooks.control.inbox import AUDIT, INBOX
from yolo_hooks.control.telegram import incoming

RUNS = [{"run": "train7", "save_dir": "/r/detect/train7", "chats": ["42"]},
        {"run": "train8", "save_dir": "/r/detect/train8", "chats": ["42", "@team"]}]


def message(text: str, chat: int = 42, username: str | None = None) -> dict:
    chat_record = {"id": chat, **({"username": username} if username else {})}
    return {"update_id": 9, "message": {"message_id": 3, "date": 1000, "chat": chat_record, "text": text,
                                        "from": {"username": "alice"}}}


@pytest.mark.parametrize("text, runs, kind, where, detail", [
    ("/stop diverging", RUNS[:1], "post", ["train7"], "diverging"),
    ("/stop@yolo_bot train7 diverging", RUNS[:1], "post", ["train7"], "diverging"),
    ("/stop train8 diverging", RUNS, "post", ["train8"], "diverging"),
    ("/stop diverging", RUNS, "answer", ["train7", "train8"], "2 runs listen here: name one, e.g. /stop train7 diverging"),
    ("/status", RUNS, "status", ["train7", "train8"], ""),
    ("/status train8", RUNS, "status", ["train8"], ""),
    ("/help", RUNS, "answer", ["train7", "train8"], "Listening here: train7, train8"),
    ("/extend ten", RUNS[:1], "answer", ["train7"], "refused: extend takes a whole number"),
    ("/reboot", RUNS[:1], "answer", ["train7"], "unknown command /reboot"),
    ("good morning", RUNS, "ignore", [], ""),
])
def test_a_message_goes_where_it_says(text, runs, kind, where, detail):
    decision = route(incoming(message(text)), runs, "k")
    assert decision.kind == kind and [r["run"] for r in decision.runs] == where
    assert detail in (decision.text or (decision.command.reason if decision.command else "") or "")


def test_a_post_carries_its_update_id_and_where_to_answer():
    decision = route(incoming(message("/extend train8 5")), RUNS, "botkey")
    command = decision.command
    assert command.id == "telegram:botkey:9" and command.epochs == 5 and command.source == "telegram"
    assert command.reply == {"bot": "botkey", "chat_id": "42", "message_id": 3}
    assert command.sender == "telegram chat 42 (@alice)" and command.time == 1000


def test_chats_nobody_configured_are_foreign_and_a_channel_may_be_named():
    assert route(incoming(message("/stop", chat=999)), RUNS, "k").kind == "foreign"
    assert route(incoming(message("/status", chat=-100, username="Team")), RUNS, "k").runs == [RUNS[1]]


def test_a_command_naming_a_run_that_ended_is_not_taken_by_the_one_left():
    decision = route(incoming(message("/stop train7 diverging")), RUNS[1:], "k", gone=frozenset({"train7"}))
    assert decision.kind == "answer" and decision.text == ("refused: train7 is not running any more (listening "
                                                           "here: train8)")


def test_two_runs_of_the_same_name_are_told_apart_by_their_folder():
    runs = [{"run": "train", "save_dir": "/r/detect/train", "chats": ["42"]},
            {"run": "train", "save_dir": "/r/segment/train", "chats": ["42"]}]
    assert route(incoming(message("/save segment/train")), runs, "k").runs == [runs[1]]


# --- real bots on a loopback Bot API ------------------------------------------------------------------------------
def inbox(folder: Path) -> list[dict]:
    path = folder / INBOX
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def telegram():
    server = TelegramApi().start()
    yield server
    server.stop()


def make_bot(server: TelegramApi, folder: Path, name: str, root: Path, logs: list) -> Bot:
    folder.mkdir(parents=True, exist_ok=True)
    run = {"run": name, "save_dir": str(folder), "run_id": name}
    return Bot(server.token, server.api_url, {"42"}, run, lambda text, level="info": logs.append((level, text)),
               root=root)


def test_one_bot_routes_to_its_run_and_answers_only_its_chat(telegram, tmp_path):
    logs: list = []
    bot = make_bot(telegram, tmp_path / "train7", "train7", tmp_path / "bots", logs)
    bot.start()
    try:
        telegram.write(42, "/stop diverging")
        telegram.write(999, "/stop", username="mallory")
        telegram.write(999, "/status", username="mallory")
        telegram.write(42, "/patience 0")
        line = wait_until(lambda: inbox(tmp_path / "train7"))[0]
        assert line["name"] == "stop" and line["reason"] == "diverging" and line["source"] == "telegram"
        refused = wait_until(lambda: telegram.answers(42))[0]
        assert refused["text"].startswith("refused: patience takes a whole number from 1")
        wait_until(lambda: telegram.polls[-1] is not None and telegram.polls[-1] > 103)  # all four confirmed
    finally:
        bot.stop(5)
    assert telegram.answers(999) == []  # nothing tells a stranger a run is there
    ignored = [r for r in map(json.loads, (tmp_path / "train7" / AUDIT).read_text().splitlines())]
    assert [(r["result"], r["from"]) for r in ignored] == [("ignored", "telegram chat 999 (@mallory)")]
    assert [text for level, text in logs if "999" in text] == [
        "ignored a message from telegram chat 999 (@mallory): not a configured chat_id (no answer sent)"]
    assert not bot.listener_file.exists() and len(inbox(tmp_path / "train7")) == 1


def test_409_and_429_are_waited_out_and_a_conflict_is_said_once(telegram, tmp_path):
    logs: list = []
    telegram.poll_replies.extend(["409", "409", "429"])
    bot = make_bot(telegram, tmp_path / "run", "run", tmp_path / "bots", logs)
    started = time.monotonic()
    bot.start()
    try:
        telegram.write(42, "/save")
        wait_until(lambda: inbox(tmp_path / "run"), timeout=60)
    finally:
        bot.stop(5)
    assert time.monotonic() - started >= 5 + 10 + 1 - 1  # 5 s and 10 s after the two 409s, 1 s for the 429
    conflict = [text for level, text in logs if "another program polls this Telegram bot" in text]
    assert len(conflict) == 1 and "terminated by other getUpdates request" in conflict[0]


def test_two_runs_on_one_bot_share_one_poller_that_routes_by_name(telegram, tmp_path):
    logs: list = []
    first = make_bot(telegram, tmp_path / "train7", "train7", tmp_path / "bots", logs)
    second = make_bot(telegram, tmp_path / "train8", "train8", tmp_path / "bots", logs)
    first.start()
    wait_until(lambda: first.leader)
    second.start()
    wait_until(lambda: second.listener_file.exists())
    try:
        telegram.write(42, "/extend 5")
        telegram.write(42, "/extend train8 5")
        asked = wait_until(lambda: telegram.answers(42))[0]["text"]
        assert asked.startswith("2 runs listen here: name one, e.g. /extend train7 5 (runs: train7, train8)")
        assert wait_until(lambda: inbox(tmp_path / "train8"))[0]["epochs"] == 5
        first.stop(5)  # its run ends: the other takes the lock and polls on
        telegram.write(42, "/stop please")
        assert wait_until(lambda: inbox(tmp_path / "train8")[1:])[0]["reason"] == "please"
        assert second.leader
    finally:
        second.stop(5)
    assert inbox(tmp_path / "train7") == [] and telegram.conflicts == 0  # never two polls at once
