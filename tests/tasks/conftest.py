"""The per-task datasets, made from the bundled coco8 by the committed datasets/make_tasks.py."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

MAKE_TASKS = Path(__file__).resolve().parents[2] / "datasets" / "make_tasks.py"


def load_make_tasks():
    """datasets/make_tasks.py as a module (datasets/ is data, not a package)."""
    spec = importlib.util.spec_from_file_location("make_tasks", MAKE_TASKS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def make_tasks():
    return load_make_tasks()


@pytest.fixture(scope="session")
def task_data(tmp_path_factory, make_tasks) -> dict[str, Path]:
    """``{task: data}`` for segment, pose, classify and obb, built once per session in a temporary folder."""
    return make_tasks.make_tasks(tmp_path_factory.mktemp("tasks"))
