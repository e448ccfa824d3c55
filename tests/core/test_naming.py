"""One naming rule for every hook: a default name is made unique per model (``_2``, ``_3``), a chosen one is kept
(twice is a ConfigError), and every error names the hook by the name it goes by."""

from __future__ import annotations

import pytest
from ultralytics import YOLO

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.core.registry import hook_class
from yolo_hooks.fitness.modes import ModeReports

URL = "http://127.0.0.1:9/hook/TOKEN-naming-0123456789"


def options_of(config_name: str, tmp_path) -> dict:
    """The fewest options each real hook needs."""
    needed = {"notify": {"format": "json", "url": URL}, "best_mirror": {"to": str(tmp_path / "mirror")}}
    return needed.get(config_name, {})


# (config name, an option it rejects): each hook's own check, so its own error text names the hook
BAD_OPTION = {
    "fitness_report": ("csv", "yes"),
    "val_loss_alert": ("nonfinite", "yes"),
    "early_stop": ("mode", "mn"),
    "lr_on_plateau": ("factor", 2),
    "notify": ("timeout", 0),
    "best_mirror": ("keep", -1),
}


def real_hooks(tmp_path) -> list[tuple[str, object]]:
    """(label, factory) for every hook class the package ships, plain-function hooks included."""
    made = [(name, lambda name=name: hook_class(name)(**options_of(name, tmp_path))) for name in BAD_OPTION]
    made.append(("reports", lambda: ModeReports()))
    made.append(("on_train_start", lambda: yolo_hooks.on("on_train_start", lambda trainer: None)))
    return made


@pytest.fixture(scope="module")
def model():
    return YOLO("yolo11n.yaml")


def fresh(model):
    """The module's model with no hook attached (a YOLO per case would cost a second each)."""
    for event, callbacks in model.callbacks.items():
        model.callbacks[event] = [cb for cb in callbacks if not type(cb).__module__.startswith("yolo_hooks")]
    return model


def test_every_hook_attached_twice_without_a_name_gets_the_second_name_with_2(model, tmp_path):
    for _, make in real_hooks(tmp_path):
        first, second = make(), make()
        yolo_hooks.attach(fresh(model), first, second)
        assert second.name == first.name + "_2", type(first).__name__


def test_every_hook_with_the_same_chosen_name_twice_is_a_config_error(model, tmp_path):
    for config_name in BAD_OPTION:
        cls = hook_class(config_name)
        one, two = (cls(**options_of(config_name, tmp_path), name="mine") for _ in range(2))
        with pytest.raises(ConfigError, match="two hooks on one model are named `mine`"):
            yolo_hooks.attach(fresh(model), one, two)


def test_yaml_fitness_report_and_a_fitness_report_object_share_a_model(model):
    cls = hook_class("fitness_report")
    hooks = yolo_hooks.attach(fresh(model), {"fitness_report": {"csv": False}}, cls(), ModeReports(), ModeReports())
    assert [h.name for h in hooks] == ["fitness_report", "fitness_report_2", "reports", "reports_2"]


def test_two_plain_functions_of_the_same_name_are_told_apart(model):
    def report(trainer):
        pass

    hooks = yolo_hooks.attach(fresh(model), yolo_hooks.on("on_train_start", report),
                              yolo_hooks.on("on_train_end", report))
    assert [h.name for h in hooks] == ["report", "report_2"]


@pytest.mark.parametrize("config_name", list(BAD_OPTION))
def test_an_error_names_the_hook_by_its_chosen_name(config_name, tmp_path):
    key, value = BAD_OPTION[config_name]
    options = {**options_of(config_name, tmp_path), key: value, "name": "night_shift"}
    with pytest.raises(ConfigError, match=rf"^night_shift: `{key}` must be"):
        hook_class(config_name)(**options)
    with pytest.raises(ConfigError, match=rf"^night_shift: `{key}` must be"):
        yolo_hooks.build_hooks({config_name: options})


def test_mode_reports_errors_name_the_hook_too():
    with pytest.raises(ConfigError, match=r"^night_shift: `val` must be true or false"):
        ModeReports(val="yes", name="night_shift")
    with pytest.raises(ConfigError, match=r"^reports: `predict` must be true or false"):
        ModeReports(predict="yes")


@pytest.mark.parametrize("name", [["x"], 3, "", "  "])
def test_a_name_that_is_not_a_word_is_a_config_error(name, tmp_path):
    for config_name in BAD_OPTION:
        with pytest.raises(ConfigError, match="`name` must be a non-empty string"):
            hook_class(config_name)(**options_of(config_name, tmp_path), name=name)
