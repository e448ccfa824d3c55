"""``yolo-hooks outbox [replay]`` and ``yolo-hooks notify-test``.

Usage:
    yolo-hooks outbox [dir=runs]                          # list undelivered messages (a folder or one file)
    yolo-hooks outbox replay hooks=hooks.yaml [dir=runs]  # resend them; delivered lines are removed
    yolo-hooks notify-test hooks.yaml                     # one test message to each destination

Replay reads the URLs and tokens from hooks.yaml (and its ``${ENV_VAR}`` references), never from the outbox,
which holds no secret. Exit codes: 0 all good, 1 something is still undelivered / failed, 2 bad usage or config.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..cli import say
from ..core.redact import remember
from . import outbox
from .compose import probe_message
from .replay import replay


def _pairs(argv: list[str], positional: tuple[str, ...] = ()) -> dict[str, str]:
    """``key=value`` arguments; bare words fill ``positional`` names in order."""
    out, names = {}, list(positional)
    for arg in argv:
        if "=" in arg:
            key, value = arg.split("=", 1)
            out[key.strip()] = value.strip()
        elif names:
            out[names.pop(0)] = arg
        else:
            raise ValueError(f"unexpected argument {arg!r}")
    return out


def _destinations(hooks_path: str) -> list:
    """The Notify hooks of ``hooks_path``, named as ``attach`` names them (``notify_json``, ``notify_json_2``...)."""
    from ..core.attach import give_unique_names
    from ..core.config import build_hooks, load_config
    from .hook import Notify

    hooks = build_hooks(load_config(hooks_path))
    give_unique_names(hooks)
    for hook in hooks:
        remember(hook.secrets())  # a server may echo a token back in the error this command prints
    return [h for h in hooks if isinstance(h, Notify)]


def outbox_command(argv: list[str]) -> int:
    """``yolo-hooks outbox [dir=...]`` lists; ``yolo-hooks outbox replay hooks=hooks.yaml [dir=...]`` resends."""
    from ..core.errors import ConfigError

    resend = bool(argv) and argv[0] == "replay"
    try:
        args = _pairs(argv[1:] if resend else argv, ("dir",))
        retries = int(args.get("retries", 2))
    except ValueError as e:
        say(f"yolo-hooks outbox: {e}\n{__doc__}", err=True)
        return 2
    from ..recovery.recover import recover_below

    for report in recover_below(args.get("dir", ".")):  # killed runs: summary, `killed` message to the outbox
        for line in report.lines() if report.killed else ():
            print(line)
    from .journal import recover

    recovered = recover(args.get("dir", "."))  # messages a killed run left in flight
    if recovered:
        say(f"{recovered} message(s) left in flight by a killed run were moved to the outbox")
    files = outbox.find(args.get("dir", "."))
    if not files:
        say(f"no outbox under {Path(args.get('dir', '.')).resolve()}: nothing undelivered")
        return 0
    if not resend:
        total = 0
        for path in files:
            records, bad = outbox.read(path)
            total += len(records)
            unreadable = f", {len(bad)} unreadable line(s)" if bad else ""
            say(f"{path}: {len(records)} undelivered message(s){unreadable}")
            for line in outbox.summarize(records):
                say(f"  {line}")
        if total:
            say("resend with: yolo-hooks outbox replay hooks=<your hooks.yaml> dir=...")
        return 0
    if "hooks" not in args:
        say("yolo-hooks outbox replay: hooks=hooks.yaml is required (the outbox holds no URL or token)", err=True)
        return 2
    try:
        deliveries = [hook.delivery for hook in _destinations(args["hooks"])]
    except ConfigError as e:
        say(f"yolo-hooks: {e}", err=True)
        return 2
    left = 0
    for path in files:
        report = replay(path, deliveries, retries=retries)
        left += report.remaining
        extra = f", {report.duplicates} duplicate(s) dropped" if report.duplicates else ""
        extra += f", {report.unmatched} for a destination not in {args['hooks']}" if report.unmatched else ""
        say(f"{path}: {report.delivered} delivered, {report.remaining} still undelivered{extra}")
        for line in report.failed:
            say(f"  failed: {line}")
    return 1 if left else 0


def notify_test_command(argv: list[str]) -> int:
    """``yolo-hooks notify-test hooks.yaml``: send one test message to each destination, print each result."""
    from ..core.errors import ConfigError

    try:
        args = _pairs(argv, ("hooks",))
        retries = int(args.get("retries", 1))
    except ValueError as e:
        say(f"yolo-hooks notify-test: {e}\n{__doc__}", err=True)
        return 2
    if "hooks" not in args:
        say("usage: yolo-hooks notify-test hooks.yaml", err=True)
        return 2
    try:
        hooks = _destinations(args["hooks"])
    except ConfigError as e:
        say(f"yolo-hooks: {e}", err=True)
        return 2
    if not hooks:
        say(f"{args['hooks']}: no notify destination configured", err=True)
        return 2
    failed = 0
    for hook in hooks:
        delivery = hook.delivery
        dest = delivery.destination
        start = time.perf_counter()
        result = delivery.send(probe_message(dest.name), retries=retries, report=False)
        took = time.perf_counter() - start
        if result.ok:
            say(f"{dest.name} ({dest.format} → {dest.target}): OK in {took:.2f} s")
        else:
            failed += 1
            how = "rejected" if result.permanent else f"failed after {result.attempts} attempt(s)"
            say(f"{dest.name} ({dest.format} → {dest.target}): {how}: {result.error}", secrets=hook.secrets())
        delivery.close()
    say(f"{len(hooks) - failed}/{len(hooks)} destination(s) OK")
    return 1 if failed else 0
