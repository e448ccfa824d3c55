"""Events as tables: an alert begins one, frames where its condition holds extend it, `end_after` without them ends
it with its duration, frames and best confidence; a later alert while it lasts is an update of it."""

from __future__ import annotations

from yolo_hooks.detection.rules import Detection, Duration, Frame, Rule, RuleState, Zone, evaluate, finish

W, H = 640, 480
LEFT = Zone(((0, 0), (320, 0), (320, 480), (0, 480)))


def person(x: float = 100, conf: float = 0.9, track: int | None = 1) -> Detection:
    return Detection("person", conf, (x - 20, 200, x + 20, 300), track)


def play(rule: Rule, frames: list[list[Detection]], fps: float = 10.0):
    """Every alert as ``(frame, event, update)``, every end, and every ``(frame, events whose best frame it is)``."""
    state, alerts, ends, best = RuleState(), [], [], []
    for i, dets in enumerate(frames):
        state, step = evaluate(rule, state, Frame(i, i / fps, W, H, tuple(dets)))
        alerts += [(a.frame_index, a.event, a.update) for a in step.alerts]
        ends += list(step.ends)
        best += [(i, step.best)] if step.best else []
    return state, alerts, ends, best


def test_an_event_lasts_while_its_condition_holds_and_ends_end_after_later():
    rule = Rule("r", zones=(LEFT,), trigger="enter", end_after=Duration(5, "frames"), cooldown=Duration(0))
    confs = [0.6, 0.7, 0.95, 0.8, 0.7]
    frames = [[person(400)]] + [[person(100, c)] for c in confs] + [[person(400)]] * 4 + [[]] * 3
    _, alerts, ends, best = play(rule, frames)
    assert alerts == [(1, 1, 1)]
    [end] = ends
    assert (end.event, end.start_index, end.end_index, end.frames) == (1, 1, 5, 5)
    assert (end.best_conf, end.best_index, end.alerts) == (0.95, 3, 1)
    assert round(end.duration, 3) == 0.4 and end.subject == "track:1" and end.cls == "person"
    assert best == [(1, (1,)), (2, (1,)), (3, (1,))]  # the alert frame, then each more confident one
    assert end.message == "person (track 1) (zone 1): event over after 0.4 s, 5 frames, best confidence 0.95"


def test_an_event_ends_at_the_frame_end_after_passes_without_detections():
    rule = Rule("r", end_after=Duration(1))  # seconds: at 10 fps, 10 frames after the last hold
    state = RuleState()
    got = []
    for i in range(20):
        dets = (person(track=None),) if i < 3 else ()
        state, step = evaluate(rule, state, Frame(i, i / 10, W, H, dets))
        got += [(i, e.end_index) for e in step.ends]
    assert got == [(12, 2)]
    assert not state.events


def test_a_later_alert_of_the_same_key_while_the_event_lasts_is_an_update():
    rule = Rule("r", cooldown=Duration(3, "frames"), end_after=Duration(2, "frames"))
    frames = [[person()]] * 7 + [[]] * 3 + [[person()]]
    _, alerts, ends, _ = play(rule, frames)
    assert alerts == [(0, 1, 1), (3, 1, 2), (6, 1, 3), (10, 2, 1)]  # a new event after the first ended
    assert [(e.event, e.alerts, e.frames) for e in ends] == [(1, 3, 7)]


def test_finish_ends_every_open_event_at_its_last_hold():
    rule = Rule("r", end_after=Duration(60))
    state, alerts, ends, _ = play(rule, [[person(track=1), person(500, track=2)]] * 3 + [[person(track=1)]])
    assert alerts == [(0, 1, 1), (0, 2, 1)] and ends == []
    state, ends = finish(rule, state)
    assert [(e.subject, e.end_index, e.frames) for e in ends] == [("track:1", 3, 4), ("track:2", 2, 3)]
    assert finish(rule, state) == (state, ())
