"""Exactly once across a kill and a resume: every re-send of a message (live, caught up, replayed) has its id."""

from __future__ import annotations

import base64
import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.notify.kill_child import KILL_EPOCH
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.training

CHILD = Path(__file__).with_name("kill_child.py")
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def logical_key(body: dict) -> tuple:
    """What a message announces, whatever its id: event, epoch (or resume point), rule, source."""
    data = body.get("data") or {}
    return (body.get("event"), data.get("epoch"), data.get("start_epoch"), data.get("rule"), data.get("loss"),
            data.get("source"), data.get("status"))


def test_a_killed_and_resumed_run_resends_each_message_under_its_first_id(tmp_path):
    receiver = WebhookReceiver().start()
    config = {
        "notify": [{"format": "json", "url": receiver.url, "secret": SECRET, "events": "all", "progress_every": 1,
                    "retries": 1, "backoff": 0.1, "timeout": 5}],
        "lr_on_plateau": {"patience": 1},
    }
    config_path = tmp_path / "hooks.json"
    config_path.write_text(json.dumps(config))
    control, project = tmp_path / "control", tmp_path / "project"
    control.mkdir()
    args = [sys.executable, str(CHILD), str(config_path), str(project), str(control)]
    env = {**os.environ, "NO_COLOR": "1"}
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 240
        while not (control / "handled").exists():
            assert first.poll() is None and time.time() < deadline, (tmp_path / "first.log").read_text()[-3000:]
            time.sleep(0.05)
        while not any(m.get("event") == "epoch" and m["data"].get("epoch") == KILL_EPOCH for m in receiver.delivered()):
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(1.0)  # the epoch's other messages (lr_reduced) are sent by now
        os.kill(first.pid, signal.SIGKILL)
        assert first.wait(timeout=60) == -signal.SIGKILL
    state = json.loads((project / "run" / "weights" / "notify_json.state.json").read_text())
    assert state["epoch"] == KILL_EPOCH - 1  # the hooks' state never recorded the killed epoch

    with open(tmp_path / "resumed.log", "w") as log:
        resumed = subprocess.run(args + ["resume"], stdout=log, stderr=subprocess.STDOUT, env=env, timeout=300)
    assert resumed.returncode == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    hooks_yaml = tmp_path / "hooks.yaml"
    hooks_yaml.write_text(json.dumps({"notify": config["notify"]}))
    replay = subprocess.run([sys.executable, "-m", "yolo_hooks.cli", "outbox", "replay", f"hooks={hooks_yaml}",
                             f"dir={project / 'run'}"], capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    receiver.stop()

    ids_by_key = collections.defaultdict(set)
    sends = collections.Counter()
    for request in receiver.requests:
        body = request["json"]
        if request["status"] != 200 or not isinstance(body, dict):
            continue
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert headers["webhook-id"] == body["id"]
        ids_by_key[logical_key(body)].add(body["id"])
        sends[body["id"]] += 1
    twice = {key: ids for key, ids in ids_by_key.items() if len(ids) > 1}
    assert twice == {}, f"logical duplicates with different ids: {twice}"
    resent = [key for key, ids in ids_by_key.items() if sends[next(iter(ids))] > 1]
    assert ("epoch", KILL_EPOCH, None, None, None, None, None) in resent  # the catch-up really sent it again
    assert any(key[0] == "lr_reduced" and key[1] == KILL_EPOCH for key in resent)
