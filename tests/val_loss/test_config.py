"""ValLossAlert options: what is accepted, and a clear ConfigError at attach time for everything else."""

from __future__ import annotations

from pathlib import Path

import pytest

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.val_loss.hook import KNOWN_LOSSES, ValLossAlert
from yolo_hooks.val_loss.rules import DEFAULT, Threshold

EXAMPLE_YAML = Path(__file__).resolve().parents[2] / "examples" / "hooks_val_loss_alert.yaml"


def test_defaults_watch_nan_and_a_50_percent_rise_after_3_warmup_epochs():
    rules = ValLossAlert().rules
    assert rules.nonfinite and rules.warmup == 3 and rules.repeat_every is None
    assert rules.rise == {DEFAULT: Threshold(0.5, True)}
    assert rules.above == rules.jump == rules.overfit == {}
    assert set(rules.actions.values()) == {"alert"}


def test_per_loss_values_short_names_defaults_and_exemptions():
    rules = ValLossAlert(
        above={"box_loss": 5, "val/loss": 10},
        rise={"default": "25%", "val/cls_loss": None},
        jump=0.5,
        overfit={"loss": 4},
        repeat_every=0,
        action={"nonfinite": "stop", "default": "alert"},
    ).rules
    assert rules.above == {"val/box_loss": 5.0, "val/loss": 10.0}
    assert (
        rules.for_loss("rise", "val/box_loss") == Threshold(0.25, True)
        and rules.for_loss("rise", "val/cls_loss") is None
    )
    assert rules.jump == {DEFAULT: Threshold(0.5, False)}  # a plain number is in loss units
    assert rules.overfit == {"val/loss": 4}
    assert rules.repeat_every is None  # 0 means: no re-fire
    assert rules.action("nonfinite") == "stop" and rules.action("rise") == "alert"


def test_every_rule_can_be_switched_off():
    rules = ValLossAlert(above=None, rise=False, jump=None, overfit=None, nonfinite=False).rules
    assert (rules.above, rules.rise, rules.jump, rules.overfit, rules.nonfinite) == ({}, {}, {}, {}, False)


def test_known_loss_names_cover_every_task_from_ultralytics():
    for name in (
        "val/box_loss",
        "val/cls_loss",
        "val/dfl_loss",
        "val/seg_loss",
        "val/pose_loss",
        "val/kobj_loss",
        "val/angle_loss",
        "val/loss",
    ):
        assert name in KNOWN_LOSSES


@pytest.mark.parametrize(
    "options, match",
    [
        ({"rise": "-5%"}, r"`rise` must be a number or a percentage like '5%', >= 0.0, got '-5%'"),
        ({"jump": -0.1}, r"`jump` must be a number >= 0.0, got -0.1"),
        ({"rise": "lots"}, r"`rise` must be a number >= 0.0, got 'lots'"),
        (
            {"above": {"val/box_los": 5}},
            (
                r"`above` names an unknown loss 'val/box_los' "
                r"\(did you mean `val/box_loss`\?\); allowed: default, val/loss"
            ),
        ),
        ({"rise": {"best": "25%"}}, r"`rise` names an unknown loss 'best'.*allowed: default, val/loss, .*val/box_loss"),
        ({"above": -1}, r"`above` must be a number >= 0, got -1"),
        ({"overfit": 0}, r"`overfit` must be an integer >= 1, got 0"),
        ({"overfit": {"val/loss": 2.5}}, r"`overfit.val/loss` must be an integer >= 1, got 2.5"),
        ({"warmup": -1}, r"`warmup` must be an integer >= 0, got -1"),
        ({"repeat_every": "2"}, r"`repeat_every` must be an integer >= 0, got '2'"),
        ({"nonfinite": "yes"}, r"`nonfinite` must be true or false, got 'yes'"),
        ({"action": "halt"}, r"`action` must be one of alert, stop, got 'halt'"),
        (
            {"action": {"risee": "stop"}},
            r"`action` names an unknown rule 'risee'; allowed: default, nonfinite, above, rise, jump, overfit",
        ),
        ({"action": {"above": "kill"}}, r"`action.above` must be one of alert, stop, got 'kill'"),
    ],
)
def test_bad_options_are_config_errors_naming_key_and_value(options, match):
    with pytest.raises(ConfigError, match=r"^val_loss_alert: " + match):
        ValLossAlert(**options)


def test_bad_config_fails_at_attach_time_before_training():
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    with pytest.raises(ConfigError, match="unknown option `ris`"):
        yolo_hooks.attach(model, {"val_loss_alert": {"ris": "25%"}})
    with pytest.raises(ConfigError, match="`rise` must be"):
        yolo_hooks.attach(model, {"val_loss_alert": {"rise": "-25%"}})
    assert yolo_hooks.attached(model) == []


def test_hook_pickles_with_rules_and_state():
    import pickle

    from yolo_hooks.val_loss.rules import Observation, evaluate

    hook = ValLossAlert(above=10, repeat_every=2)
    hook._state, _ = evaluate(hook.rules, hook._state, Observation(1, {"val/box_loss": 3.0}))
    clone = pickle.loads(pickle.dumps(hook))
    assert clone.rules == hook.rules and clone.state_dict() == hook.state_dict()


def test_example_yaml_loads():
    (hook,) = yolo_hooks.build_hooks(yolo_hooks.load_config(EXAMPLE_YAML))
    assert isinstance(hook, ValLossAlert) and hook.rules.action("nonfinite") == "stop"
