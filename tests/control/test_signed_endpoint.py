"""The signed control endpoint of a real training, against every bad request: each rejected with its status,
logged once, nothing applied; the good one applied once."""

from __future__ import annotations

import socket
import threading

import pytest

from tests.conftest import train
from tests.control.support import SECRET, answers, request, signed
from yolo_hooks.control.hook import RunControl
from yolo_hooks.control.signed import verify
from yolo_hooks.core.errors import ConfigError
from yolo_hooks.notify.formats.json_ import sign

pytestmark = pytest.mark.training


def raw(port: int, data: bytes) -> bytes:
    """A request written by hand (no Content-Length)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(data)
        return s.recv(4096)


def test_every_bad_request_is_rejected_and_the_good_one_applied_once(tmp_path, log_lines):
    control = RunControl(listen="127.0.0.1:0", secret=SECRET)
    seen: dict = {}

    def attack(trainer):  # from another process's point of view: a client on loopback, during epoch 1
        if trainer.epoch != 0:
            return

        def go():
            port = int(control.address.rsplit(":", 1)[1])
            good = signed({"command": "extend", "epochs": 1}, "msg-good")
            seen["good"] = request(port, *good)
            seen["replayed"] = request(port, *signed({"command": "extend", "epochs": 1}, "msg-good"))
            seen["wrong signature"] = request(port, *signed({"command": "stop"}, "msg-1", secret="whsec_" + "A" * 32))
            seen["wrong signature again"] = request(port, *signed({"command": "stop"}, "msg-2", secret="x" * 30))
            seen["stale"] = request(port, *signed({"command": "stop"}, "msg-3", timestamp=__import__("time").time() - 301))
            seen["unknown command"] = request(port, *signed({"command": "shutdown"}, "msg-4"))
            seen["bad value"] = request(port, *signed({"command": "extend", "epochs": -3}, "msg-5"))
            seen["not json"] = request(port, *signed(b"stop please", "msg-6"))
            body, headers = signed({"command": "stop", "reason": "x" * 20000}, "msg-7")
            seen["oversized"] = request(port, body, headers)
            seen["unsigned"] = request(port, b'{"command": "stop"}', {"Content-Type": "application/json"})
            seen["get"] = request(port, b"", {}, method="GET")
            seen["no length"] = raw(port, b"POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            seen["status"] = request(port, *signed({"command": "status"}, "msg-8"))

        thread = threading.Thread(target=go)
        thread.start()
        seen["thread"] = thread

    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    import yolo_hooks

    yolo_hooks.attach(model, control)
    model.add_callback("on_train_epoch_start", attack)
    train(tmp_path, model=model, epochs=2, imgsz=64)
    seen["thread"].join(60)
    statuses = {k: v[0] for k, v in seen.items() if k not in ("thread", "no length")}
    assert statuses == {"good": 200, "replayed": 409, "wrong signature": 401, "wrong signature again": 401,
                        "stale": 401, "unknown command": 422, "bad value": 422, "not json": 400, "oversized": 413,
                        "unsigned": 400, "get": 405, "status": 200}
    assert seen["no length"].startswith(b"HTTP/1.0 411") or seen["no length"].startswith(b"HTTP/1.1 411")
    assert seen["good"][1]["result"] == "done" and "epochs 2 -> 3" in seen["good"][1]["text"]
    assert "run: running" in seen["status"][1]["text"]
    run_dir = tmp_path / "run"
    assert [(c, r) for c, r, _ in answers(run_dir)] == [("extend", "done"), ("status", "done")]  # nothing else
    assert len((run_dir / "results.csv").read_text().splitlines()) == 1 + 3  # extended once: 3 epochs, not 4
    # one line per kind (the console joins a hook's background lines of one epoch): the second wrong signature and
    # the GET are only counted
    logged = " ".join(log_lines)
    assert logged.count("rejected a control request from 127.0.0.1") == 9 == logged.count("nothing applied")
    assert logged.count("wrong signature") == 1 and control.address is None  # closed at the end of the run
    assert SECRET[6:] not in logged


@pytest.mark.parametrize("options, error", [
    (dict(listen="0.0.0.0:8765", secret=SECRET), "is not a loopback address: commands would be taken from the network"),
    (dict(listen="127.0.0.1:8765"), "`listen` needs `secret`"),
    (dict(secret=SECRET), "`secret` signs requests to `listen`"),
    (dict(listen="127.0.0.1:8765", secret="short"), "`secret` must be a Standard Webhooks secret"),
    (dict(listen="127.0.0.1:8765", secret="whsec_not base64!"), "`secret` must be a Standard Webhooks secret"),
    (dict(listen="127.0.0.1:99999", secret=SECRET), "a port from 0"),
    (dict(listen="localhost", secret=SECRET), "HOST:PORT"),
])
def test_a_bad_endpoint_is_a_config_error(options, error):
    with pytest.raises(ConfigError, match=error):
        RunControl(**options)
    assert "MfKQ9r8" not in str(pytest.raises(ConfigError, RunControl, **options).value)


def test_a_remote_address_is_allowed_only_when_said_so():
    assert RunControl(listen="0.0.0.0:8765", secret=SECRET, allow_remote=True).endpoint.host == "0.0.0.0"
    assert RunControl(listen=8765, secret=SECRET).endpoint.address == "127.0.0.1:8765"


def test_verification_accepts_a_rotated_secret_list_and_nothing_else():
    body = b'{"command": "save"}'
    good = sign(SECRET, "m", 1000, body)
    headers = {"webhook-id": "m", "webhook-timestamp": "1000", "webhook-signature": f"v1,AAAA {good}"}
    assert verify(headers, body, SECRET, 1000, set()) is None
    assert verify(headers, body + b" ", SECRET, 1000, set()).status == 401
    assert verify({**headers, "webhook-timestamp": "soon"}, body, SECRET, 1000, set()).status == 400
    assert verify(headers, body, SECRET, 1000, {"m"}).status == 409
