"""Every bad ``notify`` entry is a ConfigError at attach, naming hook, key, value and what is allowed."""

from __future__ import annotations

import base64

import pytest

from yolo_hooks import ConfigError, build_hooks, load_config
from yolo_hooks.notify import Notify, formats
from yolo_hooks.notify.formats.json_ import signing_secret
from yolo_hooks.notify.formats.schema import Invalid
from yolo_hooks.notify.options import check_events

URL = "http://127.0.0.1:9/hook/TOKEN-options-0123456789"
GOOD_WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.mark.parametrize("entry,error", [
    ({"url": URL}, r"^notify: `format` must be one of json, slack, .*, got None"),
    ({"format": ["slack"], "url": URL}, r"^notify: `format` must be one of .*, got \['slack'\]"),
    ({"format": "json", "url": URL, "name": ["x"]}, r"^notify_json: `name` must be a non-empty string, got \['x'\]"),
    ({"format": "json", "url": URL, "name": 7}, r"`name` must be a non-empty string, got 7"),
    ({"format": "json", "url": URL, "secret": "whsec_not base64!"},
     r"^notify_json: `secret` must be whsec_ followed by valid base64, or any other text, got '\*\*\*'"),
    ({"format": "json", "url": URL, "events": [["crash"]]}, r"unknown event `\['crash'\]`"),
    ({"format": "json", "url": URL, "strict": "yes"}, r"`strict` must be true or false"),
    ({"format": "json", "url": "http://127.0.0.1:port/hook"}, r"`url` must be an http:// or https:// URL"),
    ({"format": "json", "url": "http:///no-host"}, r"`url` must be an http:// or https:// URL"),
])  # fmt: skip
def test_a_bad_entry_is_a_config_error_at_attach(entry, error):
    with pytest.raises(ConfigError, match=error):
        build_hooks(load_config({"notify": [entry]}))


def test_errors_name_the_destination_by_its_chosen_name():
    with pytest.raises(ConfigError, match=r"^ops_pager: `timeout` must be a number > 0"):
        Notify(format="json", url=URL, timeout=0, name="ops_pager")
    with pytest.raises(ConfigError, match=r"^ops_pager: unknown event `crsh`"):
        Notify(format="json", url=URL, events=["crsh"], name="ops_pager")


def test_a_valid_whsec_secret_and_a_plain_secret_attach():
    assert Notify(format="json", url=URL, secret=GOOD_WHSEC).destination.format == "json"
    assert signing_secret("any text is used as it is") == "any text is used as it is"
    with pytest.raises(Invalid, match="^whsec_ followed by valid base64, or any other text$"):
        signing_secret("whsec_not base64!")


def test_option_checks_are_plain_functions():
    every = check_events("notify", "all", progress=False)
    assert "train_end" in every and "export_report" not in every  # reports only when named
    assert formats.check_options("notify", "email", {"smtp_host": "mail", "sender": "a@b.c", "to": "x@y.z"})["to"] == [
        "x@y.z"
    ]
