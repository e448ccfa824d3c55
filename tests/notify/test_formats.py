"""Per-service payloads: documented shapes and limits, clean truncation, signatures, reply verdicts, real POSTs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import urllib.parse

import pytest

from yolo_hooks.notify import formats, http
from yolo_hooks.notify.formats import FORMATS, HTTP_FORMATS, build_request, check_response, telegram
from yolo_hooks.notify.formats.render import (
    TELEGRAM,
    escape_markdown_v2,
    render,
    truncate,
    utf8_len,
    utf16_len,
)
from yolo_hooks.notify.message import Message

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OPTIONS = {"url": "https://hooks.example.com/T000/SECRET-TOKEN", "secret": "SEC-signing-secret", "bot_token": "123:ABC-token", "chat_id": "-1001"}
NASTY = 'loss_nan *bold* [x](y) <b> & "q" \\ ~`>#+-=|{}.! 中文 😀'


def small_message(**overrides) -> Message:
    values = dict(
        event="new_best",
        severity="info",
        title="🏆 New best — train_7",
        text="Fitness rose to 0.5123 (was 0.4810).",
        fields={"Epoch": "3/10", "Fitness": "0.5123", "mAP50-95": "0.4410"},
        run={"name": "train_7", "host": "gpu01", "save_dir": "/runs/train_7"},
        data={"epoch": 3, "fitness": 0.5123},
    )
    values.update(overrides)
    return Message(**values)


def huge_message(severity="critical") -> Message:
    """Everything far past every service's limits, full of characters that need escaping, and multi-byte ones."""
    return Message(
        event="crash",
        severity=severity,
        title=("💥 " + NASTY) * 40,
        text=(NASTY + "\n") * 20_000,
        fields={f"{NASTY} key {i}" * 5: (NASTY + " ") * 100 for i in range(200)},
        run={"name": "train_7" * 50, "host": "gpu01"},
        data={"loss": float("nan"), "trace": "x" * 10_000},
    )


# --- message and rendering ---------------------------------------------------------------------------------------


def test_message_round_trips_through_json_and_keeps_nan_as_text():
    message = small_message(data={"loss": float("nan"), "best": float("inf"), "shape": (1, 2)})
    record = json.loads(json.dumps(message.as_dict(), allow_nan=False))
    assert record["data"] == {"loss": "nan", "best": "inf", "shape": [1, 2]}
    assert Message.from_dict({**record, "added_by_a_newer_version": 1}) == message
    assert small_message().id != small_message().id


def test_message_rejects_unknown_severity():
    with pytest.raises(ValueError, match="severity must be one of info, warning, critical"):
        small_message(severity="urgent")


@pytest.mark.parametrize("limit", range(1, 40))
def test_byte_truncation_never_splits_a_character(limit):
    text = "héllo wörld 中文 😀 done"
    cut = truncate(text, limit, utf8_len)
    assert utf8_len(cut) <= limit
    cut.encode("utf-8")  # a split character would be a lone surrogate or would not round-trip
    assert cut == text or cut.endswith("…") or limit < 3


def _markdown_v2_is_valid(text: str) -> bool:
    """Telegram's rules: a backslash escapes the next character; reserved characters must be escaped unless they
    are markup; here the only markup is *bold*, which must be balanced."""
    i, bold = 0, False
    while i < len(text):
        c = text[i]
        if c == "\\":
            if i + 1 >= len(text):
                return False  # dangling backslash
            i += 2
            continue
        if c == "*":
            bold = not bold
        elif c in "_[]()~`>#+-=|{}.!":
            return False
        i += 1
    return not bold


@pytest.mark.parametrize("limit", list(range(1, 60)) + [100, 4096])
def test_markdown_v2_truncation_keeps_escapes_and_bold_whole(limit):
    spans = [("Title. with (dots)!", "bold"), ("\n\n", None), (NASTY * 3, None), ("Key:", "bold"), (" v.1", None)]
    text = render(spans, TELEGRAM, limit, utf16_len)
    assert utf16_len(text) <= limit
    assert _markdown_v2_is_valid(text), text


def test_markdown_v2_escapes_every_reserved_character():
    assert escape_markdown_v2("_*[]()~`>#+-=|{}.!\\") == "".join("\\" + c for c in "_*[]()~`>#+-=|{}.!\\")
    assert _markdown_v2_is_valid(escape_markdown_v2(NASTY))


# --- shapes and limits ---------------------------------------------------------------------------------------------

def _json_request(fmt, message, options=OPTIONS):
    request = build_request(fmt, message, options)
    assert request.method == "POST" and request.json is None
    assert request.headers["Content-Type"].startswith("application/json")
    return request, json.loads(request.body)  # strict JSON: would raise on NaN


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_json_schema_v1(make):
    message = make()
    request, body = _json_request("json", message, {"url": OPTIONS["url"]})
    assert request.headers["Idempotency-Key"] == message.id
    assert body["schema"] == "yolo_hooks.notification/v1"
    assert {k: body[k] for k in ("id", "event", "severity", "title", "text", "fields", "run")} == {
        k: v for k, v in message.as_dict().items() if k not in ("data", "time")
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["time_iso"])
    assert "webhook-signature" not in request.headers


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_slack_block_kit_within_limits(make):
    _, body = _json_request("slack", make())
    blocks = body["blocks"]
    assert body["text"] and len(body["text"]) <= 3000
    assert 1 <= len(blocks) <= 50 and blocks[0]["type"] == "header"
    assert 0 < len(blocks[0]["text"]["text"]) <= 150 and blocks[0]["text"]["type"] == "plain_text"
    for block in blocks[1:]:
        assert block["type"] in ("section", "context")
        if "text" in block:
            assert len(block["text"]["text"]) <= 3000 and block["text"]["type"] == "mrkdwn"
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        assert len(block.get("fields", [])) <= 10
        for element in block.get("elements", []):
            assert len(element["text"]) <= 3000
    texts = [body["text"]] + [b["text"]["text"] for b in blocks[1:] if "text" in b]
    assert not any(re.search(r"&(?!amp;|lt;|gt;)|<|>", t) for t in texts)  # escaped, no half entity


def test_slack_small_message_content():
    _, body = _json_request("slack", small_message(text="a < b & c"))
    assert body["blocks"][1]["text"]["text"] == "a &lt; b &amp; c"
    assert {"type": "mrkdwn", "text": "*Epoch*\n3/10"} in body["blocks"][2]["fields"]


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_discord_embed_within_limits(make):
    _, body = _json_request("discord", make())
    assert body["allowed_mentions"] == {"parse": []}
    (embed,) = body["embeds"]
    assert 0 < utf16_len(embed["title"]) <= 256
    assert utf16_len(embed.get("description", "")) <= 4096
    assert len(embed.get("fields", [])) <= 25
    for field in embed.get("fields", []):
        assert 0 < utf16_len(field["name"]) <= 256 and 0 < utf16_len(field["value"]) <= 1024
    total = utf16_len(embed["title"]) + utf16_len(embed.get("description", "")) + utf16_len(embed["footer"]["text"])
    total += sum(utf16_len(f["name"]) + utf16_len(f["value"]) for f in embed.get("fields", []))
    assert total <= 6000
    assert isinstance(embed["color"], int) and embed["timestamp"].endswith("+00:00")


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_teams_adaptive_card_within_28kb(make):
    request, body = _json_request("teams", make())
    assert len(request.body) <= 28_000
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0]["type"] == "TextBlock" and card["body"][0]["weight"] == "Bolder"
    assert {b["type"] for b in card["body"]} <= {"TextBlock", "FactSet"}


def test_teams_small_card_has_the_facts():
    _, body = _json_request("teams", small_message())
    facts = [b for b in body["attachments"][0]["content"]["body"] if b["type"] == "FactSet"][0]["facts"]
    assert facts[0] == {"title": "Epoch", "value": "3/10"}


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_wecom_markdown_within_4096_bytes(make):
    _, body = _json_request("wecom", make())
    assert body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert 0 < len(content.encode("utf-8")) <= 4096
    assert content.startswith("**")


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_dingtalk_markdown_within_20000_bytes(make):
    request, body = _json_request("dingtalk", make(), {"url": "https://oapi.dingtalk.com/robot/send?access_token=T"})
    assert len(request.body) <= 20_000
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] and body["markdown"]["text"].startswith("### ")
    assert request.url == "https://oapi.dingtalk.com/robot/send?access_token=T"  # unsigned without a secret


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_feishu_card_within_20kb(make):
    request, body = _json_request("feishu", make(), {"url": "https://open.feishu.cn/open-apis/bot/v2/hook/X"})
    assert len(request.body) <= 20_000
    assert body["msg_type"] == "interactive" and "sign" not in body
    card = body["card"]
    assert card["header"]["title"]["tag"] == "plain_text" and card["header"]["template"] in ("blue", "orange", "red")
    assert all(e["tag"] in ("div", "note") for e in card["elements"])


@pytest.mark.parametrize("make", [small_message, huge_message], ids=["small", "huge"])
def test_telegram_send_message_within_4096(make):
    request, body = _json_request("telegram", make(), {"bot_token": "123:ABC", "chat_id": "-1001"})
    assert request.url == "https://api.telegram.org/bot123:ABC/sendMessage"
    assert body["chat_id"] == -1001 and body["parse_mode"] == "MarkdownV2"
    assert 0 < utf16_len(body["text"]) <= 4096
    assert _markdown_v2_is_valid(body["text"]), body["text"][-50:]


def test_telegram_text_of_a_small_message():
    text = telegram.text(small_message())
    assert text.startswith("*🏆 New best — train\\_7*\n\nFitness rose to 0\\.5123 \\(was 0\\.4810\\)\\.")
    assert "*mAP50\\-95:* 0\\.4410" in text


def test_missing_required_option_and_unknown_format():
    assert set(formats.OPTIONS) == set(FORMATS)
    with pytest.raises(ValueError, match="telegram: missing option\\(s\\) chat_id"):
        build_request("telegram", small_message(), {"bot_token": "x"})
    with pytest.raises(ValueError, match="unknown notification format 'matrix'"):
        build_request("matrix", small_message(), OPTIONS)


def test_request_repr_hides_the_webhook_token():
    request = build_request("slack", small_message(), OPTIONS)
    assert "SECRET-TOKEN" not in repr(request) and "hooks.example.com" in repr(request)
    assert "ABC-token" not in repr(build_request("telegram", small_message(), OPTIONS))


# --- signatures, recomputed here from the documented algorithms ----------------------------------------------------

@pytest.mark.parametrize("secret,key", [(WHSEC, b"0123456789abcdef0123456789abcdef"), ("plain-text-secret", b"plain-text-secret")])
def test_json_standard_webhooks_signature(secret, key):
    message = small_message()
    request = build_request("json", message, {"url": OPTIONS["url"], "secret": secret})
    headers = request.headers
    assert headers["webhook-id"] == headers["Idempotency-Key"] == message.id
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + request.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert abs(int(headers["webhook-timestamp"]) - message.time) < 60


def test_json_rejects_a_broken_whsec_secret():
    with pytest.raises(ValueError, match="not valid base64"):
        build_request("json", small_message(), {"url": OPTIONS["url"], "secret": "whsec_@@@"})


def test_dingtalk_signature():
    request = build_request("dingtalk", small_message(), {"url": "https://oapi.dingtalk.com/robot/send?access_token=T", "secret": "SECabc"})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.url).query)
    timestamp = query["timestamp"][0]
    digest = hmac.new(b"SECabc", f"{timestamp}\nSECabc".encode(), hashlib.sha256).digest()
    assert query["sign"][0] == base64.b64encode(digest).decode()  # parse_qs undid the URL-encoding
    assert query["access_token"] == ["T"] and len(timestamp) == 13  # milliseconds


def test_feishu_signature():
    body = build_request("feishu", small_message(), {"url": "https://open.feishu.cn/x", "secret": "fs-secret"}).payload()
    key = f"{body['timestamp']}\nfs-secret".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert isinstance(body["timestamp"], str) and len(body["timestamp"]) == 10  # seconds, as a string


# --- reply verdicts ------------------------------------------------------------------------------------------------

ERRCODE = lambda code, key="errcode": json.dumps({key: code, "errmsg" if key == "errcode" else "msg": "m"}).encode()  # noqa: E731


@pytest.mark.parametrize(
    "fmt,status,headers,body,ok,retry,retry_after",
    [
        ("json", 200, {}, b"", True, False, None),
        ("json", 204, {}, b"", True, False, None),
        ("json", 409, {}, b"duplicate", True, False, None),
        ("json", 429, {"Retry-After": "7"}, b"", False, True, 7.0),
        ("json", 503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, b"", False, True, 0.0),
        ("json", 500, {}, b"boom", False, True, None),
        ("json", 408, {}, b"", False, True, None),
        ("json", 400, {}, b"bad", False, False, None),
        ("json", 401, {}, b"", False, False, None),
        ("slack", 200, {}, b"ok", True, False, None),
        ("slack", 429, {"Retry-After": "30"}, b"rate_limited", False, True, 30.0),
        ("slack", 400, {}, b"invalid_payload", False, False, None),
        ("slack", 404, {}, b"channel_not_found", False, False, None),
        ("slack", 410, {}, b"channel_is_archived", False, False, None),
        ("slack", 500, {}, b"", False, True, None),
        ("discord", 204, {}, b"", True, False, None),
        ("discord", 429, {"Retry-After": "1"}, b'{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}', False, True, 1.5),
        ("discord", 400, {}, b'{"message": "Invalid Form Body", "code": 50035}', False, False, None),
        ("discord", 404, {}, b'{"message": "Unknown Webhook", "code": 10015}', False, False, None),
        ("teams", 202, {}, b"", True, False, None),
        ("teams", 429, {"Retry-After": "12"}, b"", False, True, 12.0),
        ("teams", 400, {}, b'{"error": {"code": "TriggerInputSchemaMismatch", "message": "bad"}}', False, False, None),
        ("wecom", 200, {}, ERRCODE(0), True, False, None),
        ("wecom", 200, {}, ERRCODE(45009), False, True, 60.0),
        ("wecom", 200, {}, ERRCODE(-1), False, True, None),
        ("wecom", 200, {}, ERRCODE(93000), False, False, None),
        ("wecom", 200, {}, ERRCODE(40058), False, False, None),
        ("wecom", 502, {}, b"", False, True, None),
        ("dingtalk", 200, {}, ERRCODE(0), True, False, None),
        ("dingtalk", 200, {}, ERRCODE(130101), False, True, 60.0),
        ("dingtalk", 200, {}, ERRCODE(310000), False, False, None),
        ("dingtalk", 200, {}, ERRCODE(460101), False, False, None),
        ("feishu", 200, {}, ERRCODE(0, "code"), True, False, None),
        ("feishu", 200, {}, b'{"StatusCode": 0, "StatusMessage": "success"}', True, False, None),
        ("feishu", 200, {}, ERRCODE(11232, "code"), False, True, 60.0),
        ("feishu", 200, {}, ERRCODE(2200, "code"), False, True, None),
        ("feishu", 200, {}, ERRCODE(19021, "code"), False, False, None),
        ("feishu", 400, {}, ERRCODE(9499, "code"), False, False, None),
        ("feishu", 200, {}, b"<html>gateway</html>", False, True, None),
        ("telegram", 200, {}, b'{"ok": true, "result": {"message_id": 1}}', True, False, None),
        ("telegram", 429, {}, b'{"ok": false, "error_code": 429, "description": "Too Many Requests: retry after 5", "parameters": {"retry_after": 5}}', False, True, 5.0),
        ("telegram", 400, {}, b'{"ok": false, "error_code": 400, "description": "Bad Request: can\'t parse entities"}', False, False, None),
        ("telegram", 401, {}, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}', False, False, None),
        ("telegram", 200, {}, b'{"ok": false, "description": "weird"}', False, False, None),
    ],
)
def test_check_response(fmt, status, headers, body, ok, retry, retry_after):
    result = check_response(fmt, status, headers, body)
    assert (result.ok, result.retry) == (ok, retry), result
    if retry_after is None:
        assert result.retry_after is None
    else:
        assert result.retry_after == pytest.approx(retry_after)
    assert (result.error is None) == ok


def test_check_response_errors_are_short_and_readable():
    assert check_response("telegram", 400, {}, b'{"ok": false, "description": "Bad Request: chat not found"}').error == (
        "HTTP 400 Bad Request: Bad Request: chat not found"
    )
    assert check_response("wecom", 200, {}, ERRCODE(45009)).error == "wecom error 45009: m (rate limited)"
    assert len(check_response("json", 500, {}, b"x" * 10_000).error) < 300


# --- each HTTP format sent for real to a loopback server -------------------------------------------------------------

REPLIES = {
    "json": (b"", 204),
    "slack": (b"ok", 200),
    "discord": (b"", 204),
    "teams": (b"", 202),
    "wecom": (b'{"errcode":0,"errmsg":"ok"}', 200),
    "dingtalk": (b'{"errcode":0,"errmsg":"ok"}', 200),
    "feishu": (b'{"code":0,"msg":"success","data":{}}', 200),
    "telegram": (b'{"ok":true,"result":{"message_id":7}}', 200),
}


@pytest.mark.parametrize("fmt", HTTP_FORMATS)
def test_real_post_to_loopback(fmt, endpoint):
    path = "/bot123:ABC/sendMessage" if fmt == "telegram" else f"/hook/{fmt}"
    body, status = REPLIES[fmt]
    endpoint.mode = lambda request: (status, body, {"Content-Type": "application/json"})
    options = {"url": endpoint.url_for(path), "api_url": endpoint.url_for("/"), "bot_token": "123:ABC", "chat_id": "42", "secret": "s3cret"}
    request = build_request(fmt, huge_message(severity="warning"), options)
    session = http.Session(request.url)  # the transport every destination uses
    try:
        result, _ = http.send(session, request, fmt, timeout=5)
    finally:
        session.close()
    assert result.ok
    (received,) = endpoint.requests  # one POST, to the service's path
    target = urllib.parse.urlsplit(received["path"])
    assert target.path == path
    assert received["headers"]["Content-Type"].startswith("application/json")
    assert int(received["headers"]["Content-Length"]) == len(request.body)
    assert json.loads(received["body"]) == request.payload()
    if fmt == "dingtalk":
        assert {"timestamp", "sign"} <= set(urllib.parse.parse_qs(target.query))
