"""Pure parts of recovery: who counts as killed, and the stable id of the killed message."""

from __future__ import annotations

import os
import socket

import pytest

from yolo_hooks.core.marker import is_killed
from yolo_hooks.notify.compose import killed_message
from yolo_hooks.notify.message import message_id as derived

HOST = socket.gethostname()
GONE = 2**22 + 12345  # above the default pid_max: no such process


@pytest.mark.parametrize("marker, force, killed", [
    (None, False, False),
    ({"status": "finished", "host": HOST, "pid": GONE}, False, False),   # ended normally
    ({"status": "crashed", "host": HOST, "pid": GONE}, False, False),    # teardown ran: its crash message went out
    ({"status": "running", "host": HOST, "pid": os.getpid()}, False, False),  # alive: this very process
    ({"status": "running", "host": HOST, "pid": GONE}, False, True),     # running, process gone: killed
    ({"status": "ending", "host": HOST, "pid": GONE}, False, True),      # killed during its end-of-run work
    ({"status": "ending", "host": HOST, "pid": os.getpid()}, False, False),  # still doing it
    ({"status": "running", "host": "elsewhere", "pid": GONE}, False, False),  # cannot check another host
    ({"status": "running", "host": "elsewhere", "pid": GONE}, True, True),
    ({"status": "killed", "host": HOST, "pid": GONE}, False, True),      # partly recovered: try the rest
    ({"status": "recovered", "host": HOST, "pid": GONE}, False, False),  # done
])
def test_who_counts_as_killed(marker, force, killed):
    assert is_killed(marker, force=force) is killed


def message_id(run_id: str, event: str) -> str:
    return derived({"run_id": run_id}, event)


def test_the_killed_message_id_is_derived_from_the_run():
    assert message_id("run-a", "killed") == message_id("run-a", "killed")
    assert message_id("run-a", "killed") != message_id("run-b", "killed") != message_id("run-a", "crash")
    facts = {"last_completed_epoch": 3, "epochs": 10, "killed_during": "epoch 4", "host": "vm1",
             "resume": "yolo-hooks train resume=True model=w/last.pt hooks=<your hooks.yaml>"}
    message = killed_message(facts, {"name": "train7"}, message_id("run-a", "killed"))
    assert message.id == message_id("run-a", "killed")
    assert (message.event, message.severity) == ("killed", "critical")
    assert "after epoch 3/10" in message.text and "resume=True" in message.text
