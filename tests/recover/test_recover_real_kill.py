"""A training SIGKILLed at the end of its run (final validation, on_train_end) is finished by ``yolo-hooks recover``:
summary with status ``killed``, the final best.pt mirrored and verified, one ``killed`` message with a stable id,
no staging or temporary file left; a second recovery does nothing."""

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

from tests.best_mirror.support import leftovers
from yolo_hooks.cli import main
from yolo_hooks.receiver import WebhookReceiver

pytestmark = pytest.mark.training

CHILD = Path(__file__).with_name("child.py")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def killed_run(tmp_path: Path, url: str, mirror: Path, when: str) -> Path:
    """Run the child until it pauses at ``when``, SIGKILL it, reap it; returns the run folder."""
    control = tmp_path / "control"
    control.mkdir()
    with open(tmp_path / "child.log", "w") as log:
        proc = subprocess.Popen([sys.executable, str(CHILD), str(tmp_path / "project"), url, str(mirror), str(control),
                                 when], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 300
        while not (control / "paused").exists():
            assert proc.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
            assert time.time() < deadline, "the child never reached the kill point"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return tmp_path / "project" / "run"


@pytest.mark.parametrize("when", ["final_val", "train_end"])
def test_recover_finishes_a_run_killed_at_its_end(tmp_path, when, capsys):
    receiver = WebhookReceiver().start()
    mirror = tmp_path / "mirror"
    run = killed_run(tmp_path, receiver.url, mirror, when)
    before = {m["event"] for m in receiver.delivered()}
    assert "train_end" not in before and "killed" not in before
    assert (run / ".mirror_staging").is_dir() and leftovers(mirror)  # the kill came mid-upload
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(f"notify:\n  - {{format: json, url: '{receiver.url}'}}\nbest_mirror: {{to: '{mirror}', keep: 0}}\n")

    assert main(["recover", str(run), f"hooks={hooks}"]) == 0
    printed = capsys.readouterr().out

    summary = json.loads((run / "fitness_summary.json").read_text())
    assert summary["status"] == "killed" and summary["last_epoch"] == 1 and summary["epochs"] == 1
    assert summary["forensics"]["last_completed_epoch"] == 1
    assert sha256(mirror / "best.pt") == sha256(run / "weights" / "best.pt")
    assert json.loads((mirror / "best.json").read_text())["sha256"] == sha256(run / "weights" / "best.pt")
    killed = [m for m in receiver.delivered() if m["event"] == "killed"]
    assert len(killed) == 1, printed
    assert "end of the run" in killed[0]["text"] and "best.pt is the final model" in killed[0]["text"]
    assert not (run / ".mirror_staging").exists() and not leftovers(mirror)

    assert main(["recover", str(run), f"hooks={hooks}"]) == 0  # idempotent
    assert "nothing to do" in capsys.readouterr().out
    assert len([m for m in receiver.delivered() if m["event"] == "killed"]) == 1
    receiver.stop()
