"""Notify in real coco8 trainings against real loopback endpoints: down, slow, rate-limiting, and a crash."""

from __future__ import annotations

import time

import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.conftest import train
from tests.helpers import time_callbacks
from tests.servers import Endpoint, free_port
from yolo_hooks import Hook, cli
from yolo_hooks.notify import Notify
from yolo_hooks.notify.outbox import OUTBOX_NAME, read

pytestmark = pytest.mark.training

SUMMARY = {"best_fitness": 0.0, "epochs": 2}


class Publisher(Hook):
    """Publishes ``per_epoch`` alerts per epoch and a fitness summary at the end, as the other hooks do."""

    def __init__(self, per_epoch: int = 1):
        super().__init__(name="val_loss_alert", strict=True)
        self.per_epoch = per_epoch

    def on_fit_epoch_end(self, trainer):
        snap = self.snapshot(trainer)
        if not snap.is_final_eval:
            for i in range(self.per_epoch):
                self.publish("alert", f"val/loss above 10 at epoch {snap.epoch} ({i})", "warning", rule=f"above_{i}",
                             loss="val/loss", value=12.5, threshold=10, epoch=snap.epoch)  # 4 rules: 4 alerts

    def on_train_end(self, trainer):
        self.publish("fitness_summary", "summary", **SUMMARY)


def outbox_records(save_dir, name=None):
    records, bad = read(save_dir / OUTBOX_NAME)
    assert not bad
    return [r for r in records if name is None or r["destination"]["name"] == name]


def test_endpoint_down_for_the_whole_run_keeps_every_message_and_replay_delivers_them(tmp_path, device, monkeypatch):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook/TOKEN-s3cr3t-0123456789"
    hook = Notify(format="json", url=url, progress_every=1, retries=2, backoff=0.05, flush_timeout=1, strict=True)
    model = train(tmp_path, hook, Publisher(per_epoch=1), device=device, epochs=2)
    save_dir = model.trainer.save_dir

    records = outbox_records(save_dir)
    events = [r["message"]["event"] for r in records]
    assert sorted(events) == sorted(["train_start", "epoch", "epoch", "alert", "alert", "train_end"])
    assert len({r["id"] for r in records}) == 6
    end = next(r["message"] for r in records if r["message"]["event"] == "train_end")
    assert end["data"]["summary"] == SUMMARY and end["data"]["status"] == "finished"
    assert end["run"]["name"] == "run" and end["fields"]["Epochs"] == "2/2"
    text = (save_dir / OUTBOX_NAME).read_text()
    assert "TOKEN-s3cr3t" not in text and records[0]["destination"]["target"] == f"http://127.0.0.1:{port}/***"

    # The endpoint comes back; replay reads the URL from hooks.yaml (the outbox has none) and empties the outbox.
    monkeypatch.setenv("NOTIFY_TEST_URL", url)
    config = tmp_path / "hooks.yaml"
    config.write_text("notify:\n  - {format: json, url: '${NOTIFY_TEST_URL}'}\n")
    endpoint = Endpoint(port).start()
    try:
        assert cli.main(["outbox", "replay", f"hooks={config}", f"dir={save_dir}"]) == 0
    finally:
        endpoint.stop()
    assert sorted(endpoint.ids()) == sorted(r["id"] for r in records)
    assert not (save_dir / OUTBOX_NAME).exists()


def test_slow_and_rate_limiting_endpoints_never_stall_training_or_lose_a_message(tmp_path, device):
    slow = Endpoint().start()
    slow.mode, slow.delay = "slow", 5
    bursty = Endpoint().start()
    bursty.retry_after = 0.2
    bursty.cycle("429", "ok", "drop", "429", "429", "ok", "500")  # 429 bursts, and replies lost after delivery
    n_slow = Notify(format="json", url=slow.url, name="slow", progress_every=1, flush_timeout=1, strict=True)
    n_burst = Notify(format="json", url=bursty.url, name="bursty", progress_every=1, retries=8, backoff=0.05,
                     max_backoff=0.2, flush_timeout=60, strict=True)
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, n_slow, n_burst, Publisher(per_epoch=4))
    spent = time_callbacks(model, n_slow)
    try:
        train(tmp_path, model=model, device=device, epochs=2)
    finally:
        slow.stop()
        bursty.stop()
    save_dir = model.trainer.save_dir
    expected = 1 + 2 + 8 + 1  # train_start, 2 epochs, 8 alerts, train_end

    # slow: the training thread never waited on it; what had not arrived after flush_timeout is in the outbox
    teardown = spent.pop("teardown")
    assert max(max(v) for v in spent.values()) < 0.25, {k: max(v) for k, v in spent.items()}  # vs 5 s per request
    assert teardown[0] < 1 + 1.0
    kept = outbox_records(save_dir, "slow")
    arrived = {r["json"]["id"] for r in slow.requests}
    assert "train_end" in {r["message"]["event"] for r in kept}
    assert len(arrived | {r["id"] for r in kept}) == expected

    # rate-limited and flaky: every message arrives, exactly once after dedup by id, nothing left in the outbox
    ids = bursty.ids()
    assert len(set(ids)) == expected == n_burst.delivery.delivered
    assert len(ids) > len(set(ids))  # the "drop" replies caused real duplicates that receivers must drop
    assert outbox_records(save_dir, "bursty") == []
    assert any(r["reply"] == "429" for r in bursty.requests)


class _Fail:
    def __init__(self, error):
        self.error = error

    def __call__(self, trainer):
        raise self.error


@pytest.mark.floor
@pytest.mark.parametrize("error,event,severity", [(RuntimeError("disk on fire"), "crash", "critical"),
                                                  (KeyboardInterrupt("preempted"), "interrupt", "warning")])
def test_crash_and_interrupt_are_sent_once_with_the_exception_and_never_as_train_end(
    tmp_path, device, endpoint, error, event, severity
):
    hook = Notify(format="json", url=endpoint.url, flush_timeout=5, strict=True)
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, hook)
    model.add_callback("on_train_epoch_start", _Fail(error))
    with pytest.raises(type(error)):
        train(tmp_path, model=model, device=device, epochs=1)
    received = endpoint.wait_for(2, timeout=5)
    assert [m["event"] for m in received] == ["train_start", event]
    ending = received[1]
    assert ending["severity"] == severity
    assert f"{type(error).__name__}: {error}" in ending["text"]
    assert ending["data"]["epoch"] == 1
    time.sleep(0.1)
    assert len(endpoint.requests) == 2 and not (model.trainer.save_dir / OUTBOX_NAME).exists()
