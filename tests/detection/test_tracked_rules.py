"""Rules on tracked objects as tables: paths of anchors in, the frames that raise alerts out — lines, zone edges with
hysteresis, dwell, parked objects, the area filter and the cooldown per (rule, subject, zone)."""

from __future__ import annotations

import pytest

from yolo_hooks.detection.rules import Detection, Duration, Frame, Line, Rule, RuleState, Zone, evaluate

W, H = 640, 480
VERTICAL = Line(((320, 40), (320, 440)))  # in: moving right over it
SQUARE = Zone(((200, 100), (400, 100), (400, 300), (200, 300)))
RIGHT_STRIP = Zone(((500, 0), (640, 0), (640, 480), (500, 480)))
BAND = 4  # hysteresis in pixels, as the tables below are drawn


def at(x: float, y: float = 200, track: int | None = 1, conf: float = 0.9, cls: str = "person", w: float = 20,
       h: float = 40) -> Detection:  # fmt: skip
    """An object whose bottom-centre anchor is at (x, y)."""
    return Detection(cls, conf, (x - w / 2, y - h, x + w / 2, y), track)


def walk(xs: list[float | None], y: float = 200, track: int = 1, **kwargs) -> list[list[Detection]]:
    """One object's anchor at ``xs`` (None: not seen on that frame)."""
    return [[] if x is None else [at(x, y, track, **kwargs)] for x in xs]


def fired(rule: Rule, frames: list[list[Detection]], fps: float = 10.0) -> list[tuple[int, str, object]]:
    """``(frame, subject, zone)`` of every alert."""
    state, out = RuleState(), []
    for i, dets in enumerate(frames):
        state, step = evaluate(rule, state, Frame(i, i / fps, W, H, tuple(dets)))
        out += [(a.frame_index, a.subject, a.zone) for a in step.alerts]
    return out


def line(direction: str = "any", **kwargs) -> Rule:
    return Rule("gate", line=VERTICAL, direction=direction, hysteresis=BAND, cooldown=Duration(0), **kwargs)


@pytest.mark.parametrize(
    "direction, xs, expected",
    [
        ("in", [300, 310, 318, 326, 340], [3]),  # left to right: in, at the first frame past the band (x >= 324)
        ("out", [300, 310, 318, 326, 340], []),
        ("any", [300, 310, 318, 326, 340], [3]),
        ("out", [340, 330, 322, 314, 300], [3]),  # right to left: out
        ("any", [300, 330, 300, 330], [1, 2, 3]),  # every crossing, each its own stay (no cooldown here)
        ("in", [300, 330, 300, 330], [1, 3]),
        ("any", [330, 340, 350], []),  # first seen on one side: no crossing
        ("any", [310, 318, 321, 317, 322, 319, 310], []),  # jitter within the band around the line: nothing
        ("any", [310, 318, 321, 317, 322, 319, 330], [6]),  # ... until it is clearly across
        ("any", [300, None, None, 340], [3]),  # not seen for two frames: its side is remembered
    ],
)
def test_a_line_fires_once_per_crossing_in_its_direction(direction, xs, expected):
    assert [f for f, _, _ in fired(line(direction), walk(xs))] == expected


def test_going_round_a_line_beyond_its_ends_is_no_crossing():
    # above the segment's top end (y=40): left, above, right
    path = [[at(300, 200)], [at(300, 20)], [at(340, 20)], [at(340, 200)]]
    assert fired(line(), path) == []
    assert [f for f, _, _ in fired(line(), [[at(300, 200)], [at(340, 200)]])] == [1]


def test_a_line_needs_tracks_and_names_the_track():
    assert fired(line(), [[at(300, track=None)], [at(340, track=None)]]) == []
    assert fired(line(), walk([300, 340], track=9)) == [(1, "track:9", None)]


@pytest.mark.parametrize(
    "trigger, xs, expected",
    [
        ("enter", [150, 180, 202, 230, 260], [3]),  # 2 px past the edge (x = 200) is within the band: not yet in
        ("enter", [250, 260, 270], []),  # first seen inside: never entered
        ("leave", [250, 300, 380, 398, 410], [4]),
        ("leave", [150, 250, 150], [2]),
        ("enter", [150, 202, 198, 203, 197, 201, 260], [6]),  # jitter on the edge: one enter, when clearly in
        ("leave", [250, 202, 198, 203, 197, 201, 150], [6]),
        ("inside", [150, 250, 260, 150, 250], [1, 2, 4]),  # inside fires while inside (no cooldown here)
    ],
)
def test_zone_enter_leave_and_inside_with_hysteresis_on_the_edge(trigger, xs, expected):
    rule = Rule("yard", zones=(SQUARE,), trigger=trigger, hysteresis=BAND, cooldown=Duration(0))
    assert [f for f, _, _ in fired(rule, walk(xs))] == expected


def test_enter_fires_once_per_stay_and_again_after_leaving():
    rule = Rule("yard", zones=(SQUARE,), trigger="enter", hysteresis=BAND, cooldown=Duration(0))
    assert [f for f, _, _ in fired(rule, walk([150, 250, 260, 270, 150, 250, 260]))] == [1, 5]


def test_cooldown_is_kept_per_subject_and_zone_and_counts_from_the_alert():
    rule = Rule("zones", zones=(SQUARE, RIGHT_STRIP), trigger="enter", hysteresis=BAND, cooldown=Duration(5, "frames"))
    # track 1 enters the square (frame 1), the strip (frame 3), leaves and re-enters the square within 5 frames
    # of its alert there (frame 5: held back by the cooldown), and again after it (frame 7)
    path = walk([150, 250, 450, 550, 450, 250, 150, 250])
    assert fired(rule, path) == [(1, "track:1", 0), (3, "track:1", 1), (7, "track:1", 0)]
    # another track is another subject: its own cooldown
    both = [a + b for a, b in zip(walk([150, 250, 150, 250]), walk([150, 250, 150, 250], y=250, track=2))]
    assert fired(Rule("z", zones=(SQUARE,), trigger="enter", cooldown=Duration(0)), both) == [
        (1, "track:1", 0), (1, "track:2", 0), (3, "track:1", 0), (3, "track:2", 0)]  # fmt: skip


def test_an_alert_held_back_by_max_per_minute_does_not_start_the_cooldown():
    rule = Rule("z", zones=(SQUARE,), trigger="enter", cooldown=Duration(100, "frames"), max_per_minute=1)
    frames = [a + b for a, b in zip(walk([150, 250, 260]), walk([150, 250, 260], y=250, track=2))]
    state, out = RuleState(), []
    for i, dets in enumerate(frames + [[at(260, 200, 1), at(260, 250, 2)]]):
        t = 61.0 if i == 3 else i / 10  # a minute later, there is room again
        state, step = evaluate(rule, state, Frame(i, t, W, H, tuple(dets)))
        out += [(i, a.subject) for a in step.alerts]
    assert out == [(1, "track:1"), (3, "track:2")] and state.held_back == 2


@pytest.mark.parametrize(
    "xs, expected",
    [
        ([150] + [250] * 45, [41]),  # inside from frame 1: 4 s at 10 fps later
        ([150] + [250] * 30 + [150] + [250] * 45, [72]),  # left before 4 s: the clock starts again
        ([250] * 45, [40]),  # first seen inside: its stay counts from its first frame
        ([150] + [250] * 20 + [None] * 5 + [250] * 20, [41]),  # not seen for 5 frames: no break for a track
    ],
)
def test_dwell_fires_once_per_stay_that_lasts_long_enough(xs, expected):
    moving = [x if x is None else x + (i % 7) * 3 for i, x in enumerate(xs)]  # it keeps moving inside
    rule = Rule("loiter", zones=(SQUARE,), dwell=Duration(4), hysteresis=BAND, cooldown=Duration(0))
    assert [f for f, _, _ in fired(rule, walk(moving))] == expected


def test_dwell_is_per_track_id_a_split_track_starts_over():
    rule = Rule("loiter", zones=(SQUARE,), dwell=Duration(2), cooldown=Duration(0))
    frames = walk([250] * 15) + walk([250] * 25, track=2)  # the tracker gives the object a new id at frame 15
    assert fired(rule, frames) == [(35, "track:2", 0)]


def parked_and_walker(frames: int) -> list[list[Detection]]:
    """A parked object at (250, 200) jittering by 2 px, and a walker moving inside the square."""
    return [[at(250 + (i % 3) - 1, 200 + (i % 2) * 2, track=1), at(210 + (i * 3) % 180, 280, track=2)]
            for i in range(frames)]  # fmt: skip


def test_a_parked_object_never_dwells_while_a_moving_one_does():
    rule = Rule("loiter", zones=(SQUARE,), dwell=Duration(4), stationary=Duration(2), stationary_radius=6,
                cooldown=Duration(0))  # fmt: skip
    assert fired(rule, parked_and_walker(60)) == [(40, "track:2", 0)]
    without = Rule("loiter", zones=(SQUARE,), dwell=Duration(4), cooldown=Duration(0))
    assert fired(without, parked_and_walker(60)) == [(40, "track:1", 0), (40, "track:2", 0)]


@pytest.mark.parametrize("trigger, expected", [("enter", []), ("leave", [(22, "track:1", 0)])])
def test_a_parked_object_that_moves_again_counts_again_from_where_it_is(trigger, expected):
    """Parked inside, then driving out: moving again is no enter (it is taken inside as it is), leaving is a leave."""
    rule = Rule("yard", zones=(SQUARE,), trigger=trigger, stationary=Duration(1), stationary_radius=6,
                cooldown=Duration(0))  # fmt: skip
    assert fired(rule, walk([250] * 20 + [330, 380, 420, 440])) == expected


def test_the_stationary_radius_must_exceed_the_jitter():
    rule = Rule("loiter", zones=(SQUARE,), dwell=Duration(4), stationary=Duration(2), stationary_radius=1,
                cooldown=Duration(0))  # fmt: skip
    assert (40, "track:1", 0) in fired(rule, parked_and_walker(60))  # 2 px of jitter keep re-settling it


@pytest.mark.parametrize(
    "min_area, max_area, sizes, expected",
    [
        (None, 2000, [(20, 40), (20, 40)], [1]),
        (None, 2000, [(60, 60), (60, 60)], []),  # 3600 px² > 2000
        (1000, None, [(20, 40), (10, 20)], []),  # 200 px² < 1000 at the crossing
        (None, 0.01, [(20, 40), (20, 40)], [1]),  # 1 % of 640x480 = 3072 px²
        (None, 0.01, [(60, 60), (60, 60)], []),
    ],
)
def test_area_bounds_in_pixels_or_fractions_of_the_frame(min_area, max_area, sizes, expected):
    rule = line(min_area=min_area, max_area=max_area)
    frames = [[at(x, w=w, h=h)] for x, (w, h) in zip([300, 340], sizes)]
    assert [f for f, _, _ in fired(rule, frames)] == expected


def test_a_box_outside_the_area_bounds_drops_its_tracks_memory():
    """A big object half out of the frame has a small box: it is not seen while out of range, and its side of the
    line is forgotten, so coming back in range on the other side is no crossing."""
    rule = line(min_area=500)
    frames = [[at(300)], [at(310, w=5, h=10)], [at(340)], [at(350)]]
    assert fired(rule, frames) == []
