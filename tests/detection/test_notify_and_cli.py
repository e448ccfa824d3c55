"""A detection alert reaches a real loopback Telegram endpoint as a photo; `yolo-hooks track` runs the hook."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

import yolo_hooks
from yolo_hooks import cli
from yolo_hooks.detection.hook import DetectionAlert
from yolo_hooks.notify import Notify

from ..notify.test_images import parts
from ..servers import Endpoint
from .conftest import PREDICT, SIZE


def test_alert_photo_reaches_telegram_from_a_real_predict_run(model, coco8_video, tmp_path):
    endpoint = Endpoint().start()
    try:
        alert = DetectionAlert(name="anything", min_conf=0.0, cooldown=3600, severity="critical", strict=True)
        notify = Notify(format="telegram", bot_token="123:SECRET", chat_id="7", events=["detection"],
                        api_url=f"http://127.0.0.1:{endpoint.port}")
        yolo_hooks.attach(model, notify, alert)  # notify first: its end-of-run flush runs before the image is done
        for _ in model.predict(str(coco8_video), stream=True, project=str(tmp_path), name="p", **PREDICT):
            pass
        assert alert.close(30)  # the image is written and published on the hook's worker, never on the frame loop
        notify.flush(10)
        photos = [r for r in endpoint.requests if r["path"].endswith("/sendPhoto")]
        assert len(photos) == 1
        form = parts(photos[0]["body"], photos[0]["headers"]["Content-Type"])
        image = cv2.imdecode(np.frombuffer(form["photo"][1], np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (SIZE[1], SIZE[0], 3)
        assert "anything" in form["caption"][1].decode() and form["chat_id"][1] == b"7"
    finally:
        endpoint.stop()


def test_yolo_hooks_track_command_runs_detection_alert(coco8_video, tracker_yaml, tmp_path):
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text("detection_alert:\n  - {name: any_object, min_conf: 0.0, cooldown: 3600}\n"
                     "  - {name: crowd, min_count: 5, count: total, min_conf: 0.0, min_duration: 5 frames}\n")
    args = [f"{k}={v}" for k, v in PREDICT.items()] + [f"tracker={tracker_yaml}", f"project={tmp_path}", "name=t"]
    assert cli.main(["track", "model=yolo11n.yaml", f"source={coco8_video}", f"hooks={hooks}", *args]) == 0
    lines = [json.loads(x) for x in (tmp_path / "t" / "alerts" / "alerts.jsonl").read_text().splitlines()]
    assert {r["rule"] for r in lines} == {"any_object", "crowd"}
    assert [r["frame_index"] for r in lines if r["rule"] == "crowd" and r["kind"] == "detection"][0] == 4


def test_mirrored_image_links_reach_services_that_cannot_upload(model, tmp_path):
    from yolo_hooks.notify.compose import detection_message
    from yolo_hooks.notify.images import build_request

    from ..helpers import Listener
    from .test_real_predict import known

    model.predict(np.zeros((64, 64, 3), np.uint8), imgsz=64, verbose=False)  # builds model.predictor
    hook = DetectionAlert(classes=["person"], folder=str(tmp_path / "alerts"), mirror=str(tmp_path / "mirror"),
                          mirror_url="https://cams.example.com/alerts", strict=True)
    listener = Listener()
    yolo_hooks.attach(model, hook, listener)
    hook.on_predict_start(model.predictor)
    model.predictor.results = [known((10, 10, 50, 90, 1, 0.9, 0))]
    hook.on_predict_batch_end(model.predictor)
    hook.close(10)

    [record] = hook.records
    name = record["image"].rsplit("/", 1)[1]
    assert (tmp_path / "mirror" / name).read_bytes() == (tmp_path / "alerts" / name).read_bytes()
    assert record["image_url"] == f"https://cams.example.com/alerts/{name}"
    [event] = [e for e in listener.published if e.kind == "detection"]
    slack = build_request("slack", detection_message(event, {}), {"url": "https://hooks.slack.com/x"}).body.decode()
    assert f"https://cams.example.com/alerts/{name}" in slack


def test_a_detection_message_names_the_predict_call_it_came_from_though_sent_during_the_next(model, coco8_video,
                                                                                             tmp_path):
    import shutil

    endpoint = Endpoint().start()
    try:
        clips = {name: shutil.copy(coco8_video, tmp_path / f"{name}.mp4") for name in ("first", "second")}
        alert = DetectionAlert(name="anything", min_conf=0.0, cooldown=0, strict=True)
        notify = Notify(format="json", url=endpoint.url, events=["detection"], strict=True)
        yolo_hooks.attach(model, notify, alert)
        for name, clip in clips.items():  # the second call starts while the first one's images are being written
            for _ in model.predict(str(clip), stream=True, project=str(tmp_path), name=name, **PREDICT):
                pass
        assert alert.close(60)
        notify.flush(20)
        messages = [m for m in endpoint.received() if m["event"] == "detection"]
        assert len(messages) >= 4
        named = [(Path(m["data"]["source"]).stem, m["run"]["name"]) for m in messages]
        assert all(clip == run for clip, run in named), named
    finally:
        endpoint.stop()


def test_an_events_end_is_a_message_under_the_same_event_id_for_a_destination_that_asks_for_it():
    from yolo_hooks.core.bus import Published
    from yolo_hooks.notify.compose import DEFAULT_EVENTS, detection_message

    start = Published("detection", "gate", "warning", "person (track 7) entered the zone",
                      {"rule": "gate", "camera": "yard", "event_id": "20261201-202628-a3f9c1", "update": 1,
                       "frame_index": 34, "video_time": 3.4, "image": "/a/x.jpg"})  # fmt: skip
    end = Published("detection_end", "gate", "warning", "person (track 7) (zone 1): event over after 12.5 s, ...",
                    {"rule": "gate", "camera": "yard", "event_id": "20261201-202628-a3f9c1", "duration": 12.5,
                     "frames": 120, "start_frame": 34, "end_frame": 159, "best_conf": 0.93, "best_frame": 80,
                     "image": "/a/x_best.jpg"})  # fmt: skip
    first, last = detection_message(start, {}), detection_message(end, {})
    assert first.fields["Event"] == last.fields["Event"] == "20261201-202628-a3f9c1"
    assert first.fields["Camera"] == last.fields["Camera"] == "yard" and "yard" in first.title
    assert first.fields["Video time"] == "3.4 s (frame 34)"  # the record's frame number, the file's
    assert last.event == "detection_end" and "(over)" in last.title
    assert last.fields["Frames"] == "34-159 (120 seen)" and last.fields["Best confidence"] == "0.93 (frame 80)"
    assert last.data["image"] == "/a/x_best.jpg"  # the best frame goes with the message
    assert "detection" in DEFAULT_EVENTS and "detection_end" not in DEFAULT_EVENTS
    assert Notify(format="json", url="http://127.0.0.1:9/x", events=["detection", "detection_end"])
