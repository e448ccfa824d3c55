"""Fresh virtual environments with yolo_hooks really installed (``pip install .`` and ``pip install -e .``).

They are cheap: ``venv --without-pip`` plus one ``.pth`` line naming the running interpreter's site-packages, so
torch and Ultralytics are shared instead of installed again. The project is installed with the running
interpreter's pip (``--python``), ``--no-deps --no-build-isolation``: exactly the wheel a user gets, built by the
project's backend (hatchling) from a copy of the project in the test's folder, so that nothing is written into the
source tree. ``PYTHONPATH`` is removed from every child, so only the installed copy can be imported.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Venv:
    """A virtual environment with yolo_hooks installed; ``run`` starts its Python (or its ``yolo``) in a child."""

    def __init__(self, root: Path):
        self.root = root
        self.bin = root / "bin"
        self.python = self.bin / "python"
        self.site = root  # its site-packages, set once made
        self.editable = False

    def env(self, **extra: str | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "YOLO_HOOKS", "YOLO_HOOKS_TUNE"}}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env.update({k: v for k, v in extra.items() if v is not None})
        return env

    def run(self, *args: str, cwd: Path | None = None, timeout: float = 600, **env: str | None):
        return subprocess.run([*args], cwd=cwd or self.root,  # not the project folder: `-c` imports from cwd
                              env=self.env(**env), capture_output=True, text=True,
                              timeout=timeout)

    def python_code(self, code: str, **kwargs):
        return self.run(str(self.python), "-c", code, **kwargs)


# what a copy of the project to install from leaves out (environments, outputs, caches)
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "site", "runs", "build", "dist", "*.egg-info", "__pycache__",
                                    ".pytest_cache", "*.cache")


def copy_of_project(folder: Path) -> Path:
    """The project's files in ``folder``: what is installed from, so that a build never writes into the checkout."""
    shutil.copytree(ROOT, folder, ignore=NOT_COPIED)
    return folder


def make_venv(root: Path, editable: bool) -> Venv:
    if importlib.util.find_spec("pip") is None:
        pytest.skip("installing the project needs pip in the interpreter that runs the tests")
    source = copy_of_project(root.parent / f"{root.name}_source")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    venv = Venv(root)
    venv.site = Path(subprocess.check_output(
        [str(venv.python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True).strip())
    Path(venv.site, "_shared_packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")  # torch, ultralytics
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv.python), "install", "-q", "--no-deps",
                    "--no-build-isolation", *(["-e"] if editable else []), str(source)],
                   check=True, env=venv.env(), cwd=root)
    # Ultralytics' own `yolo` command, as pip writes console scripts, for this venv's Python
    yolo = venv.bin / "yolo"
    yolo.write_text(f"#!{venv.python}\nimport sys\nfrom ultralytics.cfg import entrypoint\nsys.exit(entrypoint())\n")
    yolo.chmod(0o755)
    venv.editable = editable
    return venv


@pytest.fixture(scope="session")
def installed(tmp_path_factory) -> Venv:
    """``pip install .`` (a regular wheel) in a fresh venv."""
    return make_venv(tmp_path_factory.mktemp("venv_wheel"), editable=False)


@pytest.fixture(scope="session")
def editable(tmp_path_factory) -> Venv:
    """``pip install -e .`` in a fresh venv."""
    return make_venv(tmp_path_factory.mktemp("venv_editable"), editable=True)


@pytest.fixture(params=["installed", "editable"])
def venv(request) -> Venv:
    """Each kind of install in turn."""
    return request.getfixturevalue(request.param)
