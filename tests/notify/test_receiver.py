"""The loopback receiver used by the demo, the drill, the benchmarks and the tests plays every kind of endpoint."""

from __future__ import annotations

import collections

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


@pytest.mark.parametrize("reply, status, headers", [
    ("ok", 200, {}),
    ("400", 400, {}),
    ("410", 410, {}),
    ("429", 429, {"Retry-After": "2"}),
    ("503", 503, {"Retry-After": "2"}),
    ("302", 302, {"Location": "http://127.0.0.1:9/elsewhere"}),
])  # fmt: skip
def test_each_status_reply_is_a_real_http_answer(reply, status, headers):
    with WebhookReceiver() as receiver:
        receiver.set_mode(reply, retry_after=2)
        answer = requests.post(receiver.url, json={"id": "a"}, timeout=5, allow_redirects=False)
        assert answer.status_code == status and headers.items() <= answer.headers.items()
        assert answer.json() == ({"ok": True} if status == 200 else {"ok": False, "error": answer.reason})
        (record,) = receiver.requests
        assert (record["reply"], record["status"], record["json"]) == (reply, status, {"id": "a"}) and record["answered"]
        assert receiver.delivered() == ([{"id": "a"}] if status == 200 else [])


@pytest.mark.parametrize("reply, error, taken", [
    ("close", requests.ConnectionError, False),
    ("drop", requests.ConnectionError, True),
    ("reset", requests.ConnectionError, False),
    ("never", requests.ReadTimeout, False),
])  # fmt: skip
def test_hang_ups_send_no_answer(reply, error, taken):
    with WebhookReceiver() as receiver:
        receiver.set_mode(reply)
        with pytest.raises(error):
            requests.post(receiver.url, json={"id": "a"}, timeout=0.5)
        assert [(r["reply"], r["status"], r["answered"]) for r in receiver.requests] == [(reply, None, False)]
        assert receiver.delivered() == [] and receiver.received() == ([{"id": "a"}] if taken else [])
        receiver.heal()  # releases a request held by `never`; the next one is answered
        assert requests.post(receiver.url, json={"id": "b"}, timeout=5).status_code == 200


def test_hangup_answers_then_closes_the_kept_alive_connection_without_saying_so():
    with WebhookReceiver() as receiver, requests.Session() as session:
        receiver.script("ok", "ok", "hangup", "ok")
        answers = [session.post(receiver.url, json={"n": n}, timeout=5) for n in range(4)]
        assert [a.status_code for a in answers] == [200] * 4 and "Connection" not in answers[2].headers
        ports = [r["client_port"] for r in receiver.requests]
        assert ports[0] == ports[1] == ports[2] != ports[3]  # kept alive until the hang-up, then a new connection


def test_a_reset_is_a_reset_not_a_clean_close():
    with WebhookReceiver() as receiver:
        receiver.set_mode("reset")
        with pytest.raises(requests.ConnectionError, match="reset"):
            requests.post(receiver.url, json={}, timeout=5)


def test_huge_counts_only_what_the_client_read():
    with WebhookReceiver() as receiver:
        receiver.set_mode("huge")
        receiver.huge_bytes = 4 * 65536
        with requests.post(receiver.url, json={"id": "a"}, timeout=5, stream=True) as answer:
            assert answer.status_code == 200 and int(answer.headers["Content-Length"]) == receiver.huge_bytes
            assert len(answer.raw.read(receiver.huge_bytes)) == receiver.huge_bytes
        assert receiver.bytes_sent == receiver.huge_bytes and receiver.received() == [{"id": "a"}]


def test_script_then_cycle_then_mode_and_a_function_answers_as_a_service_would():
    def service(request):
        return 201, f"got {request['json']['n']} at {request['path']}", {"Content-Type": "text/plain"}

    with WebhookReceiver(path="/hook/abc") as receiver:
        receiver.script("500", service).cycle("429", "ok")
        receiver.mode = "410"
        statuses = [requests.post(receiver.url, json={"n": n}, timeout=5) for n in range(5)]
        assert [s.status_code for s in statuses] == [500, 201, 429, 200, 429]
        assert statuses[1].text == "got 1 at /hook/abc" and statuses[1].headers["Content-Type"] == "text/plain"
        assert [r["reply"] for r in receiver.requests] == ["500", "answer", "429", "ok", "429"]
        receiver.heal()
        assert requests.post(receiver.url_for("/other?x=1"), json={}, timeout=5).status_code == 200
        assert receiver.requests[-1]["path"] == "/other?x=1"


@pytest.mark.parametrize("bad", ["teapot", "99", "600", 200, None])
def test_an_unknown_reply_is_refused_with_the_list_of_known_ones(bad):
    receiver = WebhookReceiver()
    with pytest.raises(ValueError, match="a reply must be one of ok, slow, hangup, huge, close, drop, reset, never"):
        receiver.mode = bad
    with pytest.raises(ValueError, match="an HTTP status such as '503'"):
        receiver.script("ok", bad)
    assert receiver.mode == "ok" and receiver._script == collections.deque()
