"""Fuzz: hundreds of seeded random mutations of examples/hooks.yaml each either attach or raise ConfigError —
never another exception type, never a hang, never a secret in the message."""

from __future__ import annotations

import base64
import copy
import random
import re
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from ultralytics import YOLO

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.core import redact
from yolo_hooks.core.config import ENV_REF
from yolo_hooks.core.redact import SECRET_KEY
from yolo_hooks.core.registry import REGISTRY, hook_class

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hooks.yaml"
SEED = 20261201
DICT_CASES = 300
TEXT_CASES = 100
SECRETS = {
    "url": "https://hooks.slack.com/services/T0FUZZ42/B0FUZZ42/FUZZSECRET0123456789",
    "token": "FUZZSECRET0123456789",
    "password": "hunter2-FUZZ-PASS-77",
}
EMAIL = {"format": "email", "smtp_host": "127.0.0.1", "sender": "a@example.com", "to": "b@example.com",
         "password": "${SMTP_PASSWORD}"}  # fmt: skip


def secret_forms() -> list[str]:
    forms = []
    for secret in SECRETS.values():
        forms += [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]
    return forms


@pytest.fixture
def env(monkeypatch, tmp_path) -> None:
    """Every ${VAR} of the example set: secret-looking ones to a secret, the others (folders) to tmp paths."""
    for name in set(ENV_REF.findall(EXAMPLE.read_text(encoding="utf-8"))) | {("SMTP_PASSWORD", "")}:
        var = name[0]
        value = SECRETS["password"] if "PASS" in var else SECRETS["url"] if SECRET_KEY.search(var) else tmp_path / var
        monkeypatch.setenv(var, str(value))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", SECRETS["url"])
    monkeypatch.setenv("SMTP_PASSWORD", SECRETS["password"])
    monkeypatch.setenv("FUZZ_TOKEN", SECRETS["token"])
    # the fuzz puts words like "alert" under secret keys: what it teaches the scrubber is forgotten afterwards
    monkeypatch.setattr(redact, "_remembered", redact._remembered)


def hostile_values(rng: random.Random) -> list:
    return [None, True, False, 0, -1, 7, 2**70, 1e308, float("nan"), float("inf"), -0.5, "", "   ", "x" * 3000,
            "5%", "-5%", "abc%", "1e999%", [], {}, [[]], [None], {"a": 1}, {1: 2}, ["x", 3], "${SLACK_WEBHOOK_URL}",
            "${SMTP_PASSWORD}", "${FUZZ_TOKEN}", "${NOT_SET_FUZZ}", "${SLACK_WEBHOOK_URL:-}", "run\udce9",
            "max", "min", "val/loss", "fitness", "stop", "alert", "slack", "json", "email", "whsec_!!!",
            "whsec_" + base64.b64encode(rng.randbytes(24)).decode(), "ftp://x/y", "http://", "file:///tmp",
            "{name}-{epoch}", "{nope}", b"bytes", ("t", "u"), rng.random() * 100, rng.randint(-5, 50)]  # fmt: skip


def all_option_names() -> list[str]:
    names = {"name", "strict", "sender", "password", "secret", "url", "to", "bot_token", "chat_id", "wrong_key"}
    for config_name in REGISTRY:
        names.update(hook_class(config_name).option_names())  # as the core checks keys (notify: every format's too)
    return sorted(names)


def paths(tree, prefix=()):
    """Every (container, key) in the tree, the root's keys included."""
    out = []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    for key, value in items:
        out.append((tree, key))
        out += paths(value, prefix + (key,))
    return out


def mutate(rng: random.Random, config: dict, keys: list[str]) -> dict:
    config = copy.deepcopy(config)
    for _ in range(rng.randint(1, 3)):
        where = paths(config)
        if not where:
            return config
        container, key = rng.choice(where)
        op = rng.randrange(6)
        if op == 0:
            container[key] = rng.choice(hostile_values(rng))
        elif op == 1:
            del container[key]
        elif op == 2 and isinstance(container, dict):
            container[rng.choice(keys)] = rng.choice(hostile_values(rng))
        elif op == 3 and isinstance(container, dict):
            container[str(key)[: rng.randint(0, len(str(key)))] + rng.choice(["", "_", "s"])] = container.pop(key)
        elif op == 4:
            container[key] = [container[key]] if rng.random() < 0.5 else {str(key): container[key]}
        else:
            container[key] = copy.deepcopy(rng.choice(where)[0])  # a piece of the config somewhere it does not belong
    return config


def text_mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(text))
        piece = rng.choice([":", "[", "]", "{", "}", "-", "\t", "'", '"', "\n  ", "${SMTP_PASSWORD}", "&a", "*a", "!!",
                            "\xff", "\udcff", "%", "#", " ", "\n- "])  # fmt: skip
        text = text[:i] + (piece if rng.random() < 0.7 else "") + text[i + rng.randint(0, 3):]
    return text


def fresh(model):
    for event, callbacks in model.callbacks.items():
        model.callbacks[event] = [cb for cb in callbacks if not type(cb).__module__.startswith("yolo_hooks")]
    return model


def attach_or_explain(model, item) -> str | None:
    """None when it attached or raised ConfigError without a secret; else what went wrong."""
    try:
        yolo_hooks.attach(fresh(model), item)
    except ConfigError as e:
        leaked = [form for form in secret_forms() if form in str(e)]
        return f"secret {leaked} in: {e}" if leaked else None
    except Exception as e:  # noqa: BLE001 (the point: any other type is the failure this test looks for)
        return f"{type(e).__name__}: {e}"
    return None


def test_every_mutation_of_the_example_attaches_or_is_a_config_error(env, tmp_path):
    base = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    base.setdefault("notify", []).append(EMAIL)
    text = EXAMPLE.read_text(encoding="utf-8") + "\n# an e-mail destination with a password\n"
    keys = all_option_names()
    model = YOLO("yolo11n.yaml")
    rng = random.Random(SEED)
    failures: list[str] = []
    counts = {"attached": 0, "ConfigError": 0}

    def run() -> None:
        for case in range(DICT_CASES + TEXT_CASES):
            if case < DICT_CASES:
                item = mutate(rng, base, keys)
            else:
                path = tmp_path / f"case{case}.yaml"
                path.write_bytes(text_mutate(rng, text).encode("utf-8", "surrogatepass"))
                item = path
            try:
                yolo_hooks.attach(fresh(model), item)
                counts["attached"] += 1
                continue
            except ConfigError:
                counts["ConfigError"] += 1
            except Exception:  # noqa: BLE001
                pass
            problem = attach_or_explain(model, item)
            if problem:
                failures.append(f"case {case}: {problem}\n  {item if isinstance(item, Path) else repr(item)[:600]}")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=240)
    assert not worker.is_alive(), "a mutated config made attach hang"
    assert not failures, f"{len(failures)} bad outcome(s):\n" + "\n".join(failures[:10])
    assert counts["attached"] > 10 and counts["ConfigError"] > 100, counts  # both branches really exercised


def test_the_example_itself_attaches(env):
    hooks = yolo_hooks.attach(YOLO("yolo11n.yaml"), str(EXAMPLE))
    assert len(hooks) == len(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    assert re.search(r"notify", " ".join(h.name for h in hooks))


LONG = 100_000  # characters: a value pasted by mistake, a file read into a variable


def long_values() -> list:
    """Shapes that made a regular expression backtrack: a long run before " ://", digits before a bad unit, spaces
    before junk, "${" references that never close, and a long URL; as strings, in a list and in a mapping."""
    texts = ["a" * LONG + " ://", "1" * LONG + "x", "1" + " " * LONG + "x", "${A:-" * (LONG // 5),
             "https://example.com/" + "a" * LONG, "x" * LONG]
    return [*texts, [texts[0]], {"k": texts[0]}]


def test_a_long_value_under_any_option_of_any_hook_is_refused_at_once(env):
    """Every pattern that sees a config value is linear: a 100 KB value is a ConfigError in well under 0.5 s."""
    base = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    model = YOLO("yolo11n.yaml")
    slowest, problems = (0.0, ""), []
    for name in REGISTRY:
        entry = base.get(name)
        entry = dict(entry[0] if isinstance(entry, list) else entry if isinstance(entry, dict) else {})
        for option in hook_class(name).option_names():
            for value in long_values():
                for _ in range(2):  # once more when slow: the first fsspec URL pays for importing fsspec
                    started = time.perf_counter()
                    problem = attach_or_explain(model, {name: {**entry, option: value}})
                    took = time.perf_counter() - started
                    if took < 0.5:
                        break
                slowest = max(slowest, (took, f"{name}.{option} = {repr(value)[:40]}..."))
                if problem:
                    problems.append(f"{name}.{option}: {problem[:300]}")
    assert not problems, "\n".join(problems[:10])
    assert slowest[0] < 0.5, slowest


def test_a_long_hooks_file_is_read_at_once(env, tmp_path):
    path = tmp_path / "hooks.yaml"
    path.write_text(f"notify:\n  - {{format: json, url: '{'${A:-' * (LONG // 5)}'}}\n", encoding="utf-8")
    model = YOLO("yolo11n.yaml")
    started = time.perf_counter()
    assert attach_or_explain(model, path) is None  # refused with a ConfigError that shows no secret
    assert time.perf_counter() - started < 0.5
