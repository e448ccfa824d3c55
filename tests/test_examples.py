"""Every example config stays valid: `yolo-hooks check` accepts it as shipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from yolo_hooks import cli

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_is_valid(path, capsys):
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err
    assert "hook(s) OK" in capsys.readouterr().out


def test_there_are_example_configs():
    assert {"hooks.yaml", "notify.yaml"} <= {p.name for p in EXAMPLES}
