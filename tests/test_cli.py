"""The ``yolo-hooks`` command line: Ultralytics' key=value style, config check with secrets redacted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import COCO8
from yolo_hooks import cli
from yolo_hooks.core import registry


@pytest.fixture
def greeter_registered(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "greeter", "tests.core.test_config:Greeter")


def test_check_prints_resolved_hooks_with_secrets_redacted(tmp_path, monkeypatch, capsys, greeter_registered):
    monkeypatch.setenv("GREETER_URL", "https://hooks.example.com/services/TOPSECRET")
    path = tmp_path / "hooks.yaml"
    path.write_text("greeter:\n  - {greeting: hello, url: '${GREETER_URL}'}\n")
    assert cli.main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1 hook(s) OK" in out and "greeter" in out and "hooks.example.com/***" in out
    assert "TOPSECRET" not in out


def test_check_reports_a_bad_config_with_exit_code_2(tmp_path, capsys, greeter_registered):
    path = tmp_path / "hooks.yaml"
    path.write_text("greeter: {times: -1}\n")
    assert cli.main(["check", str(path)]) == 2
    assert "greeter: `times` must be an integer >= 1, got -1" in capsys.readouterr().err


def test_unknown_command_lists_the_commands(capsys):
    assert cli.main(["trian"]) == 2
    assert "train" in capsys.readouterr().out


@pytest.mark.training
def test_console_script_trains_in_key_value_style(tmp_path):
    exe = shutil.which("yolo-hooks", path=str(Path(sys.executable).parent)) or shutil.which("yolo-hooks")
    assert exe, "the yolo-hooks console script is installed with the package"
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text("{}\n")
    result = subprocess.run(
        [exe, "train", "model=yolo11n.yaml", f"data={COCO8}", "epochs=1", "imgsz=160", "batch=4", "workers=0",
         "plots=False", f"project={tmp_path}", "name=cli", f"hooks={hooks}"],
        cwd=tmp_path, env=os.environ.copy(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "cli" / "weights" / "best.pt").exists()
