"""Reading YOLO_HOOKS, and attaching its config to engines exactly once (in this process, on real engines)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import _yolo_hooks_startup as startup
import yolo_hooks
from yolo_hooks.core.errors import ConfigError
from yolo_hooks.env.activate import config_source, export_line, read_config

IMAGE = np.zeros((64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("{fitness_report: true}", {"fitness_report": True}),
        ('{"early_stop": {"patience": 3}}', {"early_stop": {"patience": 3}}),
        ("fitness_report: true\nearly_stop: {patience: 3}", {"fitness_report": True, "early_stop": {"patience": 3}}),
    ],
)
def test_inline_yaml_or_json(value, expected):
    assert config_source(value) == expected


def test_a_path_is_made_absolute(tmp_path, monkeypatch):
    (tmp_path / "hooks.yaml").write_text("fitness_report: true\n")
    monkeypatch.chdir(tmp_path)
    assert config_source("hooks.yaml") == str(tmp_path / "hooks.yaml")


@pytest.mark.parametrize(
    "value, match",
    [
        ("missing.yaml", r"YOLO_HOOKS=missing.yaml: no such file"),
        ("{fitness_report: [", r"YOLO_HOOKS: inline config is not valid YAML/JSON"),
        ("{early_stop: {mode: mn}}", r"YOLO_HOOKS \(inline\): early_stop: `mode` must be"),
        ("{early_stp: true}", r"unknown hook `early_stp` \(did you mean `early_stop`\?\)"),
    ],
)
def test_bad_values_are_config_errors_that_say_where_they_came_from(value, match):
    with pytest.raises(ConfigError, match=match):
        read_config(value)


def test_env_prints_the_export_line_after_checking(tmp_path):
    (tmp_path / "hooks.yaml").write_text("fitness_report: true\n")
    assert export_line(str(tmp_path / "hooks.yaml")) == f"export YOLO_HOOKS={tmp_path / 'hooks.yaml'}"
    (tmp_path / "bad.yaml").write_text("early_stop: {patience: -1}\n")
    with pytest.raises(ConfigError, match="patience"):
        export_line(str(tmp_path / "bad.yaml"))


@pytest.fixture
def hooks_from(monkeypatch):
    """Switch YOLO_HOOKS on in this process (as the .pth would at start-up), undone after the test."""
    import ultralytics.utils.callbacks as callbacks

    monkeypatch.setattr(callbacks, "add_integration_callbacks", callbacks.add_integration_callbacks)
    monkeypatch.setattr(callbacks.base, "add_integration_callbacks", callbacks.base.add_integration_callbacks)

    def switch_on(value: str):
        monkeypatch.setenv("YOLO_HOOKS", value)
        startup.install()

    return switch_on


def test_the_same_entries_from_attach_and_yolo_hooks_are_attached_once(hooks_from, tmp_path):
    from ultralytics import YOLO

    hooks_from("{fitness_report: true, early_stop: {patience: 3}}")
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, {"fitness_report": True})
    model.predict(IMAGE, imgsz=64, verbose=False, project=str(tmp_path), name="p")
    assert [h.name for h in yolo_hooks.attached(model)] == ["fitness_report", "early_stop"]


def test_two_configs_with_the_same_names_follow_the_unique_name_rule(hooks_from, tmp_path):
    from ultralytics import YOLO

    hooks_from("{early_stop: {patience: 5}}")
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, {"early_stop": {"patience": 3}})
    model.predict(IMAGE, imgsz=64, verbose=False, project=str(tmp_path), name="p")
    assert [h.name for h in yolo_hooks.attached(model)] == ["early_stop", "early_stop_2"]

    hooks_from("{early_stop: {patience: 5, name: stopper}}")
    clash = YOLO("yolo11n.yaml")
    yolo_hooks.attach(clash, {"early_stop": {"patience": 3, "name": "stopper"}})
    with pytest.raises(ConfigError, match="named `stopper`"):
        clash.predict(IMAGE, imgsz=64, verbose=False, project=str(tmp_path), name="q")


def test_a_moved_interception_point_is_reported_not_raised(caplog):
    import types

    moved = types.ModuleType("ultralytics.utils.callbacks")  # a future Ultralytics without the function
    with caplog.at_level("WARNING", logger="ultralytics"):
        assert startup.wrap_entry(moved) is False
    assert "hooks of YOLO_HOOKS are NOT attached" in caplog.text


def test_the_startup_module_imports_only_the_standard_library():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(startup.__file__).read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module and node.level == 0}
    assert imported <= set(sys.stdlib_module_names) | {"__future__", "yolo_hooks"}


def test_yolo_hooks_env_command(tmp_path, capsys):
    from yolo_hooks.cli import main

    (tmp_path / "hooks.yaml").write_text("early_stop: {patience: 3}\n")
    assert main(["env", str(tmp_path / "hooks.yaml")]) == 0
    assert capsys.readouterr().out.strip() == f"export YOLO_HOOKS={tmp_path / 'hooks.yaml'}"
    (tmp_path / "hooks.yaml").write_text("early_stop: {patience: x}\n")
    assert main(["env", str(tmp_path / "hooks.yaml")]) == 2
    assert "patience" in capsys.readouterr().err


def test_a_resumed_tune_sends_start_and_one_summary_without_replaying_old_bests(hooks_from, tmp_path):
    """Ultralytics' real Tuner, resumed with every iteration already done: no training, just the tune's story."""
    from ultralytics import YOLO
    from ultralytics.engine.tuner import Tuner

    from yolo_hooks.notify.receiver import WebhookReceiver

    records = [{"iteration": 1, "fitness": 0.2, "hyperparameters": {"lr0": 0.01}, "datasets": {},
                "save_dirs": {"coco8": str(tmp_path / "a")}},
               {"iteration": 2, "fitness": 0.0, "hyperparameters": {"lr0": 0.02}, "datasets": {},
                "save_dirs": {"coco8": str(tmp_path / "b")}, "failed_datasets": ["coco8"]}]
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "tune_results.ndjson").write_text("".join(json.dumps(r) + "\n" for r in records))
    with WebhookReceiver() as receiver:
        hooks_from(json.dumps({"notify": {"format": "json", "url": receiver.url}}))
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(Tuner, "__call__", Tuner.__call__)  # our wrapper is undone after the test
            YOLO("yolo11n.yaml").tune(data="coco8.yaml", iterations=2, project=str(tmp_path), name="t", resume=True)
        messages = receiver.delivered()
    assert [m["event"] for m in messages] == ["tune_start", "tune_end"]
    assert messages[0]["data"]["start_iteration"] == 3
    summary = messages[1]["data"]["summary"]
    assert summary == json.loads((tmp_path / "t" / "tune_summary.json").read_text())
    assert (summary["iterations_run"], summary["iterations_failed"], summary["best"]["iteration"]) == (2, 1, 1)
    assert summary["best"]["weights"] == str(tmp_path / "a" / "weights" / "best.pt")
    assert "YOLO_HOOKS_TUNE" not in os.environ  # set for the iterations only


@pytest.mark.parametrize("value", [
    '[{"notify":{"format":"json","url":"https://hooks.slack.com/services/T0/B0/INLINESECRET0123"}}]',
    '[{"notify": {"format": "json", "url": "https://hooks.slack.com/services/T0/B0/INLINESECRET0123"}}]',
    "https://hooks.slack.com/services/T0/B0/INLINESECRET0123",
    '{notify: {format: json, url: "https://hooks.slack.com/services/T0/B0/INLINESECRET0123", bogus: 1}}',
    '{notify: {format: json, url: "ftp://hooks.slack.com/services/T0/B0/INLINESECRET0123"}}',
])
def test_an_inline_config_error_never_prints_the_inline_text(value):
    with pytest.raises(ConfigError, match="YOLO_HOOKS") as caught:
        read_config(value)
    assert "INLINESECRET" not in str(caught.value) and "T0/B0" not in str(caught.value)
