"""A new notification service is one module: the example of docs/writing-a-service.md, written to a package of its
own and registered the documented way, is checked at attach time and delivers to a real loopback endpoint through
the usual worker."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pytest

from yolo_hooks.core.errors import ConfigError
from yolo_hooks.notify import Notify, formats
from yolo_hooks.notify.delivery import Delivery, Destination
from yolo_hooks.notify.message import Message

PAGE = Path(__file__).resolve().parents[2] / "docs" / "writing-a-service.md"


def recipe() -> str:
    """The first Python block of docs/writing-a-service.md."""
    return re.search(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.S).group(1)


@pytest.fixture
def mattermost(tmp_path, monkeypatch, formats_for_this_test):
    """The docs' module as ``my_services.mattermost``, registered for this test only."""
    package = tmp_path / "my_services"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mattermost.py").write_text(recipe())
    monkeypatch.syspath_prepend(str(tmp_path))
    assert formats.register("my_services.mattermost") == "mattermost"
    yield "mattermost"
    for name in [m for m in sys.modules if m.split(".")[0] == "my_services"]:  # the next test's package is another
        del sys.modules[name]


def test_the_documented_service_is_about_thirty_lines():
    assert len(recipe().splitlines()) <= 35


def test_the_documented_service_delivers_to_a_loopback_endpoint(mattermost, endpoint, tmp_path):
    endpoint.retry_after = 0
    endpoint.script("500")  # read by the shared http_check: retried, same message
    hook = Notify(format=mattermost, url=endpoint.url, display_name="yolo bot", events=["alert"], backoff=0.01,
                  outbox=str(tmp_path / "outbox.jsonl"))
    message = Message(event="alert", severity="warning", title="val loss rising", text="3 epochs in a row",
                      fields={"Epoch": "7/10"}, run={"name": "train7", "host": "gpu1"})
    assert hook.send(message)
    assert hook.flush(5) == 0
    assert [r["reply"] for r in endpoint.requests] == ["500", "ok"]
    assert endpoint.requests[-1]["json"] == {
        "text": "**val loss rising**\n\n3 epochs in a row\n\n**Epoch:** 7/10\n\n> train7 · gpu1",
        "username": "yolo bot",
    }
    assert not (tmp_path / "outbox.jsonl").exists()


def test_the_new_service_options_are_checked_at_attach(mattermost):
    with pytest.raises(ConfigError, match="format `mattermost` needs `url`"):
        Notify(format=mattermost)
    with pytest.raises(ConfigError, match="format `mattermost` does not use `secret`; its options are: display_name, url"):
        Notify(format=mattermost, url="https://chat.example.com/hooks/x", secret="s")
    with pytest.raises(ConfigError, match=r"`display_name` must be a non-empty string, got 7"):
        Notify(format=mattermost, url="https://chat.example.com/hooks/x", display_name=7)
    assert "display_name" in Notify.option_names()  # so the core takes it from hooks.yaml and from Python
    assert "| `display_name` | text | no | — | no |" in formats.options_table(mattermost)


def test_a_name_is_registered_once_and_a_module_must_look_like_a_service(mattermost, tmp_path):
    (tmp_path / "my_services" / "slack.py").write_text(
        "from yolo_hooks.notify.formats.schema import WEBHOOK_URL\n\nOPTIONS = (WEBHOOK_URL,)\n\n"
        "def payload(message, options):\n    return {}\n")
    importlib.invalidate_caches()
    with pytest.raises(ValueError, match="notification format 'slack' is already yolo_hooks.notify.formats.slack"):
        formats.register("my_services.slack")
    (tmp_path / "my_services" / "empty.py").write_text("")
    importlib.invalidate_caches()  # files written after the package was imported
    with pytest.raises(ValueError, match="my_services.empty is not a service module"):
        formats.register("my_services.empty")
    (tmp_path / "my_services" / "old_style.py").write_text('REQUIRED = ("url",)\n\ndef payload(message, options):\n'
                                                           '    return {}\n')
    importlib.invalidate_caches()
    with pytest.raises(ValueError, match=r"my_services.old_style is not a service module: it needs OPTIONS"):
        formats.register("my_services.old_style")  # options as names only: nothing to check or redact them by


def test_every_shipped_service_declares_its_options_and_its_rate_limit_where_it_has_one():
    assert formats.FORMATS == ("json", "slack", "discord", "teams", "wecom", "dingtalk", "feishu", "telegram", "email",
                               "apprise")
    required = {fmt: tuple(o.name for o in options if o.required) for fmt, options in formats.OPTIONS.items()}
    assert required["telegram"] == ("bot_token", "chat_id") and required["email"] == ("smtp_host", "sender", "to")
    assert [o.name for o in formats.OPTIONS["json"]] == ["url", "secret"]
    documented = {"slack": 60, "discord": 30, "wecom": 20, "dingtalk": 20, "feishu": 60, "telegram": 20}
    assert formats.RATE_LIMITS == documented
    # a destination without `rate_limit` is paced by its service's own limit; json has none
    slack, json = (Destination.of("n", fmt, {"url": "http://127.0.0.1:9/h"}) for fmt in ("slack", "json"))
    assert Delivery(slack, {"url": "http://127.0.0.1:9/h"}).rate_limit == 60
    assert Delivery(json, {"url": "http://127.0.0.1:9/h"}).rate_limit is None


def test_a_service_without_a_url_tells_its_destinations_apart_by_its_own_identity(mattermost, tmp_path):
    (tmp_path / "my_services" / "pager.py").write_text(
        'from yolo_hooks.notify.formats.schema import Option\n\nOPTIONS = (Option("team", "text", required=True),)\n\n'
        'def identity(options):\n    return options["team"], f"pager team {options[\'team\']}"\n\n'
        'def build(message, options):\n    raise NotImplementedError\n')
    importlib.invalidate_caches()
    assert formats.register("my_services.pager") == "pager"
    ops, ml = (Destination.of("n", "pager", {"team": team}) for team in ("ops", "ml"))
    assert (ops.target, ml.target) == ("pager team ops", "pager team ml") and ops.key != ml.key
    chats = {Destination.of("n", "telegram", {"bot_token": "1:SECRET", "chat_id": c}).key for c in ("1", "2")}
    assert len(chats) == 2
    webhook = Destination.of("n", "no_longer_registered", {"url": "https://hooks.example.com/T0KEN/abcdefgh"})
    assert "abcdefgh" not in webhook.target  # an old outbox line's format: its URL, redacted
