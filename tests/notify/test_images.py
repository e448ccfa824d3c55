"""Messages with a snapshot image, to real loopback servers: multipart parsed with the stdlib, images decoded."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
from email import message_from_bytes, policy
from email.parser import BytesParser
from pathlib import Path

import cv2
import numpy as np
import pytest

from yolo_hooks.notify import Notify
from yolo_hooks.notify.images import build_request, split
from yolo_hooks.notify.message import Message


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    """A destination without a run folder keeps its journal (and outbox) in the working directory."""
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def snapshot(tmp_path) -> Path:
    """A real 200x120 JPEG."""
    image = np.zeros((120, 200, 3), np.uint8)
    cv2.rectangle(image, (20, 20), (120, 100), (0, 0, 255), -1)
    path = tmp_path / "alerts" / "person_00001_frame7.jpg"
    path.parent.mkdir()
    cv2.imwrite(str(path), image)
    return path


def detection(image: Path | str) -> Message:
    return Message("detection", "warning", "📸 person_in_zone — predict", text="1 person seen in zone (track 7)",
                   fields={"Rule": "person_in_zone", "Image": Path(image).name}, data={"image": str(image)})


def parts(body: bytes, content_type: str) -> dict[str, tuple[str | None, bytes]]:
    """multipart/form-data -> {field name: (filename, bytes)} with the stdlib e-mail parser."""
    mail = BytesParser(policy=policy.HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    assert mail.is_multipart()
    return {p.get_param("name", header="content-disposition"): (p.get_filename(), p.get_payload(decode=True))
            for p in mail.iter_parts()}


def decoded_shape(data: bytes) -> tuple[int, ...]:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape


def deliver(endpoint, message: Message, **options) -> list[dict]:
    hook = Notify(**options)
    assert hook.send(message)
    hook.flush(10)
    return endpoint.requests


def test_telegram_sends_a_photo_with_its_caption(endpoint, snapshot):
    api = f"http://127.0.0.1:{endpoint.port}"
    [request] = deliver(endpoint, detection(snapshot), format="telegram", bot_token="123:SECRET", chat_id="-1001",
                        api_url=api)
    assert request["path"] == "/bot123:SECRET/sendPhoto"
    form = parts(request["body"], request["headers"]["Content-Type"])
    assert form["chat_id"][1] == b"-1001" and form["parse_mode"][1] == b"MarkdownV2"
    assert "1 person seen in zone \\(track 7\\)" in form["caption"][1].decode()
    assert form["photo"][0] == snapshot.name and decoded_shape(form["photo"][1]) == (120, 200, 3)


def test_discord_attaches_the_file_and_shows_it_in_the_embed(endpoint, snapshot):
    [request] = deliver(endpoint, detection(snapshot), format="discord", url=endpoint.url)
    form = parts(request["body"], request["headers"]["Content-Type"])
    payload = json.loads(form["payload_json"][1])
    assert payload["embeds"][0]["image"] == {"url": f"attachment://{snapshot.name}"}
    assert payload["attachments"] == [{"id": 0, "filename": snapshot.name}]
    assert form["files[0]"][0] == snapshot.name and decoded_shape(form["files[0]"][1]) == (120, 200, 3)


def test_wecom_sends_the_text_then_the_image_as_base64_with_its_md5(endpoint, snapshot):
    text, image = [r["json"] for r in deliver(endpoint, detection(snapshot), format="wecom", url=endpoint.url)]
    assert text["msgtype"] == "markdown" and "person seen in zone" in text["markdown"]["content"]
    data = base64.b64decode(image["image"]["base64"])
    assert image["msgtype"] == "image" and hashlib.md5(data).hexdigest() == image["image"]["md5"]
    assert decoded_shape(data) == (120, 200, 3)


def test_wecom_re_encodes_an_image_over_2_mb(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (1800, 1800, 3), dtype=np.uint8)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), noise, [cv2.IMWRITE_JPEG_QUALITY, 100])
    assert path.stat().st_size > 2 * 1024 * 1024
    [_, image_only] = split("wecom", detection(path))
    payload = build_request("wecom", image_only, {"url": "https://qyapi.weixin.qq.com/x"}).payload()
    data = base64.b64decode(payload["image"]["base64"])
    assert len(data) <= 2 * 1024 * 1024 and decoded_shape(data)[2] == 3


def test_json_carries_the_image_as_a_base64_field(endpoint, snapshot):
    [request] = deliver(endpoint, detection(snapshot), format="json", url=endpoint.url)
    image = request["json"]["image"]
    data = base64.b64decode(image["base64"])
    assert image["filename"] == snapshot.name and image["sha256"] == hashlib.sha256(data).hexdigest()
    assert image["size"] == snapshot.stat().st_size and decoded_shape(data) == (120, 200, 3)


@pytest.mark.parametrize("fmt", ["slack", "teams", "dingtalk", "feishu"])
def test_services_that_cannot_upload_send_the_text_naming_the_snapshot(endpoint, snapshot, fmt):
    [request] = deliver(endpoint, detection(snapshot), format=fmt, url=endpoint.url)
    body = request["body"].decode()
    assert "frame7.jpg" in body and "base64" not in body and len(body) < 4000  # (feishu escapes the underscores)


class Inbox:
    """An aiosmtpd handler that keeps the bytes of every mail it accepts."""

    def __init__(self):
        self.mails: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.mails.append(envelope.original_content or envelope.content)
        return "250 OK"


def test_email_shows_the_image_inline_in_the_html_part(snapshot):
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        hook = Notify(format="email", smtp_host="127.0.0.1", smtp_port=port, security="none",
                      sender="cam@lab.example", to=["me@lab.example"])
        assert hook.send(detection(snapshot)) and hook.flush(10) == 0
    finally:
        controller.stop()
    [mail] = inbox.mails
    parsed = message_from_bytes(mail, policy=policy.default)
    html = parsed.get_body(("html",))
    [image] = [p for p in parsed.walk() if p.get_content_type() == "image/jpeg"]
    assert f"cid:{image['Content-ID'][1:-1]}" in html.get_content()
    assert decoded_shape(image.get_content()) == (120, 200, 3)
    assert snapshot.name in parsed.get_body(("plain",)).get_content()


def test_an_image_that_cannot_be_read_goes_as_text_with_a_note(endpoint, snapshot):
    snapshot.unlink()
    [request] = deliver(endpoint, detection(snapshot), format="telegram", bot_token="1:X", chat_id="5",
                        api_url=f"http://127.0.0.1:{endpoint.port}")
    assert request["path"].endswith("/sendMessage")
    assert "frame7\\.jpg could not be read: file not found" in request["json"]["text"]  # (MarkdownV2-escaped)


def test_the_outbox_keeps_the_path_never_the_bytes_and_a_replay_reads_the_file_again(endpoint, snapshot, tmp_path,
                                                                                    dead_url):
    outbox = tmp_path / "outbox.jsonl"
    dead = Notify(format="json", url=dead_url, retries=0, outbox=str(outbox))
    message = detection(snapshot)
    dead.send(message)
    dead.flush(10)
    [record] = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert record["message"]["data"]["image"] == str(snapshot) and outbox.stat().st_size < 4000

    replayed = Message.from_dict(record["message"])
    [request] = deliver(endpoint, replayed, format="json", url=endpoint.url)
    assert request["json"]["id"] == message.id
    assert decoded_shape(base64.b64decode(request["json"]["image"]["base64"])) == (120, 200, 3)
