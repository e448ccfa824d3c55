"""A training SIGKILLed while its mirror lags two epochs behind goes on from the mirror, on a fresh machine, exactly
as if it had never stopped: every epoch's lr and every hook's decisions are those of the uninterrupted run, from a
local folder and from S3 (moto on loopback). A resume that cannot verify anything leaves nothing behind."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.conftest import train
from yolo_hooks.cli import main

pytestmark = pytest.mark.training

CHILD = Path(__file__).with_name("lagging_child.py")
EPOCHS, KILL_AT = 10, 5  # killed when 5 or more epochs are complete; the mirror is two epochs behind
# fitness stays 0.0 in a random-init run: lr_on_plateau reduces at epochs 3, 5, 7 and 9, whatever the noise
HOOKS = {"fitness_report": {"plot": False}, "early_stop": {"patience": 50},
         "lr_on_plateau": {"patience": 2, "factor": 0.5}}
DECIDING = ("lr_on_plateau", "early_stop")  # the hooks whose state is their decisions so far


def decisions(run_dir: Path) -> dict:
    """Every epoch's learning rates (results.csv), the epochs fitness.csv has, and the deciding hooks' states."""
    with open(run_dir / "results.csv", newline="") as f:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    with open(run_dir / "fitness.csv", newline="") as f:
        recorded = [int(row["epoch"]) for row in csv.DictReader(f)]
    states = {name: json.loads((run_dir / "weights" / f"{name}.state.json").read_text()) for name in DECIDING}
    return {"lr": {int(float(r["epoch"])): [float(r[k]) for k in sorted(r) if k.startswith("lr/")] for r in rows},
            "epochs": [int(float(r["epoch"])) for r in rows], "recorded": recorded, "states": states}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    import yolo_hooks

    tmp = tmp_path_factory.mktemp("uninterrupted")
    train(tmp, *yolo_hooks.build_hooks(HOOKS), epochs=EPOCHS, imgsz=64)
    reference = decisions(tmp / "run")
    reductions = [r["epoch"] for r in reference["states"]["lr_on_plateau"]["state"]["reductions"]]
    assert reductions == [3, 5, 7, 9], reductions  # the plan of this test: a reduction after the mirror's copy
    return reference


def killed_run(tmp_path: Path, store: str) -> int:
    """Run the child until it pauses (KILL_AT epochs complete or more), then SIGKILL it; returns the epochs done."""
    control = tmp_path / "control"
    control.mkdir()
    with open(tmp_path / "child.log", "w") as log:
        proc = subprocess.Popen([sys.executable, str(CHILD), str(tmp_path / "project"), store, str(control),
                                 json.dumps(HOOKS), str(EPOCHS), str(KILL_AT)], stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, "NO_COLOR": "1"})
        deadline = time.time() + 600
        while not (control / "paused").exists():
            assert proc.poll() is None, (tmp_path / "child.log").read_text()[-3000:]
            assert time.time() < deadline, "the child never reached the kill point"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return int((control / "paused").read_text())


def resumed_like_the_uninterrupted_run(tmp_path: Path, dest: str, best_mirror_to, reference: dict, killed_after: int,
                                       capsys) -> None:
    hooks_yaml = tmp_path / "hooks.yaml"
    hooks_yaml.write_text(yaml.safe_dump({**HOOKS, "best_mirror": {"to": best_mirror_to, "last_every": 1, "keep": 0}}))
    resumed = tmp_path / "fresh-machine" / "run"
    capsys.readouterr()
    assert main(["resume", dest, f"hooks={hooks_yaml}", f"dir={resumed}"]) == 0
    said = capsys.readouterr().out
    summary = json.loads((resumed / "fitness_summary.json").read_text())
    went_on_from = summary["resumed_from"]
    assert went_on_from <= killed_after - 2  # the mirror was two epochs behind the kill

    got = decisions(resumed)
    assert got["epochs"] == got["recorded"] == list(range(1, EPOCHS + 1))  # every epoch once
    for epoch in range(1, EPOCHS + 1):
        assert got["lr"][epoch] == pytest.approx(reference["lr"][epoch], rel=1e-5), epoch
    for name in DECIDING:
        assert got["states"][name] == reference["states"][name], name
    assert f"resuming after epoch {went_on_from}/{EPOCHS}" in said  # it says which epoch it goes on from


def test_killed_while_a_folder_mirror_lags_then_resumed_elsewhere(tmp_path, uninterrupted, capsys):
    mirror = tmp_path / "mirror"
    killed_after = killed_run(tmp_path, str(mirror))
    shutil.rmtree(tmp_path / "project")  # the machine is gone

    # a copy of the mirror whose checkpoints are all damaged: refused, and nothing is left where it was to go
    damaged = tmp_path / "damaged"
    shutil.copytree(mirror, damaged)
    for checkpoint in damaged.rglob("last.pt"):
        data = bytearray(checkpoint.read_bytes())
        data[len(data) // 2] ^= 0xFF
        checkpoint.write_bytes(bytes(data))
    resumed = tmp_path / "fresh-machine" / "run"
    assert main(["resume", str(damaged), f"dir={resumed}"]) == 1
    assert not (tmp_path / "fresh-machine").exists() and sorted(p.name for p in tmp_path.iterdir() if
                                                                p.name.startswith(".")) == []

    # the same dir= again, from the real mirror
    resumed_like_the_uninterrupted_run(tmp_path, str(mirror), str(mirror), uninterrupted, killed_after, capsys)


def test_killed_while_an_s3_mirror_lags_then_resumed_elsewhere(tmp_path, uninterrupted, s3_server, capsys):
    url = f"s3://mirror-bucket/lagging-{uuid.uuid4().hex[:8]}"
    store = {"url": url, "storage_options": {"endpoint_url": s3_server}}
    killed_after = killed_run(tmp_path, json.dumps(store))
    shutil.rmtree(tmp_path / "project")
    resumed_like_the_uninterrupted_run(tmp_path, url, store, uninterrupted, killed_after, capsys)
