"""A run's end: one deadline for all hooks together, nothing waited for twice, no thread left; predict never waits."""

from __future__ import annotations

import time

import pytest

import yolo_hooks
from tests.conftest import COCO8_VAL_IMAGES, train
from tests.helpers import Listener, live_threads
from tests.servers import Endpoint
from yolo_hooks.fitness.modes import ModeReports
from yolo_hooks.fitness.report import FitnessReport
from yolo_hooks.mirror.hook import BestMirror
from yolo_hooks.notify import Notify, delivery
from yolo_hooks.notify.outbox import OUTBOX_NAME, read

pytestmark = pytest.mark.training


def test_no_yolo_hooks_thread_is_left_after_each_of_three_trainings_in_one_process(tmp_path, endpoint):
    before = set(live_threads())  # an earlier test's predict worker may still be idling out its 30 s in this process
    for i in range(3):
        hooks = [Notify(format="json", url=endpoint.url, events="all", strict=True),
                 BestMirror(to=str(tmp_path / f"mirror{i}"), keep=1, strict=True), FitnessReport(strict=True)]
        train(tmp_path / f"t{i}", *hooks, epochs=1, imgsz=64)
        assert [t.name for t in live_threads() if t not in before] == [], f"after training {i + 1}"
    assert {m["event"] for m in endpoint.received()} >= {"train_start", "train_end", "mirror_done"}
    assert (tmp_path / "mirror2" / "best.pt").exists()


def test_the_run_threads_start_before_the_first_epoch_and_last_until_the_end(tmp_path, endpoint):
    """The state writer and a destination's worker start at train start and are held for the run: an epoch longer
    than their idle linger (30 s) would otherwise end them, and the next epoch's callbacks would start them again
    on the training thread."""
    before = set(live_threads())
    seen: list[dict[str, int]] = []

    def threads_at_epoch_start(trainer):
        seen.append({t.name: t.ident for t in live_threads() if t not in before})

    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    notify = Notify(format="json", url=endpoint.url, name="hook", events="epoch", strict=True)  # nothing at train start
    yolo_hooks.attach(model, notify, FitnessReport(strict=True))
    model.add_callback("on_train_epoch_start", threads_at_epoch_start)
    train(tmp_path, model=model, epochs=2, imgsz=64)
    assert set(seen[0]) == {"yolo_hooks-state", "yolo_hooks-notify-hook"}  # before the first epoch's callbacks
    assert seen[1] == seen[0]  # the same threads, not new ones
    assert [t.name for t in live_threads() if t not in before] == []  # and none after the run


def test_the_end_of_a_run_waits_once_for_all_destinations_together(tmp_path):
    never = Endpoint().start()  # takes every request and never answers
    never.mode = "never"
    try:
        hooks = [Notify(format="json", url=never.url, timeout=30, name=f"dest{i}", strict=True) for i in range(3)]
        ended = {}

        def mark_end(trainer):
            ended["at"] = time.monotonic()

        from ultralytics import YOLO

        model = YOLO("yolo11n.yaml")
        model.add_callback("on_train_end", mark_end)  # just before every teardown
        yolo_hooks.attach(model, *hooks, end_timeout=2)
        train(tmp_path, model=model, epochs=1, imgsz=64)
        waited = time.monotonic() - ended["at"]
        assert waited < 2 + 2.5, waited  # three destinations, flush_timeout=10 each: 30 s one after another before
        for hook in hooks:  # everything is in the outbox: the interpreter's exit has nothing left to wait for
            records, _ = read(model.trainer.save_dir / OUTBOX_NAME)
            mine = [r["message"]["event"] for r in records if r["destination"]["name"] == hook.name]
            assert sorted(mine) == ["train_end", "train_start"]
            assert hook.delivery not in delivery._LIVE
    finally:
        never.stop()


def test_predict_never_waits_for_the_network_and_a_stream_gets_one_summary_line(trained_weights, tmp_path):
    from ultralytics import YOLO

    never = Endpoint().start()
    never.mode = "never"
    try:
        model = YOLO(trained_weights)
        report, listener = ModeReports(summary_every=3600, strict=True), Listener()
        quiet = Notify(format="json", url=never.url, flush_timeout=3, name="quiet", strict=True)  # default events
        asked = Notify(format="json", url=never.url, flush_timeout=3, events=["predict_report"], name="asked",
                       strict=True)
        yolo_hooks.attach(model, report, listener, quiet, asked)
        image = str(next(COCO8_VAL_IMAGES.iterdir()))
        times = []
        for _ in range(5):  # a video loop: one call per frame
            start = time.perf_counter()
            model.predict(image, imgsz=64, verbose=False, project=str(tmp_path), name="p", exist_ok=True)
            times.append(time.perf_counter() - start)
        assert max(times) < 3, times  # each call flushed up to flush_timeout=3 s before
        assert listener.kinds() == ["predict_report"]  # one line for the stream's first call, not one per frame
        assert quiet._delivery is None  # reports reach a destination only when it names them
        assert asked.delivery.pending() + asked.delivery.outboxed == 1
        report.reports._tallies.clear()
        report.reports.summary_every = 0  # the next call is due: its line covers every call since the last one
        model.predict(image, imgsz=64, verbose=False, project=str(tmp_path), name="p", exist_ok=True)
        assert listener.published[-1].data["calls"] == 1
    finally:
        never.stop()


def test_no_file_is_fsynced_on_the_training_thread(tmp_path, monkeypatch):
    import os
    import threading

    from yolo_hooks.plateau.early_stop import EarlyStopping

    on_training_thread = []
    real_fsync = os.fsync

    def fsync(fd):
        if threading.current_thread() is threading.main_thread():
            on_training_thread.append(fd)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    stopper = EarlyStopping(patience=1, strict=True)
    model = train(tmp_path, stopper, epochs=3, imgsz=64)  # the 0.0 plateau of a random-init model stops it
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert stopper.stopped_epoch == 2
    assert (model.trainer.save_dir / "early_stop.json").exists()
    assert on_training_thread == []  # early_stop.json was fsynced on the training thread before


def test_no_message_is_built_or_journaled_on_the_training_thread(tmp_path, endpoint, monkeypatch):
    """From a training's start to its end-of-run flush, the bus' writer builds, journals and queues every message
    (the start, an epoch's, another hook's alert, the mirror's copies, the end), in the order they happened; the
    training thread and the mirror's threads only say what happened."""
    import threading

    from yolo_hooks.val_loss.hook import ValLossAlert

    queued: list[tuple[str, str]] = []
    real_submit = delivery.Delivery.submit

    def submit(self, message):
        queued.append((message.event, threading.current_thread().name))
        return real_submit(self, message)

    monkeypatch.setattr(delivery.Delivery, "submit", submit)
    notify = Notify(format="json", url=endpoint.url, events="all", progress_every=1, strict=True)
    alert = ValLossAlert(above=0.001, warmup=0, strict=True)  # a random-init model's val loss is far above it
    mirror = BestMirror(to=str(tmp_path / "mirror"), strict=True)
    train(tmp_path, notify, alert, mirror, epochs=2, imgsz=64)
    monkeypatch.setattr(delivery.Delivery, "submit", real_submit)

    events = [event for event, _ in queued]
    assert {"train_start", "epoch", "alert", "mirror_done", "train_end"} <= set(events)
    assert {thread for _, thread in queued} == {"yolo_hooks-state"}
    assert [m["event"] for m in endpoint.received()] == events  # every one delivered, in the order it happened


def test_no_state_json_is_made_on_the_training_thread(tmp_path, monkeypatch):
    """Every hook's state is taken in its callback and turned into JSON by the bus' writer."""
    import json
    import threading
    import types

    from yolo_hooks.core import hook as core_hook
    from yolo_hooks.plateau.early_stop import EarlyStopping
    from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau
    from yolo_hooks.val_loss.hook import ValLossAlert

    made_on: list[str] = []

    def dumps(obj, **kwargs):
        made_on.append(threading.current_thread().name)
        return json.dumps(obj, **kwargs)

    monkeypatch.setattr(core_hook, "json", types.SimpleNamespace(dumps=dumps))
    hooks = [ValLossAlert(strict=True), EarlyStopping(patience=100, strict=True),
             ReduceLROnPlateau(patience=100, strict=True)]
    model = train(tmp_path, *hooks, epochs=2, imgsz=64)
    assert len(made_on) >= 6 and set(made_on) == {"yolo_hooks-state"}  # 3 hooks x 2 epochs, at least
    states = sorted((model.trainer.save_dir / "weights").glob("*.state.json"))
    assert [json.loads(p.read_text())["epoch"] for p in states] == [2, 2, 2]


def test_flush_timeout_caps_the_wait_on_a_destination_that_trickles_its_replies(tmp_path):
    trickling = Endpoint().start()  # answers every request one byte a second: each request lasts its whole timeout
    trickling.mode = "trickle_headers"
    try:
        hook = Notify(format="json", url=trickling.url, timeout=30, flush_timeout=1.5, strict=True)
        ended = {}
        from ultralytics import YOLO

        model = YOLO("yolo11n.yaml")
        model.add_callback("on_train_end", lambda trainer: ended.setdefault("at", time.monotonic()))
        yolo_hooks.attach(model, hook, end_timeout=10)
        train(tmp_path, model=model, epochs=1, imgsz=64)
        waited = time.monotonic() - ended["at"]
        assert waited < 1.5 + 1.5, waited  # the documented figure, not the rest of the run's 10 s deadline
        records, _ = read(model.trainer.save_dir / OUTBOX_NAME)
        assert sorted(r["message"]["event"] for r in records) == ["train_end", "train_start"]
    finally:
        trickling.stop()
