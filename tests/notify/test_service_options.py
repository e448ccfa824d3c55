"""Each service declares its options as data (``formats/<service>.py``'s ``OPTIONS``); validation, redaction and
docs come from that declaration: tables of values per kind, the shipped declarations, and a service registered here
whose secret, named like nothing secret, is still masked, scrubbed and kept out of the outbox."""

from __future__ import annotations

import json
import re
import types

import pytest

from yolo_hooks import ConfigError, build_hooks, load_config
from yolo_hooks.core.redact import SECRET_KEY
from yolo_hooks.notify import Notify, formats
from yolo_hooks.notify.formats.schema import WEBHOOK_URL, Invalid, Option, check, markdown_table, secrets, shown
from yolo_hooks.notify.message import Message

PIN = "8817-2234-9090-PIN"
URL = "https://pager.example.com/hooks/TOKEN-0123456789abcdef"


# --- one validator per kind ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("option,value,expected", [
    (Option("u", "url"), "https://hooks.example.com/x", "https://hooks.example.com/x"),
    (Option("u", "url"), "http://127.0.0.1:8080/h?k=v", "http://127.0.0.1:8080/h?k=v"),
    (Option("t", "text"), "anything", "anything"),
    (Option("f", "path"), "/etc/ssl/ca.pem", "/etc/ssl/ca.pem"),
    (Option("p", "port"), 587, 587),
    (Option("p", "port"), 65535, 65535),
    (Option("c", "choice", choices=("a", "b")), "b", "b"),
    (Option("e", "emails"), "me@lab.example", ["me@lab.example"]),
    (Option("e", "emails"), ["a@b.c", "d@e.f"], ["a@b.c", "d@e.f"]),
    (Option("i", "chat_id"), -1001234567890, -1001234567890),
    (Option("i", "chat_id"), "@channel", "@channel"),
])  # fmt: skip
def test_a_value_of_its_kind_is_taken(option, value, expected):
    assert option.validate(value) == expected


@pytest.mark.parametrize("option,value,allowed", [
    (Option("u", "url"), "ftp://files.example.com/x", "an http:// or https:// URL"),
    (Option("u", "url"), "http:///no-host", "an http:// or https:// URL"),
    (Option("u", "url"), "http://127.0.0.1:port/h", "an http:// or https:// URL"),
    (Option("u", "url"), "http://[::1/h", "an http:// or https:// URL"),
    (Option("u", "url"), ["https://a.example"], "an http:// or https:// URL"),
    (Option("t", "text"), "   ", "a non-empty string"),
    (Option("t", "text"), 7, "a non-empty string"),
    (Option("f", "path"), ["a"], "a non-empty string"),
    (Option("p", "port"), 0, "an integer >= 1 and <= 65535"),
    (Option("p", "port"), 65536, "an integer >= 1 and <= 65535"),
    (Option("p", "port"), "587", "an integer >= 1 and <= 65535"),
    (Option("p", "port"), True, "an integer >= 1 and <= 65535"),
    (Option("p", "port"), 2**70, "an integer >= 1 and <= 65535"),
    (Option("c", "choice", choices=("a", "b")), "c", "one of a, b"),
    (Option("c", "choice", choices=("a", "b")), ["a"], "one of a, b"),
    (Option("e", "emails"), "nobody", "an e-mail address or a list of them"),
    (Option("e", "emails"), [], "an e-mail address or a list of them"),
    (Option("e", "emails"), ["a@b.c", 3], "an e-mail address or a list of them"),
    (Option("i", "chat_id"), True, "a chat id (number or @channelname)"),
    (Option("i", "chat_id"), "", "a chat id (number or @channelname)"),
    (Option("i", "chat_id"), 1.5, "a chat id (number or @channelname)"),
])  # fmt: skip
def test_a_value_not_of_its_kind_says_what_is_allowed(option, value, allowed):
    with pytest.raises(Invalid, match=f"^{allowed}$".replace("(", r"\(").replace(")", r"\)")):
        option.validate(value)


@pytest.mark.parametrize("options,error", [
    ({}, r'^ops: format `pager` needs `url` \(e\.g\. url: "\$\{WEBHOOK_URL\}"\)$'),
    ({"url": URL}, r'^ops: format `pager` needs `pin` \(e\.g\. pin: "\$\{PAGER_PIN\}"\)$'),
    ({"url": URL, "pin": ""}, r"needs `pin`"),  # ${UNSET:-} expands to ""
    ({"url": URL, "pin": PIN, "tam": "ops"}, r"^ops: format `pager` has no option `tam` \(did you mean `team`\?\); "
                                             r"its options are: pin, team, url$"),
    ({"url": URL, "pin": PIN, "bot_token": "x"}, r"^ops: format `pager` does not use `bot_token`; its options are"),
    ({"url": "ftp://pager.example.com/TOKEN-0123456789abcdef", "pin": PIN},
     r"^ops: `url` must be an http:// or https:// URL, got 'ftp://pager.example.com/\*\*\*'$"),
    ({"url": URL, "pin": 88172234}, r"^ops: `pin` must be a non-empty string, got '\*\*\*'$"),
    ({"url": URL, "pin": PIN, "team": ["ops"]}, r"^ops: `team` must be a non-empty string, got \['ops'\]$"),
])  # fmt: skip
def test_errors_name_the_hook_the_key_the_redacted_value_and_what_is_allowed(options, error):
    with pytest.raises(ConfigError, match=error) as caught:
        check("ops", "pager", PAGER, options, elsewhere=("bot_token",))
    assert PIN not in str(caught.value) and "88172234" not in str(caught.value)


def test_defaults_are_filled_in_and_none_is_not_given():
    assert check("ops", "pager", PAGER, {"url": URL, "pin": PIN, "team": None}) == {"url": URL, "pin": PIN,
                                                                                     "team": "ml"}
    assert formats.check_options("n", "email", {"smtp_host": "mail", "sender": "a@b.c", "to": "x@y.z"}) == {
        "smtp_host": "mail", "security": "starttls", "sender": "a@b.c", "to": ["x@y.z"]}


def test_a_declaration_names_a_known_kind_and_choices_only_for_a_choice():
    with pytest.raises(ValueError, match="kind must be one of url, urls, text"):
        Option("x", "number")
    with pytest.raises(ValueError, match="`choices` go with kind 'choice'"):
        Option("x", "choice")
    with pytest.raises(ValueError, match="`choices` go with kind 'choice'"):
        Option("x", "text", choices=("a",))


# --- the shipped declarations -------------------------------------------------------------------------------------
DECLARED = {  # format: (required options, secret options)
    "json": (["url"], ["url", "secret"]),
    "slack": (["url"], ["url"]),
    "discord": (["url"], ["url"]),
    "teams": (["url"], ["url"]),
    "wecom": (["url"], ["url"]),
    "dingtalk": (["url"], ["url", "secret"]),
    "feishu": (["url"], ["url", "secret"]),
    "telegram": (["bot_token", "chat_id"], ["bot_token"]),
    "email": (["smtp_host", "sender", "to"], ["password"]),
    "apprise": (["urls"], ["urls"]),
}


@pytest.mark.parametrize("fmt", list(DECLARED))
def test_every_format_declares_its_required_and_secret_options(fmt):
    required, secret = DECLARED[fmt]
    assert [o.name for o in formats.OPTIONS[fmt] if o.required] == required
    assert [o.name for o in formats.OPTIONS[fmt] if o.secret] == secret
    assert all(o.help for o in formats.OPTIONS[fmt])  # the docs have a line for each
    assert all(o.example.startswith("${") for o in formats.OPTIONS[fmt] if o.secret and o.required)


def test_every_shipped_format_is_declared_and_the_webhook_url_is_one_declaration():
    assert set(DECLARED) == set(formats.FORMATS)
    assert all(formats.OPTIONS[fmt][0] is WEBHOOK_URL for fmt in DECLARED if "url" in DECLARED[fmt][0])


def test_the_hook_takes_every_formats_options_and_refuses_one_for_another_format():
    names = Notify.option_names()
    assert {"format", "events", "timeout", "name"} <= set(names)
    assert {o.name for options in formats.OPTIONS.values() for o in options} <= set(names)
    with pytest.raises(ConfigError, match=r"^notify_slack: format `slack` does not use `bot_token`; its options are: url$"):
        Notify(format="slack", url=URL, bot_token="1:X")
    with pytest.raises(ConfigError, match=r"^notify: unknown option `bot_tokn` \(did you mean `bot_token`\?\)"):
        Notify(format="telegram", bot_tokn="1:X", chat_id=1)
    with pytest.raises(ConfigError, match=r"^notify: unknown option `smtp_hots` \(did you mean `smtp_host`\?\)"):
        build_hooks(load_config({"notify": [{"format": "email", "smtp_hots": "mail"}]}))


@pytest.mark.parametrize("fmt,options,hidden,visible", [
    ("slack", {"url": URL}, ["TOKEN-0123456789abcdef"], ["https://pager.example.com/***"]),
    ("json", {"url": URL, "secret": "whsec_c2VjcmV0"}, ["c2VjcmV0", "TOKEN-0123456789abcdef"], []),
    ("telegram", {"bot_token": "123:TOPSECRET", "chat_id": "-1001", "api_url": "https://tg.lab.example/p4th-0123456"},
     ["TOPSECRET", "p4th-0123456"], ["-1001", "https://tg.lab.example/***"]),
    ("email", {"smtp_host": "mail", "sender": "a@b.c", "to": "x@y.z", "smtp_user": "trainer", "password": "hunter2-x"},
     ["hunter2-x"], ["trainer", "x@y.z", "starttls"]),
])  # fmt: skip
def test_describe_and_secrets_follow_the_declaration(fmt, options, hidden, visible):
    hook = Notify(format=fmt, **options)
    text = json.dumps(hook.describe())
    assert not [h for h in hidden if h in text] and all(v in text for v in visible)
    assert all(any(h in s for s in hook.secrets()) for h in hidden)


def test_a_url_gives_its_path_and_query_as_secrets_and_a_secret_option_its_value():
    assert secrets(PAGER, {"url": URL, "pin": PIN, "team": "ops"}) == [URL, PIN, "/hooks/TOKEN-0123456789abcdef"]
    assert shown(PAGER, {"url": URL, "pin": PIN, "team": "ops", "odd": 1}) == {
        "url": "https://pager.example.com/***", "pin": "***", "team": "ops", "odd": "***"}


# --- docs ---------------------------------------------------------------------------------------------------------
def test_a_format_documents_its_options_as_a_markdown_table():
    assert formats.options_table("telegram") == "\n".join([
        "| option | type | required | default | secret | description |",
        "|---|---|---|---|---|---|",
        "| `bot_token` | text | yes | — | yes | the bot's token from @BotFather (part of every request's URL) |",
        "| `chat_id` | chat id | yes | — | no | the chat, group or channel: its number, or @channelname |",
        "| `api_url` | URL | no | `https://api.telegram.org` | no | the Bot API server (a self-hosted one) |",
        "| `commands` | true / false | no | `false` | no | take /status, /stop, /extend, /patience and /save from this "
        "chat (see Run control) |",
    ])  # fmt: skip
    assert "| `security` | choice: `starttls`, `ssl`, `none` | no | `starttls` | no |" in formats.options_table("email")
    assert markdown_table([Option("a", "text", help="x | y")]).endswith("| x \\| y |")
    with pytest.raises(ValueError, match="unknown notification format 'matrix'"):
        formats.options_table("matrix")


# --- a service registered here: its secret is redacted without being listed anywhere else -------------------------
PAGER = (
    WEBHOOK_URL,
    Option("pin", "text", required=True, secret=True, example="${PAGER_PIN}", help="the pager's PIN"),
    Option("team", "text", default="ml", help="who is paged"),
)


def _pager_module() -> types.ModuleType:
    """A service whose request cannot be built, with an error quoting its PIN (as a careless library might)."""
    module = types.ModuleType("tests_pager")
    module.NAME = "pager"
    module.OPTIONS = PAGER

    def build(message, options):
        raise RuntimeError(f"pager refused PIN {options['pin']} for {options['url']}")

    module.build = build
    return module


@pytest.fixture
def pager(formats_for_this_test):
    return formats_for_this_test.register(_pager_module())


def test_a_registered_services_secret_is_masked_scrubbed_and_kept_out_of_the_outbox(pager, tmp_path, log_lines):
    assert not SECRET_KEY.search("pin")  # nothing in its name says secret: only the declaration does
    hook = Notify(format=pager, url=URL, pin=PIN, retries=0, outbox=str(tmp_path / "outbox.jsonl"))
    assert hook.describe()["pin"] == "***" and hook.describe()["team"] == "ml" and PIN in hook.secrets()
    hook.log(f"about to page with {PIN}")
    assert hook.send(Message("crash", "critical", "run crashed", text=f"PIN was {PIN}"))
    assert hook.flush(10) == 1
    outbox = (tmp_path / "outbox.jsonl").read_text(encoding="utf-8")
    [record] = [json.loads(line) for line in outbox.splitlines()]
    assert record["reason"].startswith("rejected: could not build the pager request: pager refused PIN ***")
    logged = " ".join(log_lines)
    assert "about to page with ***" in logged and "pager refused PIN ***" in logged
    assert PIN not in outbox + logged and "TOKEN-0123456789abcdef" not in outbox + logged


def test_a_registered_service_cannot_shadow_an_option_every_destination_has(formats_for_this_test):
    module = _pager_module()
    module.OPTIONS = (WEBHOOK_URL, Option("timeout", "port"))
    formats.register(module)
    with pytest.raises(ConfigError, match="a notification format declares `timeout`, an option of every destination"):
        Notify(format="json", url=URL)


def test_a_module_declaring_an_option_twice_is_not_registered():
    module = _pager_module()
    module.OPTIONS = (WEBHOOK_URL, WEBHOOK_URL)
    with pytest.raises(ValueError, match="tests_pager declares an option twice: url, url"):
        formats.register(module)


def test_the_notify_page_shows_each_formats_table_as_its_declaration_makes_it():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "hooks" / "notify.md").read_text(encoding="utf-8")
    tables = dict(re.findall(r"<!-- service options: (\w+) -->\n`\w+`:\n\n(.*?)\n\n", page, re.S))
    assert sorted(tables) == sorted(formats.FORMATS)
    assert all(tables[fmt] == formats.options_table(fmt) for fmt in formats.FORMATS)
