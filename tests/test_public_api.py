"""The public API is visible: every hook class is exported by name from the package, lazily but explicitly."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import yolo_hooks
from yolo_hooks import HOOK_CLASSES, REGISTRY, Hook


def test_every_configurable_hook_is_exported_under_its_class_name():
    for config_name, target in REGISTRY.items():
        module, cls = target.split(":")
        assert HOOK_CLASSES[cls] in (module, module.rsplit(".", 1)[0]), config_name
        assert cls in yolo_hooks.__all__ and cls in dir(yolo_hooks)
        assert getattr(yolo_hooks, cls) is getattr(importlib.import_module(module), cls)


@pytest.mark.parametrize("name", sorted(HOOK_CLASSES))
def test_each_exported_class_is_a_hook_with_the_name_the_field_knows(name):
    cls = getattr(yolo_hooks, name)
    assert issubclass(cls, Hook) and cls.__name__ == name


def test_star_import_gives_every_name_in_all():
    namespace: dict = {}
    exec("from yolo_hooks import *", namespace)
    assert set(yolo_hooks.__all__) <= set(namespace)


def test_importing_the_package_does_not_import_the_hooks():
    code = "import sys, yolo_hooks; print(sorted(m for m in sys.modules if m in {%s}))" % ", ".join(
        repr(m) for m in HOOK_CLASSES.values()
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="EarlyStop'"):
        yolo_hooks.EarlyStop  # noqa: B018 - the 0.1 name, not kept as an alias


def test_importing_the_package_or_its_command_line_does_not_import_ultralytics():
    """`yolo-hooks env` prints a line the shell evaluates: nothing may print before it can send stdout elsewhere."""
    code = "import sys, yolo_hooks, yolo_hooks.cli, yolo_hooks.env.command; print('ultralytics' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
