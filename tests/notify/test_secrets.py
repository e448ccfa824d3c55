"""No secret leaves the process: every log line, error, CLI output and file is grepped for each secret in raw,
URL-encoded and base64 forms, with a real loopback server that echoes the webhook token back in its error."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from yolo_hooks import ConfigError, build_hooks, cli, load_config
from yolo_hooks.core.redact import scrub
from yolo_hooks.notify import Notify
from yolo_hooks.notify.delivery import Destination
from yolo_hooks.notify.message import Message
from yolo_hooks.notify.outbox import append, make_record
from yolo_hooks.notify.receiver import WebhookReceiver

TOKEN = "ECHOTOKEN0123456789abcdef"
HALF_TOKEN = TOKEN[:15]  # what a reply cut at 200 characters may keep of an echoed token
PASSWORD = "smtp-hunter2-0123"


def forms(secret: str) -> list[str]:
    """The ways a secret shows up in text: raw, URL-encoded, base64 (padded or not)."""
    b64 = base64.b64encode(secret.encode()).decode()
    return [secret, quote(secret, safe=""), b64, b64.rstrip("=")]


def leaks(text: str, *secrets: str) -> list[str]:
    return [form for secret in secrets for form in forms(secret) if form in text]


@pytest.fixture(params=[400, 500], ids=["rejected", "failing"])
def echo(request):
    """Answers every POST with the status and a body that quotes the request's URL and token in every form."""

    def quote_back(received):
        url = server.url_for(received["path"])
        body = "invalid_token: " + " | ".join(forms(TOKEN) + forms(url))
        return request.param, body, {"Content-Type": "text/plain"}

    with WebhookReceiver(path=f"/hooks/{TOKEN}") as server:
        server.mode = quote_back
        yield server


@pytest.fixture
def hooks_file(tmp_path, echo, monkeypatch):
    monkeypatch.setenv("ECHO_WEBHOOK_URL", echo.url)
    path = tmp_path / "hooks.yaml"
    path.write_text("notify:\n  - {format: json, url: '${ECHO_WEBHOOK_URL}', retries: 0}\n")
    return path


def test_notify_test_never_prints_the_token_the_server_echoes(hooks_file, echo, capsys):
    assert cli.main(["notify-test", str(hooks_file), "retries=0"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert len(echo.requests) == 1 and f"HTTP {echo.requests[0]['status']}" in text and "invalid_token: ***" in text
    assert not leaks(text, TOKEN, echo.url) and HALF_TOKEN not in text


def test_outbox_replay_never_prints_the_token_the_server_echoes(hooks_file, echo, tmp_path, capsys):
    outbox = tmp_path / "run" / "notify_outbox.jsonl"
    append(outbox, [make_record(Message("train_end", "info", "done"),
                                Destination.of("notify_json", "json", {"url": echo.url}), "unreachable")])
    assert cli.main(["outbox", "replay", f"hooks={hooks_file}", f"dir={tmp_path}", "retries=0"]) == 1
    out = capsys.readouterr()
    text = out.out + out.err
    assert len(echo.requests) == 1 and "failed: notify_json: done" in text and "invalid_token: ***" in text
    assert not leaks(text + outbox.read_text(encoding="utf-8"), TOKEN, echo.url) and HALF_TOKEN not in text


def test_training_log_and_outbox_never_show_the_echoed_token(echo, tmp_path, log_lines):
    hook = Notify(format="json", url=echo.url, retries=0, outbox=str(tmp_path / "outbox.jsonl"))
    hook.send(Message("crash", "critical", "run crashed"))
    hook.flush(10)
    files = "".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*") if p.is_file())
    assert len(echo.requests) >= 1 and "invalid_token: ***" in " ".join(log_lines)
    assert not leaks(" ".join(log_lines) + files, TOKEN, echo.url) and HALF_TOKEN not in " ".join(log_lines) + files


@pytest.mark.parametrize("config", [
    {"notify": [{"format": "${SECRET_WEBHOOK_URL}", "url": "${SECRET_WEBHOOK_URL}"}]},
    {"notify": [{"format": "json", "url": "${SECRET_WEBHOOK_URL}", "events": ["${SECRET_WEBHOOK_URL}"]}]},
    {"notify": [{"format": "email", "smtp_host": "127.0.0.1", "sender": "a@b.c", "to": "d@e.f", "password": 20261201}]},
    {"notify": [{"format": "email", "smtp_host": "127.0.0.1", "sender": "a@b.c", "to": "d@e.f",
                 "password": "${SMTP_PASSWORD}", "security": "${SMTP_PASSWORD}"}]},
    {"early_stop": {"mode": "${SMTP_PASSWORD}"}},
    {"early_stop": {"monitor": "fitness", "min_delta": "${SECRET_WEBHOOK_URL}"}},
    {"best_mirror": {"to": "/tmp/mirror", "keep": "${SMTP_PASSWORD}"}},
])  # fmt: skip
def test_config_errors_and_check_never_print_a_secret(config, tmp_path, monkeypatch, capsys):
    url = f"https://hooks.example.com/services/T1/B1/{TOKEN}"
    monkeypatch.setenv("SECRET_WEBHOOK_URL", url)
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    with pytest.raises(ConfigError) as caught:
        build_hooks(load_config(config))
    import yaml

    path = tmp_path / "hooks.yaml"
    path.write_text(yaml.safe_dump(config))
    assert cli.main(["check", str(path)]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == f"yolo-hooks: {caught.value}"
    assert not leaks(str(caught.value) + out.out + out.err, TOKEN, url, PASSWORD, "20261201")


@pytest.mark.parametrize("secret", [
    "https://hooks.example.com/services/T1/B1/" + TOKEN,
    "whsec_" + base64.b64encode(b"0123456789abcdef").decode(),
    PASSWORD,
])  # fmt: skip
def test_scrub_removes_every_form_of_a_secret(secret):
    text = " / ".join(forms(secret))
    assert not leaks(scrub(text, [secret]), secret)


def test_scrub_keeps_the_host_of_a_url_and_removes_its_token_alone():
    url = f"https://hooks.example.com/services/T1/B1/{TOKEN}"
    scrubbed = scrub(f"POST {url}: token {TOKEN} rejected", [url])
    assert scrubbed == "POST https://hooks.example.com/***: token *** rejected"


def test_a_failing_background_task_is_logged_without_the_secret_it_quotes(log_lines):
    from yolo_hooks.core.redact import remember
    from yolo_hooks.core.worker import BackgroundWorker

    url = f"https://hooks.example.com/worker/{TOKEN}"
    remember([url])  # as attach does for every hook's secrets

    def task():
        raise ConnectionError(f"Max retries exceeded with url: /worker/{TOKEN} ({url})")

    worker = BackgroundWorker("secrets-test")
    worker.submit(task)
    worker.flush(5)
    worker.close()
    text = " ".join(log_lines)
    assert "background task of secrets-test failed: ConnectionError" in text and not leaks(text, TOKEN, url)


def test_a_crash_that_quotes_every_secret_reaches_no_receiver_and_no_file(tmp_path, endpoint, log_lines):
    """An exception raised inside a real training quotes the Slack URL, the SMTP password, the Telegram token and the
    signing secrets: the crash message's text, fields and data, the summary and every file are scrubbed."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    from tests.conftest import train
    from tests.servers import free_port

    class Inbox:
        mails: list[str] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
            self.mails.append(envelope.content.decode("utf-8", "replace"))
            return "250 OK"

    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port(), auth_require_tls=False,
                      authenticator=lambda *args: AuthResult(success=True))
    smtp.start()
    slack_url = endpoint.url_for("/services/T0CRASH/B0CRASH/SLACKCRASHSECRET0123")
    secrets = {"slack": slack_url, "password": "smtp-CRASH-pass-0123", "telegram": "123456:TGCRASHSECRET0123456",
               "whsec": "whsec_Q1JBU0hTRUNSRVQwMTIzNDU2Nzg5", "dingtalk": "SECCRASHDINGTALK0123456789",
               "feishu": "FEISHUCRASHSECRET0123"}
    hooks = [
        Notify(format="json", url=endpoint.url_for("/json/JSONCRASHTOKEN0123"), secret=secrets["whsec"], strict=True),
        Notify(format="slack", url=slack_url, strict=True),
        Notify(format="dingtalk", url=endpoint.url_for("/robot/send?access_token=DINGCRASHTOKEN0123"),
               secret=secrets["dingtalk"], strict=True),
        Notify(format="feishu", url=endpoint.url_for("/hook/FEISHUCRASHHOOK0123"), secret=secrets["feishu"],
               strict=True),
        Notify(format="telegram", bot_token=secrets["telegram"], chat_id="42", api_url=endpoint.url_for("/"),
               strict=True),
        Notify(format="email", smtp_host="127.0.0.1", smtp_port=smtp.port, security="none", smtp_user="trainer",
               password=secrets["password"], sender="trainer@example.com", to="oncall@example.com", strict=True),
    ]
    quoted = " ".join(f"{name}={value}" for name, value in secrets.items())

    def crash(trainer):
        raise RuntimeError(f"could not reach the services: {quoted}")

    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    model.add_callback("on_train_epoch_end", crash)
    try:
        with pytest.raises(RuntimeError, match="could not reach"):
            train(tmp_path, *hooks, model=model, epochs=1, imgsz=64)
        crashes = [m for m in endpoint.received() if isinstance(m, dict) and m.get("event") == "crash"]
        assert len(crashes) == 1 and len(endpoint.requests) >= 5  # json's own body; the others are services' payloads
        assert any("Crashed" in mail for mail in inbox.mails)
    finally:
        smtp.stop()
    values = list(secrets.values()) + ["SLACKCRASHSECRET0123", "JSONCRASHTOKEN0123", "DINGCRASHTOKEN0123",
                                       "FEISHUCRASHHOOK0123", "TGCRASHSECRET0123456"]
    sent = [r["body"].decode("utf-8", "replace") for r in endpoint.requests] + inbox.mails
    assert [leaks(text, *values) for text in sent if leaks(text, *values)] == []
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file() and p.suffix in {".json", ".jsonl", ".txt", ".csv"}]
    assert files  # the marker, the journal's leftovers, the state files
    leaked = {str(p): leaks(p.read_text("utf-8", "replace"), *values) for p in files}
    assert {path: forms for path, forms in leaked.items() if forms} == {}
    assert leaks("\n".join(log_lines), *values) == []
