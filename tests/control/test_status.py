"""What the marker says about a run, for `yolo-hooks status` and for whether a command can be sent."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from yolo_hooks.control.status import liveness, read_status, status_text
from yolo_hooks.core.run_info import HOST


def gone_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.parametrize("marker, said, takes", [
    (None, "no yolo_hooks marker", False),
    ({"status": "running", "pid": os.getpid(), "host": HOST}, f"running (pid {os.getpid()} on {HOST})", True),
    ({"status": "running", "pid": "GONE", "host": HOST}, "killed (pid", False),
    ({"status": "running", "pid": 4242, "host": "other-host"}, "running on other-host (pid 4242; not checkable", True),
    ({"status": "killed", "pid": 1, "host": HOST}, "killed (recovered)", False),
    ({"status": "finished", "pid": 1, "host": HOST, "ended": 0}, "ended: finished at 19", False),
])
def test_the_marker_says_whether_a_run_takes_commands(marker, said, takes):
    if marker and marker["pid"] == "GONE":
        marker = {**marker, "pid": gone_pid()}
    text, takes_commands = liveness(marker)
    assert text.startswith(said) and takes_commands is takes


def test_a_folder_without_a_run_still_has_a_status(tmp_path):
    status = read_status(tmp_path)
    assert status["epoch"] is None and status["takes_commands"] is False
    assert status_text(status).startswith(f"{tmp_path.name}: no yolo_hooks marker")
