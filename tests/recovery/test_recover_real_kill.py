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

from tests.mirror.support import leftovers
from yolo_hooks.cli import main
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.training

CHILD = Path(__file__).with_name("child.py")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def killed_run(tmp_path: Path, url: str, mirror: Path, when: str, marker_says: str | None = None) -> Path:
    """Run the child until it pauses at ``when`` (or, with ``marker_says``, until the run's marker has that status),
    SIGKILL it, reap it; returns the run folder."""
    control = tmp_path / "control"
    control.mkdir()
    marker = tmp_path / "project" / "run" / "yolo_hooks_run.json"

    def kill_point() -> bool:
        if marker_says is None:
            return (control / "paused").exists()
        try:
            return json.loads(marker.read_text()).get("status") == marker_says
        except (OSError, ValueError):
            return False

    with open(tmp_path / "child.log", "w") as log:
        proc = subprocess.Popen([sys.executable, str(CHILD), str(tmp_path / "project"), url, str(mirror), str(control),
                                 when], stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 300
        while not kill_point():
            assert proc.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
            assert time.time() < deadline, "the child never reached the kill point"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return tmp_path / "project" / "run"


def hooks_yaml(tmp_path: Path, url: str, mirror: Path) -> Path:
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(f"notify:\n  - {{format: json, url: '{url}'}}\nbest_mirror: {{to: '{mirror}', keep: 0}}\n"
                     f"fitness_report: {{plot: false}}\n")
    return hooks


def killed_messages(receiver) -> list[dict]:
    return [m for m in receiver.delivered() if m["event"] == "killed"]


def test_killed_in_the_final_validation_then_outbox_recover_and_replay(tmp_path, capsys):
    """`yolo-hooks outbox` (no hooks) writes the summary and queues the message; `recover hooks=` mirrors best.pt;
    `outbox replay` sends the message once; doing it all again does nothing."""
    receiver = WebhookReceiver().start()
    mirror = tmp_path / "mirror"
    run = killed_run(tmp_path, receiver.url, mirror, "final_val")
    assert not {"train_end", "killed"} & {m["event"] for m in receiver.delivered()}
    assert (run / ".mirror_staging").is_dir() and leftovers(mirror)  # the kill came mid-upload
    hooks = hooks_yaml(tmp_path, receiver.url, mirror)

    assert main(["outbox", f"dir={run}"]) == 0
    listed = capsys.readouterr().out
    assert "killed: 💀 Training killed" in listed and not (run / ".mirror_staging").exists()
    summary = json.loads((run / "fitness_summary.json").read_text())
    assert summary["status"] == "killed" and summary["last_epoch"] == 2 and summary["epochs"] == 2
    assert summary["forensics"]["last_completed_epoch"] == 2 and summary["forensics"]["training_done"]

    assert main(["recover", str(run), f"hooks={hooks}"]) == 0
    best = sha256(run / "weights" / "best.pt")
    assert sha256(mirror / "best.pt") == best and json.loads((mirror / "best.json").read_text())["sha256"] == best
    assert not leftovers(mirror) and not killed_messages(receiver)  # the message waits in the outbox

    assert main(["outbox", "replay", f"hooks={hooks}", f"dir={run}"]) == 0
    (killed,) = killed_messages(receiver)
    assert "end of the run" in killed["text"] and "best.pt is the final model" in killed["text"]

    capsys.readouterr()
    assert main(["recover", str(run), f"hooks={hooks}"]) == 0  # idempotent
    assert "nothing to do" in capsys.readouterr().out
    assert main(["outbox", "replay", f"hooks={hooks}", f"dir={run}"]) == 0
    assert len(killed_messages(receiver)) == 1
    receiver.stop()


def test_killed_in_on_train_end_then_the_next_run_in_the_folder_recovers(tmp_path):
    """The next training in the same folder sends the killed run's message, mirrors its best.pt and removes its
    staging snapshots and half-written temporaries before it starts."""
    import yolo_hooks
    from tests.conftest import train

    receiver = WebhookReceiver().start()
    mirror = tmp_path / "mirror"
    run = killed_run(tmp_path, receiver.url, mirror, "train_end")
    assert (run / ".mirror_staging").is_dir() and leftovers(mirror)
    killed_best = sha256(run / "weights" / "best.pt")
    seen = []

    def at_start(trainer):  # after the recovery, before the first epoch rewrites best.pt
        seen.append((sha256(mirror / "best.pt"), (run / ".mirror_staging").exists(), leftovers(mirror)))

    hooks = yolo_hooks.build_hooks({"notify": [{"format": "json", "url": receiver.url}],
                                    "best_mirror": {"to": str(mirror), "keep": 0}})
    train(tmp_path / "project", *hooks, yolo_hooks.on("on_train_start", at_start), epochs=1, imgsz=64)

    assert seen == [(killed_best, False, [])]
    assert len(killed_messages(receiver)) == 1
    assert [m["event"] for m in receiver.delivered()].count("train_end") == 1  # the new run's own
    assert json.loads((run / "yolo_hooks_run.json").read_text())["status"] == "finished"
    receiver.stop()
