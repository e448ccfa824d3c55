"""What a command is, and what the run makes of it: tables of words, request bodies and run states."""

from __future__ import annotations

import pytest

from yolo_hooks.control.commands import (
    COMMAND_TTL,
    Command,
    CommandError,
    RunView,
    decide,
    from_dict,
    from_request,
    from_words,
)

META = dict(id="c1", source="telegram", sender="telegram chat 42 (@alice)", time=1000.0)


@pytest.mark.parametrize("name, words, expected", [
    ("stop", [], dict(reason=None, now=False)),
    ("stop", ["val", "loss", "diverging"], dict(reason="val loss diverging", now=False)),
    ("stop", ["now"], dict(reason=None, now=True)),
    ("stop", ["NOW", "out", "of", "budget"], dict(reason="out of budget", now=True)),
    ("extend", ["5"], dict(epochs=5)),
    ("patience", ["20"], dict(patience=20)),
    ("save", [], {}),
    ("status", [], {}),
])
def test_words_of_a_chat_make_a_command(name, words, expected):
    command = from_words(name, words, **META)
    assert command.name == name and command.id == "c1" and command.sender == META["sender"]
    assert {k: getattr(command, k) for k in expected} == expected


@pytest.mark.parametrize("name, words, error", [
    ("reboot", [], "unknown command /reboot; commands: /status, /stop, /extend, /patience, /save"),
    ("extend", [], "extend takes one number"),
    ("extend", ["five"], "extend takes a whole number from 1 to 100000, got 'five'"),
    ("extend", ["0"], "got 0"),
    ("extend", ["100001"], "got 100001"),
    ("patience", ["2", "3"], "patience takes one number"),
    ("save", ["now"], "/save takes no argument"),
])
def test_bad_words_are_refused_with_what_is_allowed(name, words, error):
    with pytest.raises(CommandError, match=error.replace("(", r"\(").replace(")", r"\)")):
        from_words(name, words, **META)


@pytest.mark.parametrize("body, error", [
    ([], "the body must be a JSON object"),
    ({"command": "rm -rf"}, "unknown command 'rm -rf'"),
    ({"command": "stop", "force": True}, "stop takes now, reason; unknown: force"),
    ({"command": "stop", "now": "yes"}, "now must be true or false"),
    ({"command": "stop", "reason": 3}, "a stop reason is text"),
    ({"command": "extend"}, "extend takes a whole number"),
    ({"command": "extend", "epochs": True}, "extend takes a whole number"),
    ({"command": "patience", "patience": 2.5}, "patience takes a whole number"),
])
def test_bad_request_bodies_are_refused(body, error):
    with pytest.raises(CommandError, match=error):
        from_request(body, **META)


def test_an_inbox_line_reads_back_as_the_same_command():
    command = from_request({"command": "stop", "reason": " too   slow ", "now": True}, **META,
                           reply={"bot": "k", "chat_id": "42", "message_id": 7})
    again = from_dict(command.as_dict())
    assert again == command and again.reply == command.reply and again.reason == "too slow"
    with pytest.raises(CommandError, match="no id"):
        from_dict({"name": "stop"})


VIEW = RunView(epoch=4, epochs=10)


@pytest.mark.parametrize("command, view, result, text", [
    (Command("a", "stop"), VIEW, "done", "stopping at the end of epoch 4/10"),
    (Command("a", "stop", now=True), VIEW, "done", "stopping after the current batch of epoch 4/10"),
    (Command("a", "stop", now=True), VIEW._replace(stop_now_works=False), "done",
     "stopping at the end of epoch 4/10 (this Ultralytics checks a stop only between epochs)"),
    (Command("a", "stop", now=True), VIEW._replace(validating=True), "done", "stopping at the end of epoch 4/10"),
    (Command("a", "stop"), VIEW._replace(ending="a stop requested by bob"), "refused",
     "refused: the run already ends after epoch 4/10 (a stop requested by bob)"),
    (Command("a", "stop"), VIEW._replace(epoch=10, ending="the last epoch"), "refused", "the last epoch"),
    (Command("a", "stop", now=True), VIEW._replace(epoch=10, ending="the last epoch"), "done", "current batch"),
    (Command("a", "extend", epochs=5), VIEW, "done", "epochs 10 -> 15"),
    (Command("a", "extend", epochs=5), VIEW._replace(epoch=10, ending="the last epoch"), "done", "epochs 10 -> 15"),
    (Command("a", "extend", epochs=5), VIEW._replace(epoch=10, ending="the last epoch", validating=True), "refused",
     "refused: the run ends after epoch 10/10 (the last epoch)"),
    (Command("a", "extend", epochs=5), VIEW._replace(ending="a stop requested by bob"), "refused", "a stop requested"),
    (Command("a", "extend", epochs=5), VIEW._replace(time_limited=True), "refused", "time=... hours"),
    (Command("a", "patience", patience=3), VIEW, "done", "patience 3"),
    (Command("a", "save"), VIEW, "done", "save"),
    (Command("a", "status"), VIEW._replace(ending="the last epoch", validating=True), "done", "status"),
])
def test_the_run_decides(command, view, result, text):
    decision = decide(command, view, now=0.0)
    assert decision.result == result and text in decision.text


def test_a_command_sent_long_before_the_run_reads_it_is_refused_not_applied():
    command = Command("a", "stop", time=1000.0)
    assert decide(command, VIEW, now=1000.0 + COMMAND_TTL - 1).result == "done"
    late = decide(command, VIEW, now=1000.0 + COMMAND_TTL + 60)
    assert late.result == "refused" and "sent 16 minutes ago" in late.text and late.effect is None
