"""A detection alert reaches a real loopback Telegram endpoint as a photo; `yolo-hooks track` runs the hook."""

from __future__ import annotations

import json

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
