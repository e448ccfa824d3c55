"""The whole-system fault drill: one real coco8 training that meets every fault we promise to survive.

Run it alone with ``pytest -m drill``. In one training (a subprocess, so it can be killed) with every hook
attached, the drill takes the webhook endpoint down and brings it back, makes the mirror folder read-only and then
writable again, injects a NaN into a validation loss, SIGKILLs the process mid-epoch, and resumes with
``resume=True``. Then it checks that nothing was lost and nothing was counted twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.drill.child import KILL_EPOCH
from tests.mirror.support import read_only_dir
from yolo_hooks.notify import outbox
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = [pytest.mark.drill, pytest.mark.training]

CHILD = Path(__file__).with_name("child.py")
EPOCHS, PATIENCE = 10, 5  # fitness stays 0.0: an uninterrupted run stops at epoch 1 + PATIENCE


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Training:
    """The child process, driven epoch by epoch through files in ``control``."""

    def __init__(self, tmp: Path, config: Path, resume: bool = False):
        self.control = tmp / "control"
        self.control.mkdir(exist_ok=True)
        self.log = open(tmp / ("resumed.log" if resume else "first.log"), "w")
        args = [sys.executable, str(CHILD), str(config), str(tmp / "project"), str(EPOCHS), str(self.control)]
        self.proc = subprocess.Popen(args + (["resume"] if resume else []), stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "NO_COLOR": "1"})

    def at_end_of_epoch(self, epoch: int, action=None) -> None:
        """Wait until the child finished ``epoch`` (every hook has handled it), do ``action``, let it go on."""
        deadline = time.time() + 180
        while not (self.control / f"reached_{epoch}").exists():
            assert self.proc.poll() is None, f"training ended before epoch {epoch}"
            assert time.time() < deadline, f"epoch {epoch} never ended"
            time.sleep(0.02)
        if action:
            action()
        (self.control / f"go_{epoch}").write_text("go")

    def wait_for(self, name: str) -> None:
        deadline = time.time() + 180
        while not (self.control / name).exists():
            assert self.proc.poll() is None and time.time() < deadline, f"{name} never came"
            time.sleep(0.02)

    def wait_for_log(self, text: str) -> None:
        """Wait until the child has logged ``text`` (its output goes to ``self.log``)."""
        deadline = time.time() + 120
        while text not in Path(self.log.name).read_text():
            assert self.proc.poll() is None and time.time() < deadline, f"never logged {text!r}"
            time.sleep(0.05)

    def release_all(self) -> None:
        for epoch in range(1, EPOCHS + 1):
            (self.control / f"go_{epoch}").write_text("go")


def test_fault_drill(tmp_path):
    receiver = WebhookReceiver().start()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    config = {
        "fitness_report": {"csv": True, "plot": False},
        "val_loss_alert": {"above": {"val/loss": 12.0}, "warmup": 0},
        "early_stop": {"patience": PATIENCE},
        "notify": [{"format": "json", "url": receiver.url, "events": "all", "retries": 2, "backoff": 0.1,
                    "max_backoff": 0.2, "timeout": 2, "flush_timeout": 5}],
        "best_mirror": {"to": str(mirror), "keep": 2, "retries": 1, "backoff": 0.1, "flush_timeout": 60},
    }
    config_path = tmp_path / "hooks.json"
    config_path.write_text(json.dumps(config))
    run = tmp_path / "project" / "run"

    # --- the first process: endpoint down in epochs 2-3, mirror read-only in 2-4, NaN at 3, killed in 5 ---
    first = Training(tmp_path, config_path)
    first.at_end_of_epoch(1, receiver.stop)
    with read_only_dir(mirror):
        first.at_end_of_epoch(2)
        first.at_end_of_epoch(3, receiver.start)
        # the folder comes back once the mirror has given up on a copy (and said so, at an epoch end)
        first.at_end_of_epoch(4, lambda: first.wait_for_log("could not mirror"))
    first.wait_for(f"paused_{KILL_EPOCH}")  # last.pt of epoch 5 is on disk; no hook has recorded epoch 5
    os.kill(first.proc.pid, signal.SIGKILL)
    assert first.proc.wait(timeout=60) == -signal.SIGKILL
    assert not (run / "fitness_summary.json").exists()  # it really died before the end
    assert json.loads((run / "weights" / "early_stop.state.json").read_text())["epoch"] == KILL_EPOCH - 1

    # --- the resumed process runs to its own end -----------------------------------------------------------------
    resumed = Training(tmp_path, config_path, resume=True)
    resumed.release_all()
    assert resumed.proc.wait(timeout=300) == 0, (tmp_path / "resumed.log").read_text()[-3000:]

    # no exception escaped a hook (the core would have logged "failed, training continues")
    logs = (tmp_path / "first.log").read_text() + (tmp_path / "resumed.log").read_text()
    assert "failed, training continues" not in logs
    assert json.loads((tmp_path / "control" / "errors_resumed.json").read_text()) == {
        name: {} for name in ("fitness_report", "val_loss_alert", "early_stop", "notify_json", "best_mirror")
    }

    # early-stop state continued across the kill (and caught up on the epoch it missed): it stops where an
    # uninterrupted run would
    early = json.loads((run / "early_stop.json").read_text())
    assert (early["reason"], early["epoch"], early["best_epoch"]) == ("patience", 1 + PATIENCE, 1)

    # fitness.csv has every epoch exactly once, no duplicate from the redone epoch
    epochs = [int(line.split(",")[0]) for line in (run / "fitness.csv").read_text().splitlines()[1:]]
    assert epochs == list(range(1, 1 + PATIENCE + 1))

    # alert state continued: the `above` condition fired once (epoch 1) and was not re-announced after the resume;
    # the NaN fired a critical alert at epoch 3 and recovered at epoch 4
    alerts = [json.loads(line) for line in (run / "alerts.jsonl").read_text().splitlines()]
    above = [a for a in alerts if a["rule"] == "above" and a["kind"] == "alert"]
    assert [(a["loss"], a["epoch"]) for a in above] == [("val/loss", 1)]
    nonfinite = [(a["kind"], a["epoch"]) for a in alerts if a["rule"] == "nonfinite"]
    assert nonfinite[0] == ("alert", 3) and ("recovered", 4) in nonfinite

    # the final best.pt is mirrored and verified; no temporary left behind
    final = run / "weights" / "best.pt"
    sidecar = json.loads((mirror / "best.json").read_text())
    assert sha256(mirror / "best.pt") == sha256(final) == sidecar["sha256"]
    assert sidecar["size"] == final.stat().st_size
    assert not [p.name for p in mirror.iterdir() if "tmp" in p.name]

    # every notification: received (dedup by id) or in the outbox, and the outbox is delivered by replay
    received_before = receiver.unique_ids()
    outbox_file = run / outbox.OUTBOX_NAME
    records, bad = outbox.read(outbox_file)
    assert bad == []
    stranded = {r["id"] for r in records}
    assert stranded, "the endpoint was down for two epochs: something must have waited in the outbox"
    hooks_yaml = tmp_path / "hooks.yaml"
    hooks_yaml.write_text(json.dumps({"notify": config["notify"]}))
    replay = subprocess.run([sys.executable, "-m", "yolo_hooks.cli", "outbox", "replay", f"hooks={hooks_yaml}",
                             f"dir={run}"], capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    received = receiver.unique_ids()
    assert stranded <= received and received_before <= received
    assert outbox.read(outbox_file)[0] == []
    events = [m["event"] for m in receiver.delivered()]
    for event in ("train_start", "alert", "alert_recovered", "mirror_failed", "early_stop", "train_end"):
        assert event in events, f"no {event} message reached the receiver"
    receiver.stop()
