"""detection_alert options: what each becomes, and a clear ConfigError (hook, key, value, allowed) for bad ones."""

from __future__ import annotations

import pytest

from yolo_hooks import ConfigError
from yolo_hooks.core.config import build_hooks
from yolo_hooks.detection.hook import DetectionAlert
from yolo_hooks.detection.options import check_class_names, parse_duration
from yolo_hooks.detection.rules import Duration


@pytest.mark.parametrize(
    "value, expected",
    [(2, Duration(2.0)), (0.5, Duration(0.5)), ("2s", Duration(2.0)), ("500ms", Duration(0.5)),
     ("1m", Duration(60.0)), ("15 frames", Duration(15, "frames")), ("1 frame", Duration(1, "frames")),
     ("3f", Duration(3, "frames"))],
)
def test_durations_in_seconds_or_frames(value, expected):
    assert parse_duration("detection_alert", "min_duration", value) == expected


@pytest.mark.parametrize(
    "options, match",
    [
        ({"min_duration": "soon"}, r"`min_duration` must be a number of seconds, or a string like '2s'"),
        ({"cooldown": -1}, r"`cooldown` must be .*>= 0.*got -1"),
        ({"min_conf": 1.5}, r"`min_conf` must be a number >= 0 and <= 1, got 1.5"),
        ({"min_count": 3, "max_count": 2}, r"`max_count` must be an integer >= min_count \(3\), got 2"),
        ({"zone": [[0, 0], [1, 1]]}, r"`zone` must be a polygon"),
        ({"zone": "left half"}, r"`zone` must be a polygon"),
        ({"anchor": "feet"}, r"`anchor` must be one of bottom_center, center"),
        ({"trigger": "enters"}, r"`trigger` must be one of inside, enter, leave, got 'enters'"),
        ({"line": [[0, 0]]}, r"`line` must be a segment \[\[x1, y1\], \[x2, y2\]\] .*got \[\[0, 0\]\]"),
        ({"line": [[5, 5], [5, 5]]}, r"`line` must be a segment .*two different points"),
        ({"line": {"gate": [[0, 0], [1]]}}, r"`line.gate` must be a segment"),
        ({"zone": {"gate": [[0, 0], [1, 1]]}}, r"`zone.gate` must be a polygon"),
        ({"dwell": -5}, r"`dwell` must be a number of seconds, .*\(>= 0\), got -5"),
        ({"dwell": "5s", "trigger": "enter", "zone": [[0, 0], [1, 0], [1, 1]]}, r"`dwell` is its own trigger"),
        ({"direction": "in"}, r"`direction` must be set only with a `line`"),
        ({"direction": "inwards", "line": [[0, 0], [1, 1]]}, r"`direction` must be one of in, out, any"),
        ({"line": [[0, 0], [1, 1]], "zone": [[0, 0], [1, 0], [1, 1]]}, r"a rule watches a `zone` or a `line`"),
        ({"line": [[0, 0], [1, 1]], "min_count": 2}, r"`line` watch\(es\)? each tracked object|`line` watch"),
        ({"ignore_stationary": 0}, r"`ignore_stationary` must be .*\(> 0\), got 0"),
        ({"stationary_radius": 0}, r"`stationary_radius` must be a number > 0"),
        ({"max_area": -1}, r"`max_area` must be a number >= 0: square pixels"),
        ({"hysteresis": "wide"}, r"`hysteresis` must be a number >= 0: pixels"),
        ({"end_after": "soon"}, r"`end_after` must be a number of seconds"),
        ({"cameras": []}, r"`cameras` must be a camera name or a list of camera names"),
        ({"cameras": ["gate"], "zone": {"yard": [[0, 0], [1, 0], [1, 1]]}}, r"`zone` names camera\(s\) yard that"),
        ({"keep": {"fils": 3}}, r"`keep`: unknown option `fils` \(did you mean `files`\?\)"),
        ({"keep": {"files": 0}}, r"`keep.files` must be an integer >= 1, got 0"),
        ({"keep": {"days": -1}}, r"`keep.days` must be a number > 0, got -1"),
        ({"count": "sum"}, r"`count` must be one of per_class, total"),
        ({"classes": []}, r"`classes` must be a class name or a list of class names"),
        ({"max_per_minute": 0}, r"`max_per_minute` must be an integer >= 1"),
        ({"before": 1000}, r"`before` must be an integer >= 0 and <= 300"),
        ({"severity": "high"}, r"`severity` must be one of info, warning, critical"),
    ],
)
def test_bad_options_name_hook_key_value_and_what_is_allowed(options, match):
    with pytest.raises(ConfigError, match=r"^detection_alert: " + match):
        DetectionAlert(**options)


def test_an_error_names_the_rule_when_it_has_a_name():
    with pytest.raises(ConfigError, match=r"^gate_line: `line` must be a segment .*got \[\[0, 0\]\]"):
        DetectionAlert(name="gate_line", line=[[0, 0]])


def test_zones_and_lines_per_camera_and_rules_limited_to_cameras():
    hook = DetectionAlert(zone={"gate": [[0, 0], [1, 0], [1, 1]], "yard": [[0, 0], [9, 0], [9, 9]]},
                          cameras=["gate", "yard"])
    assert hook.rule.zones == () and hook.cameras.for_camera("gate").zones[0].normalized
    assert hook.cameras.for_camera("yard").zones[0].points[1] == (9.0, 0.0)
    assert hook.cameras.for_camera("street") is None  # not in `cameras` (and no zone of its own)
    lines = DetectionAlert(line={"gate": [[0.5, 0], [0.5, 1]]})
    assert lines.cameras.for_camera("gate").line is not None and lines.cameras.for_camera("yard") is None
    assert DetectionAlert(cameras="gate").cameras.for_camera("gate") is not None


def test_zones_in_fractions_or_pixels_one_or_several():
    fractions = DetectionAlert(zone=[[0, 0.5], [1, 0.5], [1, 1]]).rule.zones
    pixels = DetectionAlert(zone=[[[0, 240], [640, 240], [640, 480]], [[0, 0], [10, 0], [10, 10]]]).rule.zones
    assert [z.normalized for z in fractions] == [True] and [z.normalized for z in pixels] == [False, False]


def test_several_rules_in_hooks_yaml_and_unknown_options_are_caught():
    hooks = build_hooks({"detection_alert": [{"name": "a", "classes": "person"}, {"name": "b", "max_count": 1}]})
    assert [h.rule.name for h in hooks] == ["a", "b"] and hooks[0].rule.classes == ("person",)
    with pytest.raises(ConfigError, match=r"unknown option `cooldwn` \(did you mean `cooldown`\?\)"):
        build_hooks({"detection_alert": {"cooldwn": 5}})
    with pytest.raises(ConfigError, match=r"^detection_alert: unknown option `cooldwn` \(did you mean `cooldown`\?\)"):
        DetectionAlert(cooldwn=5)  # the same error from Python


def test_a_renamed_option_says_its_new_name():
    with pytest.raises(ConfigError, match=r"^detection_alert: `snapshot` was renamed in 0.2.0: use `image`"):
        build_hooks({"detection_alert": {"snapshot": False}})
    assert DetectionAlert(image=False).image is False


def test_class_names_are_checked_against_the_model_with_the_closest_name():
    names = {0: "person", 1: "bicycle", 2: "car"}
    check_class_names("cam", ("person", "car"), names)
    with pytest.raises(ConfigError, match=r"^cam: `classes`: the model has no class `bycicle` \(did you mean `bic"):
        check_class_names("cam", ("bycicle",), names)


def test_the_hook_pickles_for_ddp_workers():
    import pickle

    hook = DetectionAlert(classes=["person"], before=3)
    assert pickle.loads(pickle.dumps(hook)).rule == hook.rule
