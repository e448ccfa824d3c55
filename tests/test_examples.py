"""Every example config stays valid, and none carries a secret: its webhook URLs, tokens and passwords come only from
the environment, so an unset one is the promised ConfigError instead of a post to a placeholder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from yolo_hooks import ConfigError, build_hooks, cli, load_config

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))
REQUIRED_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")  # a reference without a ":-default"


def required_vars(path: Path) -> list[str]:
    """The variables ``path`` references without a default (comments left out)."""
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return sorted(set(REQUIRED_VAR.findall(text)))


def set_env(monkeypatch, names: list[str]) -> None:
    """Values that pass validation and go nowhere (URLs to a closed port on loopback)."""
    for name in names:
        monkeypatch.setenv(name, f"http://127.0.0.1:9/{name.lower()}" if name.endswith("_URL") else f"test-{name}")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_config_is_valid_once_its_secrets_are_set(path, capsys, monkeypatch):
    set_env(monkeypatch, required_vars(path))
    assert cli.main(["check", str(path)]) == 0, capsys.readouterr().err
    assert "hook(s) OK" in capsys.readouterr().out


@pytest.mark.parametrize("path", [p for p in EXAMPLES if "notify" in p.read_text()], ids=lambda p: p.name)
def test_every_secret_in_an_example_comes_from_the_environment_without_a_default(path, monkeypatch):
    names = required_vars(path)
    assert names and all(re.search(r"URL|SECRET|TOKEN|PASSWORD", n) for n in names)
    set_env(monkeypatch, names[1:])
    monkeypatch.delenv(names[0], raising=False)
    with pytest.raises(ConfigError, match=names[0]):
        build_hooks(load_config(path))
    defaults = re.findall(r"\$\{([A-Z_]+):-", path.read_text(encoding="utf-8"))
    assert not [d for d in defaults if re.search(r"URL|SECRET|TOKEN|PASSWORD", d)]


def test_there_are_example_configs():
    assert {"hooks.yaml", "notify.yaml"} <= {p.name for p in EXAMPLES}
