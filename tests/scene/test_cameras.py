"""Two cameras in one run (Ultralytics' `.streams` file): each has its name in records, file names and messages,
its own zone, and a rule limited to one camera stays silent on the other; each camera's alerts still match its
scene's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.training


def test_two_cameras_with_their_own_zones_and_a_rule_for_one_of_them(scene_weights, scene_runs, tmp_path):
    import make_scene
    import scene_rules
    import scene_score
    import scene_train
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.notify.compose import detection_message

    from ..helpers import Listener

    truths = {f"cam{seed}": scene_runs[seed][0] for seed in (0, 1)}
    scenes = {cam: make_scene.load_scene(path)[0] for cam, path in truths.items()}
    streams = tmp_path / "cameras.streams"
    streams.write_text("".join(f"{path.with_suffix('.mp4')}\n" for path in truths.values()))
    names = {str(path.with_suffix(".mp4")): cam for cam, path in truths.items()}
    enter = {**scene_rules.rules_for(scenes["cam0"])["enter"], "ignore_stationary": "20 frames"}
    enter["zone"] = {cam: truth["zone"] for cam, truth in scenes.items()}
    line = {**scene_rules.rules_for(scenes["cam1"])["line_in"], "ignore_stationary": "20 frames", "cameras": ["cam1"]}
    folder = tmp_path / "alerts"
    hooks = [yolo_hooks.DetectionAlert(name="enter", camera_names=names, folder=str(folder), **enter),
             yolo_hooks.DetectionAlert(name="line_in", camera_names=names, folder=str(folder), **line)]  # fmt: skip
    listener = Listener()
    model = YOLO(str(scene_weights))
    yolo_hooks.attach(model, *hooks, listener)
    tracks = {"cam0": [], "cam1": []}
    for i, r in enumerate(model.track(str(streams), stream=True, stream_buffer=True, imgsz=scene_train.IMGSZ,
                                      verbose=False, tracker=str(scene_rules.tracker_yaml(tmp_path)),
                                      project=str(tmp_path), name="t")):  # fmt: skip
        b = r.boxes  # one Results per stream and frame, in turn
        tracks[f"cam{i % 2}"].append([] if b.id is None else list(zip(b.id.int().tolist(), map(tuple, b.xyxy.tolist()))))
    for hook in hooks:
        hook.close(30)

    records = [json.loads(x) for x in (folder / "alerts.jsonl").read_text().splitlines()]
    alerts = [r for r in records if r["kind"] == "detection"]
    assert {(r["rule"], r["camera"]) for r in alerts} == {("enter", "cam0"), ("enter", "cam1"), ("line_in", "cam1")}
    assert all(f"_{r['camera']}_" in Path(r["image"]).name for r in alerts)
    for cam, path in truths.items():
        truth, boxes = make_scene.load_scene(path)
        mapped = scene_score.map_tracks(scene_score.gt_frames(boxes), tracks[cam])
        mine = [{"rule": r["rule"], "track_id": r["track_ids"][0], "frame": r["frame_index"]}
                for r in alerts if r["camera"] == cam]  # fmt: skip
        rules = ["enter", "line_in"] if cam == "cam1" else ["enter"]
        events = [e for e in truth["events"] if e["rule"] in rules]
        score = scene_score.score_alerts(events, mine, mapped, scene_rules.TOLERANCE, rules=rules)["all"]
        assert score["precision"] >= 0.95 and score["recall"] >= 0.95, (cam, score)
    [event] = [e for e in listener.published if e.kind == "detection" and e.data["camera"] == "cam1"][:1]
    message = detection_message(event, {})
    assert "cam1" in message.title and message.fields["Camera"] == "cam1" and message.fields["Event"]
