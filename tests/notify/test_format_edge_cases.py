"""Payload edge cases, per format, sent for real to a loopback server that checks what each service checks:
a run folder whose name is not valid UTF-8, whitespace-only titles, texts and values, an empty message."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from yolo_hooks.core.run_info import run_info
from yolo_hooks.notify import http
from yolo_hooks.notify.formats import HTTP_FORMATS, build_request
from yolo_hooks.notify.formats.email import build_email
from yolo_hooks.notify.message import Message

BAD_NAME = Path(b"/runs/train\xe9".decode("utf-8", "surrogateescape"))  # what Path.name gives for a Latin-1 folder


def non_utf8_run() -> Message:
    name = BAD_NAME.name
    return Message("train_end", "info", f"✅ Training finished — {name}", text=f"Saved in {BAD_NAME}",
                   fields={"Run": name, name: "key too"}, run={"name": name, "save_dir": str(BAD_NAME)},
                   data={"save_dir": BAD_NAME, name: [name]})  # fmt: skip


def whitespace_only() -> Message:
    return Message("alert", "warning", "   ", text=" \n\t ", fields={"Loss": "   ", "  ": "value", "Epoch": "\n"},
                   run={"name": "  ", "host": " "})  # fmt: skip


def empty() -> Message:
    return Message("alert", "info", "")


EDGE_CASES = {"non_utf8_run_folder": non_utf8_run, "whitespace_only": whitespace_only, "empty": empty}


def blank(text) -> bool:
    return not isinstance(text, str) or not text.strip()


def service_problems(fmt: str, content_type: str, payload: dict) -> list[str]:
    """What the real service would reject (each a documented minimum), as a list of reasons."""
    problems = []
    if fmt == "discord":
        embed = payload["embeds"][0]
        problems += [f"blank field {f}" for f in embed.get("fields", []) if blank(f["name"]) or blank(f["value"])]
        problems += [f"blank {k}" for k in ("title", "description") if k in embed and blank(embed[k])]
        problems += ["blank footer"] if "footer" in embed and blank(embed["footer"]["text"]) else []
    elif fmt == "slack":
        problems += ["blank text"] if blank(payload["text"]) else []
        for block in payload["blocks"]:
            texts = [block["text"]["text"]] if "text" in block else []
            texts += [f["text"] for f in block.get("fields", [])] + [e["text"] for e in block.get("elements", [])]
            problems += [f"blank {block['type']} text" for t in texts if blank(t)]
    elif fmt == "wecom":
        problems += ["empty content"] if blank(payload["markdown"]["content"]) else []
    elif fmt == "teams":
        problems += [] if content_type == "application/json; charset=utf-8" else [f"Content-Type {content_type}"]
        body = payload["attachments"][0]["content"]["body"]
        problems += ["blank TextBlock" for b in body if b["type"] == "TextBlock" and blank(b["text"])]
    elif fmt == "telegram":
        problems += ["empty text"] if blank(payload["text"]) else []
    elif fmt == "dingtalk":
        problems += [f"blank {k}" for k in ("title", "text") if blank(payload["markdown"][k])]
    elif fmt == "feishu":
        problems += ["blank title"] if blank(payload["card"]["header"]["title"]["content"]) else []
    return problems


REPLIES = {"wecom": b'{"errcode":0,"errmsg":"ok"}', "dingtalk": b'{"errcode":0,"errmsg":"ok"}',
           "feishu": b'{"code":0,"msg":"success"}', "telegram": b'{"ok":true,"result":{}}'}  # fmt: skip


@pytest.mark.parametrize("case", EDGE_CASES)
@pytest.mark.parametrize("fmt", HTTP_FORMATS)
def test_edge_case_payloads_are_valid_for_the_service(fmt, case, endpoint):
    seen: list[str] = []
    path = "/bot123:ABC/sendMessage" if fmt == "telegram" else f"/hook/{fmt}"

    def service(request):
        if urllib.parse.urlsplit(request["path"]).path != path:
            seen.append(f"no such path: {request['path']}")
            return 404, b'{"message": "not found"}'
        try:
            payload = json.loads(request["body"].decode("utf-8"))  # strict: valid UTF-8 JSON or nothing
        except ValueError as e:
            seen.append(f"not UTF-8 JSON: {e}")
            return 400, b'{"message": "invalid JSON"}'
        seen.extend(service_problems(fmt, request["headers"].get("Content-Type", ""), payload))
        return (400, b'{"message": "invalid"}') if seen else (200, REPLIES.get(fmt, b""))

    endpoint.mode = service
    options = {"url": endpoint.url_for(path), "api_url": endpoint.url_for("/"), "bot_token": "123:ABC",
               "chat_id": "42"}
    request = build_request(fmt, EDGE_CASES[case](), options)
    session = http.Session(request.url)  # the transport every destination uses
    try:
        result, _ = http.send(session, request, fmt, timeout=5)
    finally:
        session.close()
    assert seen == [] and result.ok


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_case_emails_encode(case):
    mail = build_email(EDGE_CASES[case](), {"sender": "yolo@lab.example", "to": ["me@lab.example"]})
    assert mail.as_bytes()


def test_a_non_utf8_run_folder_keeps_what_can_be_read():
    message = non_utf8_run()
    assert message.run["name"] == "train\ufffd" and message.data["save_dir"] == "/runs/train\ufffd"
    assert Message.from_dict(json.loads(json.dumps(message.as_dict()))) == message  # the outbox round trip


def test_run_info_of_a_non_utf8_folder_makes_a_sendable_message(tmp_path):
    class Trainer:
        save_dir = BAD_NAME
        args = type("Args", (), {"model": "yolo11n.yaml", "data": "coco8.yaml", "device": "cpu"})()

    run = run_info(Trainer())
    request = build_request("json", Message("train_start", "info", f"Started {run.get('name', '')}", run=run),
                            {"url": "http://127.0.0.1:9/hook"})
    assert "\ufffd" in request.body.decode("utf-8")
