"""Every snippet of README.md and docs/ runs, or is a fragment that says why (see ``tests/docs_snippets.py``).

- each page's ``python`` blocks and cheap ``yolo-hooks`` commands run in order in one worker process (imports are
  paid once), each page in a fresh folder with a copy of ``datasets/`` and ``examples/``, network to loopback only;
- each ``yaml`` block is a hooks config that builds as ``yolo-hooks check`` builds it, with its ``${VARS}`` set to
  values that go nowhere;
- each hook page lists exactly the options its class takes, with the defaults the code has.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.docs_snippets import PAGES, ROOT, Block, blocks, commands, steps

ALL_BLOCKS = [b for page in PAGES for b in blocks(page)]
RUNNABLE_PAGES = [p for p in PAGES if any(s["kind"] != "file" for s in steps(p))]
YAML_BLOCKS = [b for b in ALL_BLOCKS if b.lang == "yaml" and b.fragment is None]
README = ROOT / "README.md"
PAGE_TIMEOUT = 240  # seconds; the slowest page trains twice


def rel(page: Path) -> str:
    return str(page.relative_to(ROOT))


def env_vars() -> set[str]:
    """Every ``${VAR}`` and ``os.environ["VAR"]`` the pages and examples read."""
    names = set()
    for path in [*PAGES, *(ROOT / "examples").glob("*.yaml")]:
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))  # without a :-default
        names |= set(re.findall(r"""os\.environ\[["']([A-Za-z_][A-Za-z0-9_]*)["']\]""", text))
    return names


def dummy_env(folder: Path) -> dict[str, str]:
    """Values that pass validation and go nowhere: URLs to a closed port on loopback, folders under ``folder``."""
    out = {}
    for name in sorted(env_vars()):
        if name.endswith("_URL"):
            out[name] = f"http://127.0.0.1:9/{name.lower()}"
        elif name.endswith("_DIR"):
            out[name] = str(folder / name.lower())
        else:
            out[name] = f"test-{name.lower()}"
    return out


# --- what every block must be -------------------------------------------------------------------------------------
def test_there_are_pages_and_blocks():
    assert README in PAGES and len(PAGES) >= 20, [rel(p) for p in PAGES]
    assert sum(b.lang == "python" and b.fragment is None for b in ALL_BLOCKS) >= 10


def test_every_block_says_its_language():
    assert [b.where for b in ALL_BLOCKS if not b.lang] == []


def test_every_fragment_says_why():
    assert [b.where for b in ALL_BLOCKS if b.fragment == ""] == [], "write <!-- fragment: why it cannot run -->"
    pointless = [b.where for b in ALL_BLOCKS if b.fragment is not None
                 and b.lang not in ("python", "yaml", "bash", "console", "shell", "sh")]
    assert pointless == [], "only python, yaml and shell blocks run: a fragment marker elsewhere says nothing"


def test_every_yolo_hooks_command_that_is_not_cheap_is_in_a_fragment():
    expensive = [f"{b.where}: yolo-hooks {' '.join(c.argv)}" for b in ALL_BLOCKS if b.fragment is None
                 and b.lang in ("bash", "console", "shell", "sh") for c in commands(b) if not c.cheap]
    assert expensive == [], "mark these blocks <!-- fragment: why --> or show only cheap commands in them"


def test_the_readme_is_one_screen_of_sections_with_a_short_quick_start():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    quick_start = next(b for b in blocks(README) if b.lang == "python")
    assert quick_start.fragment is None and len(quick_start.code.splitlines()) <= 15


def test_the_docs_home_shows_the_readme_quick_start():
    readme = next(b for b in blocks(README) if b.lang == "python")
    home = next(b for b in blocks(ROOT / "docs" / "index.md") if b.lang == "python")
    assert home.code == readme.code  # so the README run proves both (the home page's copy is a fragment)


def test_the_commands_run_as_the_console_script_runs():
    scripts = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"yolo-hooks": "yolo_hooks.cli:main"}


# --- yaml: hooks configs ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("block", YAML_BLOCKS, ids=[b.where for b in YAML_BLOCKS])
def test_yaml_block_is_a_valid_hooks_config(block: Block, tmp_path, monkeypatch):
    from yolo_hooks import build_hooks, load_config
    from yolo_hooks.core.registry import REGISTRY

    config = yaml.safe_load(block.code)
    assert isinstance(config, dict) and set(config) <= set(REGISTRY), (
        f"{block.where} is not a hooks config (top-level keys {sorted(config or {})}): mark it as a fragment")
    for name, value in dummy_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    path = tmp_path / "hooks.yaml"
    path.write_text(block.code, encoding="utf-8")
    hooks = build_hooks(load_config(path))
    assert hooks or all(v is False for v in config.values())


# --- python and commands: page by page ----------------------------------------------------------------------------
class Worker:
    """One ``tests/docs_snippets.py`` process, restarted after a page that timed out or killed it."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.process: subprocess.Popen | None = None
        config = folder / "yolo_config"
        config.mkdir()
        # the suite's Ultralytics settings (conftest.py: its Ray, MLflow and W&B integrations off, which the dev extra
        # installs): a page's snippets neither pay for them nor log to them
        settings = Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics" / "settings.json"
        if settings.is_file():
            (config / "Ultralytics").mkdir()
            shutil.copy(settings, config / "Ultralytics" / "settings.json")
        temp = folder / "tmp"  # what a snippet leaves in the temp dir stays in the test's folder
        temp.mkdir()
        (folder / "env").mkdir()  # the parent of the ${..._DIR} folders
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(dummy_env(folder / "env"), YOLO_OFFLINE="1", YOLO_CONFIG_DIR=str(config), TMPDIR=str(temp),
                   PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.env = env

    def run(self, job: dict, timeout: float) -> dict:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "docs_snippets.py"),
                                             str(self.folder / "worker.log")], cwd=self.folder,
                                            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.process.stdin.write(json.dumps(job) + "\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        line = self.process.stdout.readline() if ready else ""
        try:
            return json.loads(line)
        except ValueError:  # no answer in time, the worker died, or something wrote to its answer channel
            self.stop()
            error = f"no answer within {timeout:.0f} s, or the worker died" if not line else f"not an answer: {line!r}"
            return {"ok": False, "where": "(the page)", "error": error, "blocked": [], "timings": []}

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            self.process.wait()
            self.process = None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # the worker ends; the interpreter's exit waits for what snippets started
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.stop()
        self.process = None


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    w = Worker(tmp_path_factory.mktemp("docs_snippets"))
    yield w
    w.close()


def page_folder(base: Path, page: Path) -> Path:
    """A fresh folder laid out like the clone's root: ``datasets/`` and ``examples/`` copied, nothing else."""
    folder = base / rel(page).replace("/", "__").removesuffix(".md")
    folder.mkdir()
    shutil.copytree(ROOT / "datasets", folder / "datasets", ignore=shutil.ignore_patterns("*.cache"))
    shutil.copytree(ROOT / "examples", folder / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def repository_files() -> set[str]:
    """What a snippet run from the clone would write into: runs/, the datasets (label caches), examples/, docs/."""
    found = set()
    for folder in ("runs", "datasets", "examples", "docs"):
        found |= {str(p.relative_to(ROOT)) for p in (ROOT / folder).rglob("*") if "__pycache__" not in p.parts}
    return found



@pytest.mark.training
@pytest.mark.parametrize("page", RUNNABLE_PAGES, ids=[rel(p) for p in RUNNABLE_PAGES])
def test_page_snippets_run(page: Path, worker: Worker):
    folder = page_folder(worker.folder, page)
    log = folder.with_suffix(".log")
    before = repository_files()
    started = time.perf_counter()
    answer = worker.run({"cwd": str(folder), "log": str(log), "steps": steps(page)}, PAGE_TIMEOUT)
    print(f"{rel(page)}: {time.perf_counter() - started:.1f} s {answer['timings']}")
    output = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    assert answer["ok"], f"{answer['where']}:\n{answer['error']}\n--- output (last 80 lines) ---\n" + "\n".join(
        output.splitlines()[-80:])
    assert answer["blocked"] == [], f"{rel(page)} tried to reach the network: {answer['blocked']}"
    assert repository_files() == before, f"{rel(page)} wrote into the repository: {repository_files() ^ before}"


# --- the options tables of the hook pages -------------------------------------------------------------------------
OPTIONS_MARKER = re.compile(r"<!--\s*options:\s*(\w+)\s*-->")


def options_tables() -> dict[str, list[tuple[list[str], str, str]]]:
    """``{class name: [(option names, default cell, where)]}`` from each table after ``<!-- options: Class -->``."""
    out: dict[str, list] = {}
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            match = OPTIONS_MARKER.fullmatch(line.strip())
            if not match:
                continue
            rows, j = [], i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            while j < len(lines) and lines[j].startswith("|"):
                cells = [c.strip() for c in re.split(r"(?<!\\)\|", lines[j])[1:-1]]
                if not set(cells[0]) <= set("-: "):
                    rows.append((re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", cells[0]), cells[1], f"{rel(page)}:{j + 1}"))
                j += 1
            assert match[1] not in out, f"two option tables for {match[1]}"
            out[match[1]] = rows[1:]  # the header row
    return out


def hook_classes() -> dict[str, type]:
    import yolo_hooks
    from yolo_hooks.core.registry import CLASSES

    return {name: getattr(yolo_hooks, name) for name in CLASSES}


def test_every_hook_class_has_one_options_table():
    assert sorted(options_tables()) == sorted(hook_classes())


@pytest.mark.parametrize("name", sorted(hook_classes()))
def test_the_options_table_lists_every_option_with_its_default(name):
    cls = hook_classes()[name]
    rows = options_tables()[name]
    listed = [option for names, _, _ in rows for option in names]
    assert sorted(listed) == sorted(cls.option_names()), f"{name}: documented vs accepted options"
    parameters = inspect.signature(cls.__init__).parameters
    for names, default_cell, where in rows:
        literals = [yaml.safe_load(v) for v in re.findall(r"`([^`]+)`", default_cell)]
        for option in names:
            if option not in parameters:
                continue  # a notify service's option: its default is in that service's table, made from its declaration
            default = parameters[option].default
            if default is inspect.Parameter.empty:
                assert "required" in default_cell, f"{where}: `{option}` is required"
            elif default is not None:
                assert default in literals, f"{where}: `{option}` defaults to {default!r}, the page says {default_cell!r}"


