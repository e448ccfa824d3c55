"""``yolo-hooks outbox``, ``outbox replay``, ``notify-test``, ``check``, and config errors at attach time."""

from __future__ import annotations

import pytest

from yolo_hooks import ConfigError, build_hooks, cli, load_config
from yolo_hooks.notify import Notify
from yolo_hooks.notify.delivery import Destination
from yolo_hooks.notify.message import Message
from yolo_hooks.notify.outbox import append, make_record, read

GOOD = "https://hooks.example.com/services/T0/B0/TOPSECRET"


def write_hooks(tmp_path, text: str):
    path = tmp_path / "hooks.yaml"
    path.write_text(text)
    return path


def test_outbox_lists_undelivered_messages_without_secrets(tmp_path, capsys):
    run = tmp_path / "runs" / "train"
    dest = Destination.of("notify_slack", "slack", {"url": GOOD})
    append(run / "notify_outbox.jsonl", [make_record(Message("train_end", "info", "✅ Training finished — train"),
                                                     dest, "unreachable after 6 attempts: connection refused")])
    assert cli.main(["outbox", f"dir={tmp_path / 'runs'}"]) == 0
    out = capsys.readouterr().out
    assert "notify_outbox.jsonl: 1 undelivered message(s)" in out
    assert "notify_slack (slack → https://hooks.example.com/***)" in out
    assert "train_end: ✅ Training finished — train  [unreachable after 6 attempts: connection refused]" in out
    assert "yolo-hooks outbox replay hooks=" in out and "TOPSECRET" not in out


def test_outbox_with_nothing_undelivered_says_so(tmp_path, capsys):
    assert cli.main(["outbox", str(tmp_path)]) == 0
    assert "nothing undelivered" in capsys.readouterr().out


def test_replay_needs_the_hooks_file_for_the_secrets(tmp_path, capsys):
    append(tmp_path / "notify_outbox.jsonl",
           [make_record(Message("alert", "info", "t"), Destination.of("n", "json", {"url": GOOD}), "r")])
    assert cli.main(["outbox", "replay", f"dir={tmp_path}"]) == 2
    assert "hooks=hooks.yaml is required" in capsys.readouterr().err


def test_replay_resends_with_secrets_from_the_environment(tmp_path, endpoint, monkeypatch, capsys):
    monkeypatch.setenv("MY_HOOK_URL", endpoint.url)
    hooks = write_hooks(tmp_path, "notify:\n  - {format: json, url: '${MY_HOOK_URL}'}\n")
    message = Message("train_end", "info", "done")
    append(tmp_path / "notify_outbox.jsonl",
           [make_record(message, Destination.of("notify_json", "json", {"url": endpoint.url}), "r")])
    assert cli.main(["outbox", "replay", f"hooks={hooks}", f"dir={tmp_path}"]) == 0
    assert "1 delivered, 0 still undelivered" in capsys.readouterr().out
    assert endpoint.ids() == [message.id] and endpoint.requests[0]["headers"]["Idempotency-Key"] == message.id
    assert read(tmp_path / "notify_outbox.jsonl") == ([], [])


def test_notify_test_reports_each_destination(tmp_path, endpoint, dead_url, capsys):
    hooks = write_hooks(tmp_path, f"notify:\n  - {{format: json, url: '{endpoint.url}'}}\n"
                                  f"  - {{format: json, url: '{dead_url}', name: backup}}\n"
                                  f"early_stop: false\n")
    assert cli.main(["notify-test", str(hooks)]) == 1
    out = capsys.readouterr().out
    assert f"notify_json (json → http://127.0.0.1:{endpoint.port}/***): OK in" in out
    assert "backup (json → http://127.0.0.1:" in out and "failed after 2 attempt(s): connection refused" in out
    assert "1/2 destination(s) OK" in out and "TOKEN" not in out
    assert [m["event"] for m in endpoint.received()] == ["test"]


def test_notify_test_with_every_destination_up_exits_0(tmp_path, endpoint, capsys):
    hooks = write_hooks(tmp_path, f"notify:\n  - {{format: json, url: '{endpoint.url}'}}\n"
                                  f"  - {{format: slack, url: '{endpoint.url}'}}\n")
    assert cli.main(["notify-test", str(hooks)]) == 0
    assert "2/2 destination(s) OK" in capsys.readouterr().out


def test_check_prints_each_destination_redacted_with_distinct_names(tmp_path, capsys):
    hooks = write_hooks(tmp_path, f"notify:\n  - {{format: json, url: '{GOOD}', secret: whsec_c2VjcmV0}}\n"
                                  f"  - {{format: json, url: '{GOOD}2', events: [crash]}}\n")
    assert cli.main(["check", str(hooks)]) == 0
    out = capsys.readouterr().out
    assert "2 hook(s) OK" in out and "https://hooks.example.com/***" in out and '"events": ["crash"]' in out
    assert "TOPSECRET" not in out and "c2VjcmV0" not in out


@pytest.mark.parametrize("options,error", [
    ({"format": "slak", "url": GOOD}, "notify: `format` must be one of json, slack, discord"),
    ({"format": "slack"}, "notify_slack: format `slack` needs `url`"),
    ({"format": "json", "url": "ftp://files.example.com/TOPSECRET"},
     "must be an http:// or https:// URL, got 'ftp://files.example.com/***'"),
    ({"format": "telegram", "bot_token": "123:TOPSECRET"}, "format `telegram` needs `chat_id`"),
    ({"format": "json", "url": GOOD, "events": ["train_ned"]}, "unknown event `train_ned` (did you mean `train_end`?)"),
    ({"format": "json", "url": GOOD, "timeout": 0}, "`timeout` must be a number > 0, got 0"),
    ({"format": "json", "url": GOOD, "min_severity": "error"}, "`min_severity` must be one of info, warning, critical"),
    ({"format": "json", "url": GOOD, "progress_every": 0}, "`progress_every` must be an integer >= 1"),
    ({"format": "email", "smtp_host": "mail", "sender": "a@b.c", "to": "nobody"}, "`to` must be an e-mail address"),
    ({"format": "slack", "url": GOOD, "secret": "TOPSECRET"}, "format `slack` does not use `secret`"),
    ({"format": "json", "url": GOOD, "retry": 3}, "unknown option `retry` (did you mean `retries`?)"),
])  # fmt: skip
def test_bad_destinations_are_config_errors_before_training_with_secrets_redacted(options, error):
    with pytest.raises(ConfigError) as caught:
        build_hooks(load_config({"notify": [options]}))
    assert error in str(caught.value) and "TOPSECRET" not in str(caught.value)


def test_progress_settings_add_epoch_to_the_default_events():
    assert "epoch" not in Notify(format="json", url=GOOD).events
    assert "epoch" in Notify(format="json", url=GOOD, progress_minutes=30).events
    # `all` is every training event; the val / predict / export reports only when named (a predict loop is chatty)
    every = Notify(format="json", url=GOOD, events="all").events
    assert {"train_end", "crash", "interrupt"} <= set(every) and "predict_report" not in every
    assert "predict_report" in Notify(format="json", url=GOOD, events=["predict_report"]).events


def test_notify_test_and_replay_cut_off_an_endpoint_that_trickles_its_reply(tmp_path, endpoint, capsys):
    import time

    endpoint.set_mode("trickle_headers", trickle=0.2)  # a byte every 0.2 s: no per-read timeout ever fires
    hooks = write_hooks(tmp_path, f"notify:\n  - {{format: json, url: '{endpoint.url}', timeout: 1, backoff: 0}}\n")
    message = Message("train_end", "info", "done")
    append(tmp_path / "notify_outbox.jsonl",
           [make_record(message, Destination.of("notify_json", "json", {"url": endpoint.url}), "r")])
    start = time.monotonic()
    assert cli.main(["notify-test", str(hooks)]) == 1
    assert cli.main(["outbox", "replay", f"hooks={hooks}", f"dir={tmp_path}"]) == 1
    took = time.monotonic() - start
    endpoint.heal()
    out = capsys.readouterr().out
    assert "no reply within 1 s" in out and "0 delivered, 1 still undelivered" in out
    assert took < 2 * 2 * 1.5  # two commands, two attempts each, each within its 1 s deadline


SECRET_OPTIONS = {"key": "AKIAKEYSECRET01", "secret": "SECRETSECRET02", "token": "TOKENSECRET03",
                  "password": "PASSSECRET04", "account_key": "ACCOUNTKEYSECRET05", "sas_token": "SASSECRET06",
                  "client_secret": "CLIENTSECRET07",
                  "connection_string": "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=CONNSECRET08"}


def test_check_never_prints_a_secret_storage_option_of_a_mirror(tmp_path, capsys):
    import json

    store = {"url": "memory://bucket/run", "storage_options": {**SECRET_OPTIONS, "endpoint_url": "http://127.0.0.1:9"}}
    hooks = write_hooks(tmp_path, "best_mirror: " + json.dumps({"to": [store]}) + "\n"
                                  "detection_alert: " + json.dumps({"classes": ["person"], "mirror": store}) + "\n")
    assert cli.main(["check", str(hooks)]) == 0
    out = capsys.readouterr().out
    assert "2 hook(s) OK" in out and "http://127.0.0.1:9/***" in out
    leaked = [value for value in SECRET_OPTIONS.values() if value in out or value.split("=")[-1] in out]
    assert leaked == []
