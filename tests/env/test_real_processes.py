"""YOLO_HOOKS in the processes Ultralytics starts itself: its `yolo` CLI, and every iteration of `model.tune()`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import COCO8
from yolo_hooks.notify.receiver import WebhookReceiver

TINY = ["imgsz=64", "batch=4", "workers=0", "epochs=1", "plots=False", "amp=False", "device=cpu"]


@pytest.fixture
def receiver():
    with WebhookReceiver() as r:
        yield r


@pytest.mark.training
def test_yolo_cli_train_leaves_our_files_and_sends_our_messages(installed, tmp_path, receiver):
    (tmp_path / "hooks.yaml").write_text(
        "fitness_report: {csv: true, jsonl: true}\n"
        f"notify: [{{format: json, url: '{receiver.url}', events: [train_start, train_end]}}]\n"
    )
    result = installed.run("yolo", "train", "model=yolo11n.yaml", f"data={COCO8}", *TINY, f"project={tmp_path}",
                           "name=cli", YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "cli"
    assert (run / "fitness.csv").is_file() and (run / "fitness.jsonl").is_file()
    events = [m["event"] for m in receiver.delivered()]
    assert events == ["train_start", "train_end"]

    # (a process without the variable gets nothing: test_startup_file.py)


def test_eval_of_yolo_hooks_env_works_on_ultralytics_first_run(installed, tmp_path):
    """Ultralytics prints a notice on stdout when it first creates its settings file: `yolo-hooks env`'s stdout
    still carries only the export line, which the shell evaluates."""
    (tmp_path / "hooks.yaml").write_text("early_stop: {patience: 3}\n")
    result = installed.run("bash", "-c", 'eval "$(yolo-hooks env hooks.yaml)" && printf %s "$YOLO_HOOKS"',
                           cwd=tmp_path, YOLO_CONFIG_DIR=str(tmp_path / "fresh-settings"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == str(tmp_path / "hooks.yaml")
    assert "Creating new Ultralytics Settings" in result.stderr  # it was a first run: the notice went to stderr


@pytest.mark.training
def test_a_bad_config_stops_yolo_train_and_leaves_no_run_folder(installed, tmp_path):
    (tmp_path / "hooks.yaml").write_text("early_stop: {mode: mn}\n")
    (tmp_path / "kept").mkdir()  # a run folder of its own (here: a file in it) is never removed
    (tmp_path / "kept" / "notes.txt").write_text("mine")
    for name in ("cli", "kept"):
        result = installed.run("yolo", "train", "model=yolo11n.yaml", f"data={COCO8}", *TINY, f"project={tmp_path}",
                               f"name={name}", "exist_ok=True", YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
        assert result.returncode != 0
        assert "ConfigError: YOLO_HOOKS=" in result.stderr and "`mode` must be" in result.stderr
    assert not (tmp_path / "cli").exists()
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["args.yaml", "notes.txt", "weights"]


TUNE = """
from ultralytics import YOLO
YOLO("yolo11n.yaml").tune(data={data!r}, iterations=2, epochs=1, imgsz=64, batch=4, workers=0, plots=False,
                          amp=False, device="cpu", project={project!r}, name="tune", val=True)
"""


@pytest.mark.training
def test_tune_gives_hooks_to_every_iteration_and_sends_one_summary(installed, tmp_path):
    with WebhookReceiver() as every_end, WebhookReceiver() as default:
        (tmp_path / "hooks.yaml").write_text(
            "fitness_report: {csv: true}\n"
            "notify:\n"
            f"  - {{format: json, url: '{every_end.url}', events: [train_end], name: ends}}\n"
            f"  - {{format: json, url: '{default.url}', name: news}}\n"
        )
        result = installed.python_code(TUNE.format(data=str(COCO8), project=str(tmp_path)),
                                       YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
        assert result.returncode == 0, result.stderr[-4000:]
        ends, news = every_end.delivered(), default.delivered()

    # a destination that asked for train_end hears it from both iterations, each saying which one it is
    assert [m["event"] for m in ends] == ["train_end", "train_end"]
    assert "tune iteration 1/2" in ends[0]["title"] and "tune iteration 2/2" in ends[1]["title"]
    # a destination with default events hears the tune, not its iterations: start, new best(s), one end
    kinds = [m["event"] for m in news]
    assert kinds[0] == "tune_start" and kinds[-1] == "tune_end" and kinds.count("tune_end") == 1
    assert set(kinds) <= {"tune_start", "tune_new_best", "tune_end"}
    summary = json.loads((tmp_path / "tune" / "tune_summary.json").read_text())
    assert news[-1]["data"]["summary"]["iterations_run"] == summary["iterations_run"] == 2
    assert [i["iteration"] for i in summary["iterations"]] == [1, 2]
    assert all(i["hyperparameters"] for i in summary["iterations"])
    assert summary["best"]["iteration"] in (1, 2) and summary["best"]["weights"]
    # the best iteration's run folder (the tuner deletes the other one) has its own fitness report
    best_dirs = summary["iterations"][summary["best"]["iteration"] - 1]["save_dirs"].values()
    assert all((Path(d) / "fitness.csv").is_file() for d in best_dirs)


@pytest.mark.training
def test_a_yolo_cli_run_takes_run_control_commands(installed, tmp_path):
    """Ultralytics' own `yolo train` under YOLO_HOOKS has the same control as attach(): stopped from the shell."""
    import subprocess
    import time

    from yolo_hooks.control.cli import control_command
    from yolo_hooks.control.inbox import read_audit

    (tmp_path / "hooks.yaml").write_text("fitness_report: {plot: false}\n")
    args = ["yolo", "train", "model=yolo11n.yaml", f"data={COCO8}", *[a for a in TINY if a != "epochs=1"],
            "epochs=20", f"project={tmp_path}", "name=cli"]
    run = tmp_path / "cli"
    proc = subprocess.Popen(args, cwd=installed.root, env=installed.env(YOLO_HOOKS=str(tmp_path / "hooks.yaml")),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 300
        while not (run / "results.csv").exists() and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.2)
        assert control_command("stop", [str(run), "--reason", "from the shell"]) == 0
        assert proc.wait(300) == 0, proc.stderr.read()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    rows = (run / "results.csv").read_text().splitlines()[1:]
    assert 1 <= len(rows) < 20
    assert [(r["command"], r["result"]) for r in read_audit(run)] == [("stop", "done")]
    assert json.loads((run / "fitness_summary.json").read_text())["status"] == "stopped_early"
