"""apprise as a destination, for real: apprise's own json://, form:// and ntfy:// plugins sending to loopback servers
(the product's receiver), through the same delivery, outbox and replay as our formats; secrets never shown."""

from __future__ import annotations

import base64
import json
import logging
import sys
import threading
import time

import pytest

pytest.importorskip("apprise")

from tests.conftest import train  # noqa: E402
from yolo_hooks import ConfigError, build_hooks, cli, load_config  # noqa: E402
from yolo_hooks.notify import Notify  # noqa: E402
from yolo_hooks.notify.formats import apprise as apprise_format  # noqa: E402
from yolo_hooks.notify.message import Message  # noqa: E402
from yolo_hooks.notify.outbox import read  # noqa: E402
from yolo_hooks.notify.receiver import WebhookReceiver  # noqa: E402

TOKEN_PATH = "/hook/TOKEN-apprise-0123456789"
JPEG = b"\xff\xd8\xff\xe0 a tiny jpeg"


@pytest.fixture
def receiver():
    with WebhookReceiver(path=TOKEN_PATH) as server:
        yield server


def urls_of(server: WebhookReceiver) -> dict[str, str]:
    """One URL per plugin under test, each carrying a secret the way that service's URLs do."""
    host = f"127.0.0.1:{server.port}"
    return {"json": f"json://{host}{TOKEN_PATH}?+X-Api-Key=TOKENHEADER42",
            "form": f"form://{host}{TOKEN_PATH}/form",
            "ntfy": f"ntfy://trainer:TOKENPASSWORD42@{host}/yolo-alerts"}


def notifier(tmp_path, urls, **options) -> Notify:
    return Notify(format="apprise", urls=urls, outbox=str(tmp_path / "notify_outbox.jsonl"), **options)


def alert_with_image(tmp_path) -> Message:
    image = tmp_path / "alert.jpg"
    image.write_bytes(JPEG)
    return Message("detection", "warning", "Person in zone A", "2 persons for 3 s", fields={"Zone": "A"},
                   run={"name": "cam1"}, data={"image": str(image)})


def test_json_form_and_ntfy_get_every_message_with_its_image_attached(receiver, tmp_path):
    urls = urls_of(receiver)
    hook = notifier(tmp_path, list(urls.values()))
    hook.send(alert_with_image(tmp_path))
    hook.send(Message("train_end", "info", "Training finished — run7", "mAP50-95 0.51"))
    assert hook.flush(30) == 0 and hook.delivery.delivered == 2
    json_posts = [r for r in receiver.requests if r["json"] and "version" in r["json"]]
    assert [r["json"]["title"] for r in json_posts] == ["Person in zone A", "Training finished — run7"]
    first = json_posts[0]
    assert first["headers"]["X-Api-Key"] == "TOKENHEADER42" and first["json"]["type"] == "warning"
    assert "2 persons for 3 s" in first["json"]["message"] and "Zone: A" in first["json"]["message"]
    assert base64.b64decode(first["json"]["attachments"][0]["base64"]) == JPEG
    form = [r for r in receiver.requests if r["path"].endswith("/form")]
    assert len(form) == 2 and b'filename="alert.jpg"' in form[0]["body"] and JPEG in form[0]["body"]
    ntfy = [r for r in receiver.requests if "yolo-alerts" in r["path"] or (r["json"] or {}).get("topic")]
    assert ntfy[0]["path"].startswith("/yolo-alerts?filename=alert.jpg&title=Person+in+zone+A")
    assert ntfy[0]["body"] == JPEG  # ntfy takes the image as the body, the text in the query
    assert ntfy[1]["json"] == {"topic": "yolo-alerts", "title": "Training finished — run7",
                               "message": "mAP50-95 0.51"}
    expected = "Basic " + base64.b64encode(b"trainer:TOKENPASSWORD42").decode()
    assert ntfy[0]["headers"]["Authorization"] == expected


def test_a_failing_url_goes_to_the_outbox_and_a_replay_delivers_it_once(receiver, tmp_path, monkeypatch, capsys,
                                                                       log_lines):
    url = urls_of(receiver)["ntfy"]
    receiver.set_mode("500")
    hook = notifier(tmp_path, [url], retries=1, backoff=0.05)
    message = Message("crash", "critical", "Training crashed — run7", "CUDA out of memory")
    hook.send(message)
    assert hook.flush(30) == 1
    records, bad = read(tmp_path / "notify_outbox.jsonl")
    assert not bad and [r["message"]["id"] for r in records] == [message.id]
    assert "unreachable after 2 attempts" in records[0]["reason"] and "error=500" in records[0]["reason"]
    assert len(receiver.requests) == 2  # the first attempt and one retry, each a real 500
    written = (tmp_path / "notify_outbox.jsonl").read_text()

    receiver.heal()
    monkeypatch.setenv("APPRISE_URLS", url)
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text("notify:\n  - {format: apprise, urls: ['${APPRISE_URLS}']}\n")
    assert cli.main(["outbox", "replay", f"hooks={hooks}", f"dir={tmp_path}"]) == 0
    assert cli.main(["outbox", "replay", f"hooks={hooks}", f"dir={tmp_path}"]) == 0  # nothing left to send
    out = capsys.readouterr().out
    assert "1 delivered, 0 still undelivered" in out
    assert [r["json"]["title"] for r in receiver.requests[2:]] == ["Training crashed — run7"]
    assert read(tmp_path / "notify_outbox.jsonl") == ([], [])
    assert "TOKEN" not in out + "\n".join(log_lines) + written
    assert f"ntfy://trainer:****@127.0.0.1:{receiver.port}/***" in "\n".join(log_lines)


def test_retries_resend_only_to_the_urls_that_failed(tmp_path):
    with WebhookReceiver(path=TOKEN_PATH) as good, WebhookReceiver(path=TOKEN_PATH) as flaky:
        flaky.script("503", "503")
        hook = notifier(tmp_path, [urls_of(good)["json"], urls_of(flaky)["json"]], retries=3, backoff=0.05)
        hook.send(Message("alert", "warning", "val/box_loss rose 3 epochs in a row"))
        assert hook.flush(30) == 0
        assert len(good.requests) == 1 and len(flaky.requests) == 3  # no second copy to the URL that had it


def test_a_service_that_never_answers_costs_one_timeout_not_the_worker(receiver, tmp_path):
    receiver.set_mode("never")
    hook = notifier(tmp_path, [urls_of(receiver)["json"]], timeout=1, retries=0)
    started = time.monotonic()
    hook.send(Message("alert", "warning", "first"))
    hook.send(Message("alert", "warning", "second"))
    assert hook.flush(20) == 2
    assert time.monotonic() - started < 6  # two attempts of 1 s each (and the wait of apprise's own sockets)
    reason = read(tmp_path / "notify_outbox.jsonl")[0][0]["reason"]
    assert "no answer within 1 s" in reason
    receiver.heal()


def test_secrets_never_show_in_check_errors_logs_or_the_outbox(receiver, tmp_path, monkeypatch, capsys, log_lines):
    urls = urls_of(receiver)
    monkeypatch.setenv("APPRISE_URLS", urls["ntfy"])
    monkeypatch.chdir(tmp_path)  # a destination outside a run keeps its outbox in the working folder
    hooks = tmp_path / "hooks.yaml"
    hooks.write_text(f"notify:\n  - {{format: apprise, urls: ['${{APPRISE_URLS}}', '{urls['json']}', "
                     f"'tgram://123456789:TOKENBOTTOKEN42/-1001234567890']}}\n")
    assert cli.main(["check", str(hooks)]) == 0
    out = capsys.readouterr().out
    # apprise's own privacy form (user kept, password hidden), a webhook by its host, Telegram's token shortened
    assert "ntfy://trainer:****@127.0.0.1" in out and f"json://127.0.0.1:{receiver.port}/***" in out
    assert "tgram://1...2/***" in out and "TOKEN" not in out  # and every path scrubbed, as our URLs are
    logging.getLogger("apprise").setLevel(logging.DEBUG)  # apprise logs whole URLs and payloads at DEBUG
    apprise_lines: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: apprise_lines.append(record.getMessage())
    logging.getLogger("apprise").addHandler(handler)
    try:
        receiver.set_mode("401")
        hooks.write_text(f"notify:\n  - {{format: apprise, urls: ['${{APPRISE_URLS}}', '{urls['json']}']}}\n")
        hook = build_hooks(load_config(hooks))[0]  # (Telegram's is for `check` only: no traffic off loopback)
        hook.retries = 0
        hook.send(Message("alert", "critical", "echo"))
        hook.flush(30)
    finally:
        logging.getLogger("apprise").removeHandler(handler)
        logging.getLogger("apprise").setLevel(logging.NOTSET)
    assert any("JSON Payload" in line for line in apprise_lines)  # they were logged, and scrubbed
    outbox = (tmp_path / "yolo_hooks_outbox.jsonl").read_text()
    assert "TOKEN" not in "\n".join(apprise_lines + log_lines) + outbox
    with pytest.raises(ConfigError) as caught:
        Notify(format="apprise", urls=["ntfy://u:TOKEN42@127.0.0.1/t", "nosuchservice://TOKEN42/abc"])
    assert "`nosuchservice://` is none of them" in str(caught.value) and "TOKEN" not in str(caught.value)


@pytest.mark.parametrize("url, per_minute", [
    ("ntfy://127.0.0.1/topic", 10.9),  # apprise waits 5.5 s between two ntfy messages: so do we, as a rate limit
    ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", 50.0),
    ("json://127.0.0.1/hook", None),
])
def test_the_rate_limit_is_the_pace_apprise_keeps_for_the_service(url, per_minute):
    assert Notify(format="apprise", urls=[url]).delivery.rate_limit == per_minute
    assert Notify(format="apprise", urls=[url], rate_limit=100).delivery.rate_limit == 100


def test_without_apprise_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "apprise", None)  # what `import apprise` finds where it is not installed
    apprise_format._plugin.cache_clear()
    with pytest.raises(ConfigError, match=r"pip install 'yolo-hooks\[apprise\]'"):
        Notify(format="apprise", urls=["ntfy://127.0.0.1/t2"])
    apprise_format._plugin.cache_clear()


def test_no_thread_of_apprise_is_left_running(receiver, tmp_path):
    before = {t.name for t in threading.enumerate()}
    hook = notifier(tmp_path, [urls_of(receiver)["json"]])
    hook.send(Message("alert", "info", "x"))
    hook.flush(10)
    hook.delivery.close(5)
    time.sleep(0.2)
    new = {t.name for t in threading.enumerate()} - before
    assert not [name for name in new if "ThreadPool" in name or "apprise" in name], new


@pytest.mark.training
def test_a_training_reports_to_apprise(receiver, tmp_path, log_lines):
    train(tmp_path, Notify(format="apprise", urls=[urls_of(receiver)["json"]]), epochs=1)
    titles = [r["json"]["title"] for r in receiver.requests]
    assert titles[0].startswith("🚀") and titles[-1].startswith("✅"), titles
    assert all(json.loads(r["body"])["type"] == "info" for r in receiver.requests)
    assert "TOKEN" not in "\n".join(log_lines)
