"""The loopback receiver used by the demo, the drill and the benchmarks plays every kind of endpoint."""

from __future__ import annotations

import pytest
import requests

from yolo_hooks.notify.receiver import WebhookReceiver


def test_receiver_records_answers_by_mode_and_goes_down_and_up():
    with WebhookReceiver() as receiver:
        assert requests.post(receiver.url, json={"id": "a"}, timeout=5).status_code == 200
        assert requests.post(receiver.url, json={"id": "a"}, timeout=5).status_code == 200  # a duplicate
        receiver.set_mode("429", retry_after=2)
        reply = requests.post(receiver.url, json={"id": "b"}, timeout=5)
        assert (reply.status_code, reply.headers["Retry-After"]) == (429, "2")
        receiver.set_mode("slow", delay=0.3)
        assert requests.post(receiver.url, json={"id": "c"}, timeout=5).elapsed.total_seconds() >= 0.3
        receiver.stop()
        with pytest.raises(requests.ConnectionError):
            requests.post(receiver.url, json={"id": "d"}, timeout=5)
        receiver.set_mode("ok")
        receiver.start()
        assert requests.post(receiver.url, json={"id": "d"}, timeout=5).status_code == 200
        assert receiver.unique_ids() == {"a", "c", "d"}
        assert len(receiver.delivered()) == 4
