"""What the control tests share: a command sent as the CLI sends it, the run's audit, a signed request."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

from yolo_hooks.control.cli import control_command
from yolo_hooks.control.inbox import read_audit
from yolo_hooks.notify.formats.json_ import sign

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def in_background(outcome: dict, name: str, *argv: str) -> None:
    """Run ``yolo-hooks <name> argv`` on a thread of its own (it waits for the run's answer); ``outcome`` gets its exit
    code under ``rc`` and ``done`` is set once it returned."""
    outcome["done"] = threading.Event()

    def run():
        outcome["rc"] = control_command(name, list(argv))
        outcome["done"].set()

    threading.Thread(target=run, daemon=True).start()


def wait_until(condition, timeout: float = 20.0, what: str = "the condition"):
    """``condition()``'s first true value, asked every 50 ms for ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def answers(run_dir: Path) -> list[tuple[str, str, str]]:
    """(command, result, text) of every audit line of the run."""
    return [(r["command"], r["result"], r["text"]) for r in read_audit(run_dir)]


def signed(body: bytes | dict, msg_id: str, secret: str = SECRET, timestamp: float | None = None) -> tuple[bytes, dict]:
    """``body`` and the Standard Webhooks headers that sign it (``timestamp`` defaults to now)."""
    body = json.dumps(body).encode() if isinstance(body, dict) else body
    stamp = int(time.time() if timestamp is None else timestamp)
    return body, {"Content-Type": "application/json", "webhook-id": msg_id, "webhook-timestamp": str(stamp),
                  "webhook-signature": sign(secret, msg_id, stamp, body)}


def request(port: int, body: bytes, headers: dict, method: str = "POST") -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, "/", body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        return reply.status, json.loads(data) if data else {}
    finally:
        conn.close()
