"""Config files and dicts become hooks; every mistake is one clear error at attach time, secrets never shown."""

from __future__ import annotations

import re

import pytest
from ultralytics import YOLO

import yolo_hooks
from yolo_hooks import ConfigError, Hook
from yolo_hooks.core import registry
from yolo_hooks.core.config import load_config, substitute_env
from yolo_hooks.core.redact import redact_url, redact_value, scrub
from yolo_hooks.core.validate import check_amount, check_choice, check_number


class Greeter(Hook):
    """A minimal configurable hook registered under the name `greeter` for these tests."""

    config_name = "greeter"
    allow_multiple = True

    def __init__(self, *, greeting: str = "hi", times: int = 1, url: str | None = None, strict: bool = False,
                 name: str | None = None):
        super().__init__(strict=strict, name=name)
        self.greeting = greeting
        self.times = check_number(self.name, "times", times, minimum=1, integer=True)
        self.url = url

    def on_train_start(self, trainer):
        pass


@pytest.fixture(autouse=True)
def greeter_registered(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "greeter", f"{__name__}:Greeter")


def test_yaml_file_with_env_substitution_builds_hooks(tmp_path, monkeypatch):
    monkeypatch.setenv("GREETER_URL", "https://example.invalid/hook/SECRET123")
    path = tmp_path / "hooks.yaml"
    path.write_text("greeter:\n  - {greeting: hello, url: '${GREETER_URL}'}\n  - {times: 3}\n")
    model = YOLO("yolo11n.yaml")
    first, second = yolo_hooks.attach(model, path)
    assert (first.greeting, first.url) == ("hello", "https://example.invalid/hook/SECRET123")
    assert second.times == 3
    assert yolo_hooks.attached(model) == [first, second]


def test_true_means_defaults_and_false_switches_off():
    assert len(yolo_hooks.build_hooks({"greeter": True})) == 1
    assert yolo_hooks.build_hooks({"greeter": False}) == []


@pytest.mark.parametrize(
    "config, message",
    [
        ({"greter": True}, r"unknown hook `greter` \(did you mean `greeter`\?\)"),
        ({"greeter": {"tims": 2}}, r"greeter: unknown option `tims` \(did you mean `times`\?\); allowed: .*greeting"),
        ({"greeter": {"times": 0}}, r"greeter: `times` must be an integer >= 1, got 0"),
        ({"greeter": {"times": "2"}}, r"greeter: `times` must be an integer >= 1, got '2'"),
        ({"greeter": "yes"}, r"greeter: `greeter` must be a mapping of options, true, or false, got 'yes'"),
        ({"greeter": {"url": "${NOT_SET_ANYWHERE}"}}, r"greeter.url: environment variable \$\{NOT_SET_ANYWHERE\} is not set"),
    ],
)
def test_bad_config_is_one_clear_error_at_attach_time(config, message):
    model = YOLO("yolo11n.yaml")
    before = {k: list(v) for k, v in model.callbacks.items()}
    with pytest.raises(ConfigError, match=message):
        yolo_hooks.attach(model, config)
    assert {k: list(v) for k, v in model.callbacks.items()} == before  # nothing half-registered


def test_misspelled_event_method_is_an_error_at_attach_time():
    class Typo(Hook):
        def on_fit_epoch_ned(self, trainer):
            pass

    with pytest.raises(ConfigError, match=r"`on_fit_epoch_ned` is not an Ultralytics event; did you mean `on_fit_epoch_end`"):
        yolo_hooks.attach(YOLO("yolo11n.yaml"), Typo())
    with pytest.raises(ConfigError, match="did you mean `on_train_end`"):
        yolo_hooks.attach(YOLO("yolo11n.yaml"), yolo_hooks.on("on_train_ends", print))


def test_plain_functions_need_an_event():
    with pytest.raises(ConfigError, match="model.add_callback"):
        yolo_hooks.attach(YOLO("yolo11n.yaml"), print)


def test_secret_values_are_redacted_in_errors():
    class Picky(Hook):
        config_name = "picky"

        def __init__(self, *, webhook_url: str = ""):
            super().__init__()
            check_choice(self.name, "webhook_url", webhook_url, ("https://allowed",))

    with pytest.raises(ConfigError) as info:
        Picky(webhook_url="https://hooks.slack.com/services/T0/B0/TOPSECRET")
    assert "TOPSECRET" not in str(info.value) and "hooks.slack.com" in str(info.value)


def test_redaction_helpers():
    assert redact_url("https://user:pw@hooks.example.com/x/y?token=1") == "https://hooks.example.com/***"
    assert redact_value("bot_token", "123:ABC") == "***"
    assert redact_value("url", "${SLACK_WEBHOOK_URL}") == "${SLACK_WEBHOOK_URL}"  # a reference is safe to show
    assert redact_value("epochs", 3) == 3
    assert scrub("POST https://h.example/abc/SECRET failed", ["https://h.example/abc/SECRET"]) == (
        "POST https://h.example/*** failed"
    )


def test_env_default_and_amounts():
    assert substitute_env({"a": "${YOLO_HOOKS_UNSET_X:-fallback}"}) == {"a": "fallback"}
    assert check_amount("early_stop", "min_delta", "5%") == (0.05, True)
    assert check_amount("early_stop", "min_delta", 0.01) == (0.01, False)
    with pytest.raises(ConfigError, match="min_delta"):
        check_amount("early_stop", "min_delta", "-5%")


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_default_names_are_made_unique_and_chosen_names_must_be():
    model = YOLO("yolo11n.yaml")
    first, second = yolo_hooks.attach(model, {"greeter": [{}, {}]})
    assert (first.name, second.name) == ("greeter", "greeter_2")  # their state files do not collide
    with pytest.raises(ConfigError, match="two hooks on one model are named `mine`"):
        yolo_hooks.attach(YOLO("yolo11n.yaml"), Greeter(), {"greeter": [{"name": "mine"}, {"name": "mine"}]})
    with pytest.raises(ConfigError, match="already attached"):
        yolo_hooks.attach(model, first)


@pytest.mark.parametrize("config_name", sorted(registry.REGISTRY))
def test_a_misspelled_keyword_in_python_is_the_same_config_error_as_in_hooks_yaml(config_name):
    cls = registry.hook_class(config_name)
    option = next(name for name in cls.option_names() if len(name) > 4 and name not in ("strict", "name"))
    typo = option[:-1]
    with pytest.raises(ConfigError, match=rf"unknown option `{typo}` \(did you mean `{option}`\?\)") as from_python:
        cls(**{typo: 1})
    with pytest.raises(ConfigError) as from_yaml:
        yolo_hooks.build_hooks({config_name: {typo: 1}})
    assert str(from_python.value) == str(from_yaml.value)


@pytest.mark.parametrize("config_name, old, new", [
    ("val_loss_alert", "cooldown", "`repeat_every`"), ("val_loss_alert", "patience", "`overfit`"),
    ("early_stop", "start_epoch", "`warmup`"), ("best_mirror", "retry_delay", "`backoff`"),
    ("notify", "username", "`smtp_user` (email) or `display_name` (discord)"), ("detection_alert", "snapshot", "`image`"),
])
def test_an_option_renamed_since_0_1_says_what_to_use_now(config_name, old, new):
    with pytest.raises(ConfigError, match=f"^{config_name}: `{old}` was renamed in 0.2.0: use {re.escape(new)}$"):
        yolo_hooks.build_hooks({config_name: {old: 1}})
