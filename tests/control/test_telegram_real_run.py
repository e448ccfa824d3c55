"""Telegram commands to a real training that is SIGKILLed and resumed: each command applied and answered once,
the foreign chat never answered, a re-delivered update never applied twice."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import COCO8, ROOT
from tests.control.support import wait_until
from tests.servers import TelegramApi
from yolo_hooks.control.bots import bot_key, bots_root
from yolo_hooks.control.cli import control_command
from yolo_hooks.control.inbox import read_audit

pytestmark = pytest.mark.training
ME, STRANGER = 42, 999


def start(spec: dict, folder: Path, name: str) -> subprocess.Popen:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(spec))
    log = open(folder / f"{name}.log", "w")
    return subprocess.Popen([sys.executable, "-m", "tests.control.child", str(path)], cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)


def replies_to(server: TelegramApi, update_id: int) -> list[dict]:
    message_id = server.history[update_id]["message"]["message_id"]
    return [s for s in server.answers(ME) if (s["reply"] or {}).get("message_id") == message_id]


def test_commands_survive_a_sigkill_and_resume_applied_once(tmp_path, capsys):
    server = TelegramApi().start()
    try:
        hooks = tmp_path / "hooks.yaml"
        hooks.write_text(
            "fitness_report: {plot: false}\n"
            "early_stop: {patience: 10, min_delta: 1.0e+9}\n"
            f"notify: [{{format: telegram, bot_token: '{server.token}', chat_id: '{ME}', api_url: '{server.api_url}', "
            "commands: true, events: [train_end]}]\n")
        run_dir = tmp_path / "run"
        extend = server.write(ME, "/extend 3")  # room for /patience to land before the last epoch, also under load
        foreign = server.write(STRANGER, "/stop now", username="mallory")
        train = dict(data=str(COCO8), epochs=2, imgsz=64, batch=4, workers=0, plots=False, amp=False, seed=0,
                     deterministic=True, verbose=False, device="cpu", project=str(tmp_path), name="run", exist_ok=True)
        first = start({"hooks": str(hooks), "train": train}, tmp_path, "first")
        wait_until(lambda: replies_to(server, extend), 120, "the answer to /extend")
        # Ultralytics writes last.pt in place: a kill during the write leaves a torn file no resume can read. The
        # zip's central directory, written last, says the write is done.
        last = run_dir / "weights" / "last.pt"
        wait_until(lambda: last.exists() and zipfile.is_zipfile(last), 120, "epoch 1 in last.pt, whole")
        first.kill()  # SIGKILL: no teardown, no finish, no answer queued after this
        first.wait(30)
        with server._cond:
            dead_polls = server.waiting  # a poll of the killed run, waiting on: the resumed run's first poll ends it

        assert control_command("status", [str(run_dir)]) == 0
        assert "killed (pid" in capsys.readouterr().out
        # the kill came between handing the updates on and confirming them: Telegram serves them again
        offset = bots_root() / bot_key(server.token) / "offset.json"
        offset.write_text(json.dumps({"offset": extend}))
        server.redeliver(extend, foreign)
        patience = server.write(ME, "/patience 1")  # sent while no run is alive

        resumed = start({"hooks": str(hooks), "resume": str(run_dir / "weights" / "last.pt")}, tmp_path, "resumed")
        wait_until(lambda: replies_to(server, patience), 120, "the answer to /patience")
        status = server.write(ME, "/status")
        wait_until(lambda: len(replies_to(server, status)) == 2, 120, "the status and its plot")
        assert resumed.wait(300) == 0, (tmp_path / "resumed.log").read_text()[-3000:]
    finally:
        server.stop()

    assert [s["text"] for s in replies_to(server, extend)] == [
        "run: epochs 2 -> 5: training goes on after epoch 2 (the learning rate stretched to end at epoch 5)"]
    answer, = replies_to(server, patience)
    assert answer["text"].startswith("run: early_stop patience 10 -> 1 (wait ")
    text, photo = replies_to(server, status)
    assert text["method"] == "sendMessage" and text["text"].startswith("run: running (pid")
    assert photo["method"] == "sendPhoto" and photo["photo"] > 1000
    assert server.answers(STRANGER) == []
    assert server.conflicts <= dead_polls  # no two live pollers ever met (the dead one may time out first)

    audit = read_audit(run_dir)
    key = bot_key(server.token)
    by_id = {}
    for record in audit:
        by_id.setdefault(record["id"], []).append(record["result"])
    assert by_id[f"telegram:{key}:{extend}"] == ["done"] and by_id[f"telegram:{key}:{patience}"] == ["done"]
    assert set(by_id[f"telegram:{key}:{foreign}"]) == {"ignored"}  # once per process that saw it, never applied
    report = json.loads((run_dir / "early_stop.json").read_text())
    assert report["stopped"] and report["patience"] == 1 and report["epochs"] == 5  # extended once, not twice
    assert json.loads((run_dir / "yolo_hooks_run.json").read_text())["status"] == "stopped_early"
    end = [s for s in server.answers(ME) if "Training stopped early" in s["text"]]
    assert len(end) == 1
