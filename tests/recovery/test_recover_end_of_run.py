"""The end of a run is finished work only when it is: a run's marker says so after its uploads and deliveries, a
kill during them is recovered (the end message, the final best.pt mirrored and verified, nothing left behind), and
a recovery that is itself killed is taken up by the next one, which announces what it did, once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.mirror.support import leftovers
from tests.recovery.test_recover_real_kill import hooks_yaml, killed_messages, killed_run, sha256
from yolo_hooks.cli import main
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = pytest.mark.training

ROOT = Path(__file__).resolve().parents[2]


def events(receiver, event: str) -> list[dict]:
    return [m for m in receiver.delivered() if m["event"] == event]


def the_final_best_is_mirrored_and_nothing_is_left(run: Path, mirror: Path) -> None:
    best = sha256(run / "weights" / "best.pt")
    assert sha256(mirror / "best.pt") == best and json.loads((mirror / "best.json").read_text())["sha256"] == best
    assert not (run / ".mirror_staging").exists() and leftovers(mirror) == []


def test_killed_as_soon_as_the_marker_says_finished_the_run_had_done_its_end(tmp_path, capsys):
    """SIGKILL the moment the marker says `finished`: its uploads and deliveries were already done."""
    with WebhookReceiver() as receiver:
        mirror = tmp_path / "mirror"
        run = killed_run(tmp_path, receiver.url, mirror, "end", marker_says="finished")
        assert len(events(receiver, "train_end")) == 1
        the_final_best_is_mirrored_and_nothing_is_left(run, mirror)
        capsys.readouterr()
        assert main(["recover", str(run), f"hooks={hooks_yaml(tmp_path, receiver.url, mirror)}"]) == 0
        assert "nothing to do" in capsys.readouterr().out


def test_killed_during_the_end_of_the_run_is_finished_by_recover(tmp_path, capsys):
    """SIGKILL the moment the marker says `ending` (training finished, its end-of-run work just started): recover
    tells it from a run killed mid-training, sends the end message, mirrors the final best.pt and cleans up."""
    with WebhookReceiver() as receiver:
        mirror = tmp_path / "mirror"
        run = killed_run(tmp_path, receiver.url, mirror, "end", marker_says="ending")
        hooks = hooks_yaml(tmp_path, receiver.url, mirror)
        capsys.readouterr()
        assert main(["recover", str(run), f"hooks={hooks}"]) == 0
        said = capsys.readouterr().out
        assert "best.pt mirrored to" in said or "already verified" in said
        the_final_best_is_mirrored_and_nothing_is_left(run, mirror)
        (killed,) = killed_messages(receiver)
        assert "end of the run (training finished" in killed["text"] and "best.pt is the final model" in killed["text"]
        assert main(["outbox", "replay", f"hooks={hooks}", f"dir={run}"]) == 0  # what was in flight, if anything
        assert len(events(receiver, "train_end")) <= 1 and len(killed_messages(receiver)) == 1
        marker = json.loads((run / "yolo_hooks_run.json").read_text())
        assert marker["status"] == "recovered" and marker["outcome"] == "finished"
        capsys.readouterr()
        assert main(["recover", str(run), f"hooks={hooks}"]) == 0
        assert "nothing to do" in capsys.readouterr().out and len(killed_messages(receiver)) == 1


RECOVER_SLOWLY = """
import sys
sys.path.insert(0, {root!r})
import yolo_hooks
from tests.mirror.support import SlowStore
from yolo_hooks.recovery.recover import recover
recover({run!r}, [yolo_hooks.BestMirror(to=SlowStore({mirror!r}, seconds_per_mib=2.0), keep=0),
                  yolo_hooks.Notify(format="json", url={url!r}, events=["killed", "mirror_done"])])
"""


def test_a_killed_recovery_is_taken_up_by_the_next_which_announces_its_copy_once(tmp_path, capsys):
    with WebhookReceiver() as receiver:
        mirror = tmp_path / "mirror"
        run = killed_run(tmp_path, receiver.url, mirror, "final_val")
        # a recovery killed while it copies best.pt to the mirror (its own temporary is there)
        first = subprocess.Popen([sys.executable, "-c", RECOVER_SLOWLY.format(root=str(ROOT), run=str(run),
                                                                              mirror=str(mirror), url=receiver.url)],
                                 env={**os.environ, "NO_COLOR": "1"}, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not any(f"-{first.pid}-" in name for name in leftovers(mirror)):
            assert first.poll() is None and time.time() < deadline, "the recovery never started its copy"
            time.sleep(0.01)
        first.kill()
        first.wait()
        assert (run / "fitness_summary.json").is_file() and not killed_messages(receiver)

        hooks = tmp_path / "hooks-all.yaml"
        hooks.write_text(f"notify:\n  - {{format: json, url: '{receiver.url}', events: [killed, mirror_done]}}\n"
                         f"best_mirror: {{to: '{mirror}', keep: 0}}\n")
        capsys.readouterr()
        assert main(["recover", str(run), f"hooks={hooks}"]) == 0
        said = capsys.readouterr().out
        assert "written by the run itself" not in said and "best.pt mirrored to" in said
        the_final_best_is_mirrored_and_nothing_is_left(run, mirror)
        (done,) = events(receiver, "mirror_done")
        assert done["data"]["sha256"] == sha256(run / "weights" / "best.pt") and done["data"]["recovered"] is True
        assert len(killed_messages(receiver)) == 1
        assert json.loads((run / "fitness_summary.json").read_text())["status"] == "killed"

        capsys.readouterr()
        assert main(["recover", str(run), f"hooks={hooks}"]) == 0
        assert "nothing to do" in capsys.readouterr().out
        assert len(events(receiver, "mirror_done")) == 1 and len(killed_messages(receiver)) == 1
