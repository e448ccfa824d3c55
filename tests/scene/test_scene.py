"""datasets/make_scene.py and datasets/scene_score.py: synthetic scenes with known events, and the scoring of alerts.

No model here: the scene's own ground-truth boxes stand in for a perfect tracker, so these run in seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:  # the session's copy of datasets/, where tests/conftest.py makes one
    from tests.conftest import DATASETS
except ImportError:
    DATASETS = Path(__file__).resolve().parents[2] / "datasets"
sys.path.insert(0, str(DATASETS))  # datasets/ is data and scripts, not a package

import make_scene  # noqa: E402
import scene_score  # noqa: E402


@pytest.fixture(scope="module")
def scenes():
    return {seed: make_scene.build_scene(seed) for seed in (0, 1)}


def perfect_tracks(boxes_json) -> list[list[tuple]]:
    """The ground truth as a tracker's output: one track id per object, its exact box every frame."""
    frames = scene_score.gt_frames(boxes_json)
    ids = {s: i + 1 for i, s in enumerate(sorted(boxes_json["objects"]))}
    return [[(ids[s], box) for s, (box, _) in sorted(f.items())] for f in frames]


# ---------------------------------------------------------------------------------------------------- the scenes


def test_a_seed_always_gives_the_same_scene_and_seeds_differ(scenes):
    again = make_scene.build_scene(0)
    assert again["truth"] == scenes[0]["truth"] and again["boxes"] == scenes[0]["boxes"]
    a, b = scenes[0]["truth"], scenes[1]["truth"]
    assert a["zone"] != b["zone"] and a["events"] != b["events"]


@pytest.mark.parametrize("seed", [0, 1])
def test_every_rule_occurs_and_the_special_objects_are_there(scenes, seed):
    truth = scenes[seed]["truth"]
    assert {e["rule"] for e in truth["events"]} == set(make_scene.RULES)
    roles = {o["role"] for o in truth["objects"]}
    assert {"stationary", "cross_a", "cross_b", "big"} <= roles
    assert truth["stationary"] and len(truth["crossing_pair"]["subjects"]) == 2
    assert truth["crossing_pair"]["overlap_frames"], "the crossing pair must actually overlap"
    suppressed = {e["subject"] for e in truth["suppressed_events"]}
    assert suppressed and not suppressed & {e["subject"] for e in truth["events"]}
    assert {e["reason"] for e in truth["suppressed_events"]} <= {"stationary", "area"}


def test_events_follow_from_the_boxes(scenes):
    """enter/leave recomputed from the written boxes' anchors agree with the written events."""
    truth, boxes = scenes[0]["truth"], scenes[0]["boxes"]
    recomputed = []
    for subject, obj in boxes["objects"].items():
        inside = [make_scene.point_in_polygon(*make_scene.anchor_of(b, truth["anchor"]), truth["zone"]) for b in obj["boxes"]]
        for i in range(1, len(inside)):
            if inside[i] != inside[i - 1]:
                recomputed.append(("enter" if inside[i] else "leave", subject, obj["first"] + i))
    written = [(e["rule"], e["subject"], e["frame"]) for e in truth["events"] + truth["suppressed_events"]
               if e["rule"] in ("enter", "leave")]  # fmt: skip
    assert sorted(recomputed) == sorted(written)


def test_dwell_is_dwell_seconds_after_entering(scenes):
    truth = scenes[0]["truth"]
    for e in truth["events"]:
        if e["rule"] == "dwell":
            assert e["frame"] - e["since"] == truth["dwell_s"] * truth["fps"]
            assert {"rule": "enter", "subject": e["subject"], "frame": e["since"]}.items() <= next(
                x for x in truth["events"] if x["rule"] == "enter" and x["subject"] == e["subject"] and x["frame"] == e["since"]
            ).items()


def test_make_scene_writes_a_playable_video_and_its_truth(tmp_path):
    import cv2

    paths = make_scene.make_scene(tmp_path, seed=3)
    truth, boxes = make_scene.load_scene(paths["truth"])
    cap = cv2.VideoCapture(str(paths["video"]))
    count = 0
    while cap.read()[0]:
        count += 1
    assert count == truth["frames"] == boxes["frames"]
    assert paths["video"].stat().st_size < 2_000_000


def test_training_set_has_labels_for_its_images(tmp_path):
    data = make_scene.make_training_set(tmp_path / "shapes", train=6, val=2)
    labels = sorted((tmp_path / "shapes" / "labels" / "train").glob("*.txt"))
    assert data.exists() and len(labels) == 6
    rows = [line.split() for p in labels for line in p.read_text().splitlines()]
    assert rows and all(len(r) == 5 and r[0] in "012" and all(0 <= float(v) <= 1 for v in r[1:]) for r in rows)


# ---------------------------------------------------------------------------------------------------- the scoring


def test_score_alerts_tolerance_is_inclusive_and_each_event_matches_once():
    events = [{"rule": "enter", "subject": "a", "frame": 10}]
    alerts = [{"rule": "enter", "subject": "a", "frame": 13}, {"rule": "enter", "subject": "a", "frame": 7}]
    s = scene_score.score_alerts(events, alerts, tolerance=3)["enter"]
    assert (s["tp"], s["fp"], s["fn"]) == (1, 1, 0)
    s = scene_score.score_alerts(events, alerts[:1], tolerance=2)["enter"]
    assert (s["tp"], s["fp"], s["fn"]) == (0, 1, 1)


def test_score_alerts_matches_as_many_as_possible():
    """Greedy nearest-first would pair 6 with 4 and leave 1 unmatched; the sweep matches both."""
    events = [{"rule": "line_in", "subject": "a", "frame": f} for f in (1, 6)]
    alerts = [{"rule": "line_in", "subject": "a", "frame": f} for f in (4, 9)]
    assert scene_score.score_alerts(events, alerts, tolerance=3)["line_in"]["tp"] == 2


def test_score_alerts_wrong_subject_rule_or_unmapped_track_is_false():
    events = [{"rule": "dwell", "subject": "a", "frame": 40}]
    alerts = [{"rule": "dwell", "track_id": 1, "frame": 40}, {"rule": "dwell", "track_id": 2, "frame": 40},
              {"rule": "enter", "track_id": 3, "frame": 40}]  # fmt: skip
    out = scene_score.score_alerts(events, alerts, track_map={1: "b", 3: "a"}, rules=["dwell", "enter", "leave"])
    assert (out["dwell"]["tp"], out["dwell"]["fp"], out["dwell"]["fn"]) == (0, 2, 1)
    assert out["enter"]["precision"] == 0.0 and out["enter"]["recall"] == 1.0
    assert out["leave"]["precision"] == out["leave"]["recall"] == 1.0  # nothing expected, nothing alerted
    assert (out["all"]["tp"], out["all"]["fp"], out["all"]["fn"]) == (0, 3, 1)


def test_perfect_tracks_map_to_their_subjects_with_no_switch_or_miss(scenes):
    boxes = scenes[0]["boxes"]
    gt = scene_score.gt_frames(boxes)
    tracks = perfect_tracks(boxes)
    ids = {i + 1: s for i, s in enumerate(sorted(boxes["objects"]))}
    assert scene_score.map_tracks(gt, tracks) == ids
    q = scene_score.track_quality(gt, tracks)
    assert (q["missed"], q["id_switches"], q["false_boxes"]) == (0, 0, 0) and q["expected"] > 0


def test_a_swap_counts_one_switch_each_and_a_lost_box_a_miss():
    gt = [{"a": ((0, 0, 10, 10), 1.0), "b": ((50, 0, 60, 10), 1.0)}] * 4
    tracks = [[(1, (0, 0, 10, 10)), (2, (50, 0, 60, 10))], [(1, (0, 0, 10, 10))],
              [(2, (0, 0, 10, 10)), (1, (50, 0, 60, 10))], [(2, (0, 0, 10, 10)), (1, (50, 0, 60, 10))]]  # fmt: skip
    q = scene_score.track_quality(gt, tracks)
    assert q["subjects"]["a"]["id_switches"] == 1 and q["subjects"]["b"]["id_switches"] == 1
    assert q["subjects"]["b"]["missed"] == 1 and q["id_switches"] == 2


def test_the_product_rules_on_perfect_tracks_find_every_event(scenes):
    """The scene's rules (datasets/scene_rules.py), evaluated by the product's pure rules on the ground-truth boxes as
    a perfect tracker would give them: every event, nothing else (the parked and the big object included).

    The hysteresis bands (defaults: 1.5 % of the frame's shorter side) delay an alert by up to 3 frames at the
    slowest, most slanted crossing the generator allows (35 px/s at 10 fps, 30 degrees: 1.75 px a frame)."""
    import scene_rules

    from yolo_hooks import DetectionAlert
    from yolo_hooks.detection.rules import Detection, Frame, RuleState, evaluate

    for seed in (0, 1):
        truth, boxes = scenes[seed]["truth"], scenes[seed]["boxes"]
        tracks = perfect_tracks(boxes)
        ids = {i + 1: s for i, s in enumerate(sorted(boxes["objects"]))}
        alerts = []
        for name, options in scene_rules.rules_for(truth).items():
            rule, state = DetectionAlert(name=name, **options).rule, RuleState()
            for f, rows in enumerate(tracks):
                dets = tuple(Detection("shape", 0.9, tuple(box), tid) for tid, box in rows)
                state, step = evaluate(rule, state, Frame(f, f / truth["fps"], truth["width"], truth["height"], dets))
                alerts += [{"rule": name, "track_id": a.track_ids[0], "frame": a.frame_index} for a in step.alerts]
        out = scene_score.score_alerts(truth["events"], alerts, ids, tolerance=3, rules=make_scene.RULES)
        assert out["all"]["precision"] == out["all"]["recall"] == 1.0, {r: (v["missed"], v["false"]) for r, v in out.items() if r != "all"}


def test_replaying_a_tracker_on_the_ground_truth_keeps_every_id(scenes):
    """datasets/scene_train.py's replay feeds Ultralytics' own ByteTrack: exact boxes (of shapes at least half
    seen) give one id per object, but for the crossing pair: the one hidden for a few frames may come back under
    a new id even then (its Kalman prediction coasts while the other box sits on it)."""
    pytest.importorskip("lap")
    import scene_train

    boxes = scenes[0]["boxes"]
    gt = scene_score.gt_frames(boxes)
    classes = {s: make_scene.SHAPES.index(o["class"]) for s, o in boxes["objects"].items()}
    detections = [[(*box, 0.9, classes[s]) for s, (box, visible) in sorted(f.items()) if visible >= 0.5] for f in gt]
    frames = scene_train.replay_tracker(detections, (256, 384), "bytetrack.yaml", list(make_scene.SHAPES))
    q = scene_score.track_quality(gt, frames)
    pair = set(scenes[0]["truth"]["crossing_pair"]["subjects"])
    assert all(len(r["ids"]) == 1 for s, r in q["subjects"].items() if s not in pair)
    assert q["id_switches"] <= 1 and q["false_boxes"] == 0
    assert q["missed"] <= 2 * len(boxes["objects"])  # a new track is only shown from its second frame
