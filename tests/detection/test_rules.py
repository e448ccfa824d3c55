"""Detection rules as tables: scripted frames in, the frames that fire (and what they name) out."""

from __future__ import annotations

import pytest

from yolo_hooks.detection.rules import (
    NOTHING,
    Detection,
    Duration,
    Frame,
    Rule,
    RuleState,
    Zone,
    anchor_point,
    evaluate,
    is_idle,
)

W, H = 640, 480
LEFT_HALF = Zone(((0, 0), (320, 0), (320, 480), (0, 480)))
LEFT_HALF_NORM = Zone(((0, 0), (0.5, 0), (0.5, 1), (0, 1)), normalized=True)


def person(x: float = 100, conf: float = 0.9, track: int | None = None, cls: str = "person") -> Detection:
    """A 40x100 box whose bottom-centre is at (x, 300)."""
    return Detection(cls, conf, (x - 20, 200, x + 20, 300), track)


def run(rule: Rule, frames: list[tuple], fps: float = 10.0) -> list[tuple[int, tuple[str, ...]]]:
    """Feed ``frames`` (each a tuple of detections) at ``fps``; returns (frame index, subjects) of each frame with
    alerts (one alert per subject)."""
    state, fired = RuleState(), []
    for i, dets in enumerate(frames):
        state, step = evaluate(rule, state, Frame(i, i / fps, W, H, tuple(dets)))
        if step.alerts:
            fired.append((i, tuple(a.subject for a in step.alerts)))
    return fired


NO_COOLDOWN = Duration(0)


@pytest.mark.parametrize(
    "rule, frames, expected",
    [
        # classes and min_conf
        (Rule("r", classes=("person",)), [[person()]], [(0, ("class:person",))]),
        (Rule("r", classes=("car",)), [[person()]], []),
        (Rule("r", min_conf=0.5), [[person(conf=0.4)], [person(conf=0.6)]], [(1, ("class:person",))]),
        (Rule("r"), [[person(), person(cls="dog")]], [(0, ("class:dog", "class:person"))]),
        # min_count per class vs in total
        (Rule("r", min_count=2), [[person(), person(cls="dog")], [person(), person()]], [(1, ("class:person",))]),
        (Rule("r", min_count=2, count="total"), [[person(), person(cls="dog")]], [(0, ("total",))]),
        # max_count: "fewer than 2 helmets" includes none
        (Rule("r", classes=("helmet",), max_count=1), [[person(cls="helmet")] * 2, [person(cls="helmet")], []],
         [(1, ("class:helmet",))]),
        (Rule("r", classes=("helmet",), max_count=1, cooldown=NO_COOLDOWN), [[person(cls="helmet")] * 2, [], []],
         [(1, ("class:helmet",)), (2, ("class:helmet",))]),
        (Rule("r", classes=("helmet",), min_count=1, max_count=1), [[], [person(cls="helmet")]], [(1, ("class:helmet",))]),
    ],
)
def test_classes_confidence_and_counts(rule, frames, expected):
    assert run(rule, frames) == expected


@pytest.mark.parametrize("zone", [LEFT_HALF, LEFT_HALF_NORM], ids=["pixels", "normalised"])
@pytest.mark.parametrize(
    "anchor, x, inside",
    [("bottom_center", 300, True), ("bottom_center", 340, False), ("bottom_left", 345, False),
     ("bottom_left", 339, True), ("bottom_right", 301, False), ("center", 310, True)],
)
def test_zone_counts_the_anchor_point(zone, anchor, x, inside):
    rule = Rule("r", zones=(zone,), anchor=anchor)
    assert bool(run(rule, [[person(x)]])) is inside


def test_anchor_points():
    box = (10, 20, 30, 60)
    assert anchor_point(box, "bottom_center") == (20, 60)
    assert anchor_point(box, "top_left") == (10, 20)
    assert anchor_point(box, "center") == (20, 40)


def test_a_detection_counts_when_inside_any_of_several_zones():
    right = Zone(((600, 0), (640, 0), (640, 480), (600, 480)))
    rule = Rule("r", zones=(right, LEFT_HALF))
    assert run(rule, [[person(400)], [person(620)], [person(100)]]) == [(1, ("class:person",))]


@pytest.mark.parametrize(
    "trigger, frames, expected",
    [
        # track 1 is inside from its first frame: `inside` fires, `enter` never does
        ("inside", [[person(100, track=1)]] * 3, [(0, ("track:1",))]),
        ("enter", [[person(100, track=1)]] * 3, []),
        # track 2 walks in from the right: both fire, at the frame it crosses
        ("enter", [[person(500, track=2)], [person(400, track=2)], [person(300, track=2)]], [(2, ("track:2",))]),
        ("inside", [[person(500, track=2)], [person(300, track=2)]], [(1, ("track:2",))]),
        # two tracks, only the one that came from outside is named
        ("enter", [[person(500, track=2), person(100, track=1)], [person(300, track=2), person(100, track=1)]],
         [(1, ("track:2",))]),
    ],
)
def test_enter_versus_inside_with_tracks(trigger, frames, expected):
    assert run(Rule("r", zones=(LEFT_HALF,), trigger=trigger, cooldown=Duration(60)), frames) == expected


def test_enter_without_tracks_needs_a_frame_where_the_condition_was_false():
    rule = Rule("r", zones=(LEFT_HALF,), trigger="enter")
    assert run(rule, [[person(100)], [person(100)]]) == []
    assert run(rule, [[person(500)], [person(100)]]) == [(1, ("class:person",))]
    assert run(rule, [[], [person(100)]]) == [(1, ("class:person",))]


@pytest.mark.parametrize(
    "min_duration, frames, expected",
    [
        (Duration(3, "frames"), [[person()]] * 5, [2]),
        (Duration(3, "frames"), [[person()], [person()], [], [person()], [person()], [person()]], [5]),
        (Duration(0.3), [[person()]] * 5, [3]),  # 10 fps: frame 3 is 0.3 s after frame 0
        (Duration(0), [[person()]] * 2, [0]),
    ],
)
def test_min_duration_in_frames_or_seconds_without_a_break(min_duration, frames, expected):
    assert [i for i, _ in run(Rule("r", min_duration=min_duration), frames)] == expected


def test_min_duration_is_kept_per_track_id():
    rule = Rule("r", min_duration=Duration(2, "frames"))
    frames = [[person(track=1)], [person(track=1), person(300, track=2)], [person(track=1), person(300, track=2)]]
    assert run(rule, frames) == [(1, ("track:1",)), (2, ("track:2",))]


@pytest.mark.parametrize(
    "cooldown, frames, expected",
    [
        (Duration(3, "frames"), [[person()]] * 8, [0, 3, 6]),
        (Duration(0.5), [[person()]] * 12, [0, 5, 10]),
        # leaving and coming back within the cooldown does not fire again
        (Duration(5, "frames"), [[person()], [], [person()], [], [], [], [person()]], [0, 6]),
        (Duration(0), [[person()]] * 3, [0, 1, 2]),
    ],
)
def test_cooldown_after_firing(cooldown, frames, expected):
    assert [i for i, _ in run(Rule("r", cooldown=cooldown), frames)] == expected


def test_cooldown_is_per_track_id():
    rule = Rule("r", cooldown=Duration(100, "frames"))
    frames = [[person(track=1)], [person(track=1), person(300, track=2)], [person(track=1), person(300, track=2)]]
    assert run(rule, frames) == [(0, ("track:1",)), (1, ("track:2",))]


def test_cooldown_is_per_class_without_tracks():
    rule = Rule("r", cooldown=Duration(100, "frames"))
    frames = [[person()], [person(), person(cls="dog")], [person(), person(cls="dog")]]
    assert run(rule, frames) == [(0, ("class:person",)), (1, ("class:dog",))]


def test_max_per_minute_holds_firings_back_until_there_is_room():
    rule = Rule("r", cooldown=Duration(0), max_per_minute=2)
    state, fired = RuleState(), []
    for i, t in enumerate([0, 1, 2, 3, 60.5, 61]):
        state, step = evaluate(rule, state, Frame(i, t, W, H, (person(),)))
        fired += [t] if step.alerts else []
    assert fired == [0, 1, 60.5, 61]
    assert state.held_back == 2


def test_alert_names_tracks_boxes_counts_and_how_long():
    rule = Rule("intruder", classes=("person",), zones=(LEFT_HALF,), min_duration=Duration(0.2))
    state = RuleState()
    for i in range(3):
        state, step = evaluate(rule, state, Frame(i, i * 0.1, W, H, (person(100, track=7), person(500, track=8))))
    [alert] = step.alerts
    assert alert.subject == "track:7" and alert.zone == 0 and alert.track_ids == [7]
    assert alert.counts == {"person": 1}
    assert alert.as_dict()["detections"] == [{"class": "person", "conf": 0.9, "track_id": 7, "box": [80, 200, 120, 300]}]
    assert alert.held_for == pytest.approx(0.2)
    assert alert.message == "1 person seen in zone (track 7) for 0.2 s"


def test_classification_top1_is_a_detection_without_a_box():
    rule = Rule("r", classes=("defect",), min_conf=0.8)
    frames = [[Detection("defect", 0.7)], [Detection("ok", 0.95)], [Detection("defect", 0.9)]]
    assert run(rule, frames) == [(2, ("class:defect",))]


def test_memory_stays_bounded_on_an_endless_stream_of_new_tracks():
    rule = Rule("r", zones=(LEFT_HALF,), cooldown=Duration(1))
    state = RuleState()
    for i in range(2000):
        state, _ = evaluate(rule, state, Frame(i, i / 10, W, H, (person(500 if i % 2 else 100, track=i),)))
    assert len(state.tracks) <= 300 + 64 and len(state.track_stays) <= 300 + 64
    assert len(state.fired_at) <= 20 + 64 and len(state.events) <= 30


def test_an_empty_frame_leaves_an_idle_presence_rule_unchanged_so_the_frame_loop_may_skip_it():
    presence, count = Rule("r", classes=("person",)), Rule("few", classes=("helmet",), max_count=1)
    state = RuleState()
    assert is_idle(presence, state) and evaluate(presence, state, Frame(0, 0.0, W, H)) == (state, NOTHING)
    assert not is_idle(count, state)  # "at most 1 helmet" holds on an empty frame: it must be evaluated
    _, step = evaluate(count, state, Frame(0, 0.0, W, H))
    assert [a.subject for a in step.alerts] == ["class:helmet"]
    state, _ = evaluate(presence, state, Frame(1, 0.1, W, H, (person(),)))
    assert not is_idle(presence, state)  # a stay is under way: an empty frame ends it


def test_the_first_frame_of_a_source_is_index_0_even_after_skipped_quiet_frames():
    rule = Rule("r", classes=("person",), trigger="enter")
    # frames 0-2 had nothing (skipped by the caller); the person appearing at frame 3 was outside before: entered
    _, step = evaluate(rule, RuleState(), Frame(3, 0.3, W, H, (person(),)))
    assert step.alerts
    _, step = evaluate(rule, RuleState(), Frame(0, 0.0, W, H, (person(),)))
    assert not step.alerts  # there from the first frame: never seen outside
