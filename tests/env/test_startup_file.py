"""The startup file in real installs: inert without YOLO_HOOKS, imports nothing before Ultralytics, and attaches."""

from __future__ import annotations

import json

SHOW_MODULES = "import sys, json; print(json.dumps(sorted(sys.modules)))"

PREDICT = """
import json, numpy as np, yolo_hooks
from ultralytics import YOLO
model = YOLO("yolo11n.yaml")
model.predict(np.zeros((64, 64, 3), dtype=np.uint8), imgsz=64, verbose=False, project={project!r}, name="p")
print(json.dumps({{"file": yolo_hooks.__file__, "hooks": [h.name for h in yolo_hooks.attached(model)]}}))
"""


def test_the_pth_file_is_installed_and_inert_without_the_variable(venv):
    assert (venv.site / "yolo_hooks.pth").is_file()
    result = venv.python_code(SHOW_MODULES)
    modules = json.loads(result.stdout)
    ours = [m for m in modules if m.startswith(("yolo_hooks", "_yolo_hooks"))]
    assert not ours and not [m for m in modules if m.startswith("ultralytics")]


def test_with_the_variable_nothing_is_imported_until_ultralytics_is(venv, tmp_path):
    (tmp_path / "hooks.yaml").write_text("fitness_report: true\n")
    result = venv.python_code(SHOW_MODULES, YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
    modules = json.loads(result.stdout)
    assert "_yolo_hooks_startup" in modules
    assert not [m for m in modules if m.startswith(("yolo_hooks", "ultralytics", "torch", "yaml"))]


def test_engines_built_under_the_variable_get_the_hooks(venv, tmp_path):
    (tmp_path / "hooks.yaml").write_text("fitness_report: {csv: true}\nearly_stop: {patience: 3}\n")
    result = venv.python_code(PREDICT.format(project=str(tmp_path)), YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["hooks"] == ["fitness_report", "early_stop"]
    if not venv.editable:
        assert report["file"].startswith(str(venv.site))  # the installed copy, not the worktree
    assert "fitness_report: predict" in result.stderr + result.stdout


def test_without_the_variable_a_process_gets_nothing(installed, tmp_path):
    result = installed.python_code(PREDICT.format(project=str(tmp_path)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["hooks"] == []
    assert "fitness_report" not in result.stderr + result.stdout


def test_a_bad_config_stops_the_process_that_reads_it_before_the_run(installed, tmp_path):
    (tmp_path / "hooks.yaml").write_text("early_stop: {mode: mn}\n")
    result = installed.python_code(PREDICT.format(project=str(tmp_path)), YOLO_HOOKS=str(tmp_path / "hooks.yaml"))
    assert result.returncode != 0
    assert "ConfigError: YOLO_HOOKS=" in result.stderr and "`mode` must be" in result.stderr
    assert not (tmp_path / "p").exists()  # nothing ran
