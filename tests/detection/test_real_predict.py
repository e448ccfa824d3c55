"""DetectionAlert on real predictions and tracks over a video made from coco8 (random-init model, low conf)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.detection.hook import DetectionAlert

from .conftest import PREDICT, SIZE, coco8_names


def records(folder: Path, kind: str = "detection") -> list[dict]:
    """The ``alerts.jsonl`` lines of one kind (``detection``: alerts; ``detection_end``: events that ended)."""
    lines = [json.loads(line) for line in (folder / "alerts.jsonl").read_text().splitlines()]
    return [r for r in lines if r["kind"] == kind]


def test_predict_stream_writes_annotated_jpeg_sheet_clip_and_records(model, coco8_video, tmp_path):
    hook = DetectionAlert(min_conf=0.0, cooldown="10 frames", before=2, after=2, clip=True, strict=True)
    yolo_hooks.attach(model, hook)
    frames = sum(1 for _ in model.predict(str(coco8_video), stream=True, project=str(tmp_path), name="p", **PREDICT))
    assert hook.close(30)  # the predict thread never waits for the files: a script that wants them now asks

    folder = tmp_path / "p" / "alerts"
    got = records(folder)
    assert frames == 24
    assert [r["frame_index"] for r in got] == [0, 10, 20]
    assert [r["video_time"] for r in got] == [0.0, 1.0, 2.0] and got[0]["camera"] == "coco8"
    assert got[0]["source"] == str(coco8_video) and got[0]["detections"] and got[0]["counts"]
    assert all(r["image"].endswith(f"{r['event_id']}_frame{r['frame_index']}.jpg") for r in got)  # one numbering
    image = cv2.imread(got[1]["image"])
    assert image.shape == (SIZE[1], SIZE[0], 3)
    assert cv2.imread(got[1]["sheet"]).shape[1] > 0
    clip = cv2.VideoCapture(got[1]["clip"])
    assert int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) == 5  # 2 before, the alert, 2 after
    clip.release()


def test_track_names_track_ids_and_fires_per_track(model, coco8_video, tracker_yaml, tmp_path):
    hook = DetectionAlert(classes=["person"], min_conf=0.0, min_duration="3 frames", cooldown=3600, strict=True)
    yolo_hooks.attach(model, hook)
    for _ in model.track(str(coco8_video), stream=True, tracker=str(tracker_yaml), project=str(tmp_path), name="t",
                         **PREDICT):
        pass
    assert hook.close(30)
    got = records(tmp_path / "t" / "alerts")
    assert got, "the low-threshold tracker confirms tracks on every frame"
    assert got[0]["frame_index"] == 2  # held for 3 frames
    fired = [r["subject"] for r in got]
    assert fired and all(s.startswith("track:") for s in fired)
    assert len(fired) == len(set(fired))  # an hour's cooldown: every track id fires once
    assert all(d["class"] == "person" and d["track_id"] is not None for r in got for d in r["detections"])


def test_misspelled_class_is_a_config_error_with_the_closest_name(model, coco8_video, tmp_path):
    yolo_hooks.attach(model, DetectionAlert(classes=["persn"], strict=True))
    with pytest.raises(ConfigError, match=r"no class `persn` \(did you mean `person`\?\)"):
        model.predict(str(coco8_video), project=str(tmp_path), name="p", **PREDICT)


def test_a_misspelled_class_says_once_that_the_rule_stays_silent_and_never_stops_the_run(model, coco8_video,
                                                                                          tmp_path, log_lines):
    hook = DetectionAlert(classes=["persn"], min_conf=0.0)
    yolo_hooks.attach(model, hook)
    for name in ("p", "q"):  # a second call on the same model says nothing more
        assert len(model.predict(str(coco8_video), project=str(tmp_path), name=name, **PREDICT)) == 24
    said = [line for line in log_lines if "persn" in line]
    assert len(said) == 1 and "did you mean `person`" in said[0] and "stays silent" in said[0]
    assert "Traceback" not in "\n".join(log_lines) and "training continues" not in said[0]
    assert hook.fired == 0 and not hook.error_counts


def known(*rows, shape=(480, 640)):
    """A real Results with boxes given as (x1, y1, x2, y2, track id, conf, class id) rows (no track id: untracked)."""
    from ultralytics.engine.results import Results

    image = np.full((*shape, 3), 90, np.uint8)
    return Results(image, path="camera", names=coco8_names(), boxes=torch.tensor(rows, dtype=torch.float32))


def test_known_boxes_drive_zone_duration_and_cooldown_per_track(model, tmp_path):
    """Exact frames from Results built from known boxes, fed to the predictor Ultralytics made for this model."""
    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)  # builds model.predictor
    predictor = model.predictor
    hook = DetectionAlert(classes=["person"], zone=[[0, 0], [0.5, 0], [0.5, 1], [0, 1]], trigger="enter",
                          min_duration="2 frames", cooldown="100 frames", folder=str(tmp_path), strict=True)
    yolo_hooks.attach(model, hook)
    hook.on_predict_start(predictor)
    # track 1 walks from the right half into the left half; track 2 starts inside (never "entered"); a dog enters
    script = [
        [(400, 100, 440, 300, 1, 0.9, 0), (100, 100, 140, 300, 2, 0.9, 0)],
        [(300, 100, 340, 300, 1, 0.9, 0), (100, 100, 140, 300, 2, 0.9, 0), (500, 10, 540, 50, 3, 0.9, 16)],
        [(280, 100, 320, 300, 1, 0.9, 0), (100, 100, 140, 300, 2, 0.9, 0), (100, 10, 140, 50, 3, 0.9, 16)],
        [(260, 100, 300, 300, 1, 0.9, 0), (100, 100, 140, 300, 2, 0.9, 0)],
    ]
    for rows in script:
        predictor.results = [known(*rows)]
        hook.on_predict_batch_end(predictor)
    hook.close()
    got = records(tmp_path)
    # track 1's anchor (bottom-centre) crosses x=320 at frame 2 and has been inside 2 frames at frame 3
    assert [(r["frame_index"], r["subject"], r["track_ids"]) for r in got] == [(3, "track:1", [1])]
    image = cv2.imread(got[0]["image"])
    assert image.shape == (480, 640, 3)
    b, g, r = (int(v) for v in image[200, 260])  # the firing box is outlined in red (JPEG: nearly)
    assert r > 200 and b < 60 and g < 60


def test_oriented_boxes_and_classification_top1_become_detections(model):
    """obb Results give their axis-aligned bounds; a classify Results gives its top-1 class and confidence."""
    from ultralytics.engine.results import Results

    from yolo_hooks.detection.frames import class_ids, frame_of
    from yolo_hooks.detection.images import annotate
    from yolo_hooks.detection.rules import Alert

    names = coco8_names()
    wanted = class_ids(("person", "car"), names)
    image = np.zeros((200, 300, 3), np.uint8)
    obb = Results(image, "cam", coco8_names(), obb=torch.tensor([[150, 100, 40, 20, 0.0, 0.9, 0],
                                                                 [50, 50, 10, 10, 0.0, 0.2, 0]]))
    [det] = frame_of(obb, 0, 0.0, 0.3, wanted, names).detections
    assert det.cls == "person" and det.box == pytest.approx((130, 90, 170, 110))
    assert annotate(obb, Alert("r", "warning", 0, 0.0, "class:person", None, (det,), {"person": 1}, 0, "").detections,
                    ()).shape == (200, 300, 3)

    probs = torch.zeros(80)
    probs[2] = 0.8
    classify = Results(image, "cam", coco8_names(), probs=probs)
    assert [(d.cls, round(d.conf, 2), d.box) for d in frame_of(classify, 0, 0.0, 0.3, wanted, names).detections] == [("car", 0.8, None)]


def test_model_called_frame_by_frame_keeps_durations_and_after_frames_across_calls(model, coco8_video, tmp_path):
    """`model(frame)` in a loop: every call is a predict run of one frame; the rule state carries over."""
    hook = DetectionAlert(min_conf=0.0, min_duration="3 frames", cooldown=3600, count="total", after=1,
                          folder=str(tmp_path), strict=True)
    yolo_hooks.attach(model, hook)
    capture = cv2.VideoCapture(str(coco8_video))
    for _ in range(5):
        ok, frame = capture.read()
        model(frame, **PREDICT)
    capture.release()
    assert hook.close(30)
    [record] = records(tmp_path)
    assert record["frame_index"] == 2 and record["mode"] == "image"
    assert cv2.imread(record["sheet"]).shape[1] == 2 * SIZE[0]  # the alert frame and the one after, side by side


def test_the_predict_thread_never_waits_for_image_files(model, coco8_video, tmp_path, monkeypatch):
    import threading

    from yolo_hooks.detection import writing

    release = threading.Event()
    write = writing.write_capture

    def slow_disk(ref, capture):  # a disk that does not answer until the test says so
        release.wait(60)
        write(ref, capture)

    monkeypatch.setattr(writing, "write_capture", slow_disk)
    hook = DetectionAlert(min_conf=0.0, cooldown=3600, strict=True)
    yolo_hooks.attach(model, hook)
    frames = sum(1 for _ in model.predict(str(coco8_video), stream=True, project=str(tmp_path), name="p", **PREDICT))
    assert frames == 24 and hook._handover.worker.pending() >= 1  # predict returned, the images still being written
    release.set()
    assert hook.close(30)
    assert len(records(tmp_path / "p" / "alerts")) == hook.fired >= 1


def test_frames_with_nothing_at_min_conf_end_a_stay_and_serve_as_after_frames(model, tmp_path):
    """Frames with nothing at `min_conf` right after a detection, or while an alert collects its after-frames, are
    not skipped: they end a stay under way, keep their place in the frame indices and fill the after-frames."""
    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)
    predictor = model.predictor
    hook = DetectionAlert(classes=["person"], min_conf=0.5, min_duration="2 frames", cooldown=3600, before=1,
                          after=2, clip=True, folder=str(tmp_path), strict=True)
    yolo_hooks.attach(model, hook)
    hook.on_predict_start(predictor)
    person, faint = (100, 100, 140, 300, 0.9, 0), (100, 100, 140, 300, 0.1, 0)  # untracked boxes
    for rows in [[person], [faint], [person], [faint], [person], [person], [faint], [faint]]:
        predictor.results = [known(*rows)]
        hook.on_predict_batch_end(predictor)
    hook.close(30)
    [record] = records(tmp_path)
    assert record["frame_index"] == 5  # the faint frames 1 and 3 ended the stays begun at frames 0 and 2
    clip = cv2.VideoCapture(record["clip"])
    assert int(clip.get(cv2.CAP_PROP_FRAME_COUNT)) == 4  # frame 4 before, the alert, the faint frames 6 and 7 after
    clip.release()


def test_a_tracked_object_the_tracker_misses_for_a_frame_keeps_its_stay(model, tmp_path):
    """With track ids, a frame where the object is not seen at `min_conf` is no break: its stay goes on."""
    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)
    predictor = model.predictor
    hook = DetectionAlert(classes=["person"], min_conf=0.5, min_duration="3 frames", cooldown=3600,
                          folder=str(tmp_path), strict=True)
    yolo_hooks.attach(model, hook)
    hook.on_predict_start(predictor)
    person, faint = (100, 100, 140, 300, 1, 0.9, 0), (100, 100, 140, 300, 1, 0.1, 0)
    for rows in [[person], [faint], [person], [person]]:
        predictor.results = [known(*rows)]
        hook.on_predict_batch_end(predictor)
    hook.close(30)
    assert [(r["frame_index"], r["subject"]) for r in records(tmp_path)] == [(2, "track:1")]


def test_quiet_frames_of_an_idle_rule_are_counted_and_kept_as_before_frames(model, tmp_path):
    """Nothing at `min_conf` and nothing under way: the frame takes the short path, yet it keeps its place in the
    frame indices and in the ring of before-frames."""
    from ultralytics.engine.results import Results

    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)
    predictor = model.predictor
    hook = DetectionAlert(classes=["person"], min_conf=0.5, before=3, clip=True, folder=str(tmp_path), strict=True)
    yolo_hooks.attach(model, hook)
    hook.on_predict_start(predictor)
    faint, person = (100, 100, 140, 300, 1, 0.1, 0), (100, 100, 140, 300, 1, 0.9, 0)
    for shade, row in [(40, faint), (80, faint), (120, faint), (200, person)]:
        image = np.full((480, 640, 3), shade, np.uint8)  # each frame its own shade: the clip shows which came before
        predictor.results = [Results(image, path="camera", names=coco8_names(), boxes=torch.tensor([row]))]
        hook.on_predict_batch_end(predictor)
    hook.close(30)
    [record] = records(tmp_path)
    assert record["frame_index"] == 3
    clip = cv2.VideoCapture(record["clip"])
    shades = []
    while (frame := clip.read()[1]) is not None:
        shades.append(float(np.median(frame)))
    clip.release()
    assert len(shades) == 4 and shades[:3] == pytest.approx([40, 80, 120], abs=8)


def test_an_alert_image_has_one_label_per_object_ultralytics_own():
    """The red outline marks the objects an alert is about; Ultralytics' label (``id:3 person 0.90``) stays the only
    label: nothing is drawn beyond the outline's band (before, a second red label sat on top of Ultralytics')."""
    from yolo_hooks.detection.images import annotate
    from yolo_hooks.detection.rules import Detection

    result = known((200, 150, 300, 400, 3, 0.9, 0))
    plain = result.plot(conf=True)
    marked = annotate(result, (Detection("person", 0.9, (200, 150, 300, 400), 3),), ())
    changed = np.argwhere(np.any(marked != plain, axis=2))
    assert len(changed)
    band = max(2, round((480 + 640) / 400))
    near_edge = (np.minimum(abs(changed[:, 1] - 200), abs(changed[:, 1] - 300)) <= band) | \
        (np.minimum(abs(changed[:, 0] - 150), abs(changed[:, 0] - 400)) <= band)
    assert near_edge.all(), "something besides the outline was drawn (a second label?)"


def test_a_second_predict_call_on_the_same_video_starts_afresh(model, coco8_video, tmp_path):
    """The video's time starts at 0 again, so its durations and cooldowns must too (before: the second call on the
    same file raised no alert at all, a copy of the file raised them all)."""
    hook = DetectionAlert(min_conf=0.0, min_duration="3 frames", cooldown=3600, count="total", strict=True)
    yolo_hooks.attach(model, hook)
    got = []
    for name in ("first", "second"):
        for _ in model.predict(str(coco8_video), stream=True, project=str(tmp_path), name=name, **PREDICT):
            pass
        assert hook.close(30)
        got.append([(r["frame_index"], r["subject"]) for r in records(tmp_path / name / "alerts")])
    assert got[0] == got[1] == [(2, "total")]
