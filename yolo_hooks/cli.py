"""``yolo-hooks``: Ultralytics' ``key=value`` command line, with hooks.

Usage:
    yolo-hooks train model=yolo11n.yaml data=datasets/coco8.yaml epochs=3 imgsz=320 hooks=hooks.yaml
    yolo-hooks val model=runs/detect/train/weights/best.pt data=datasets/coco8.yaml hooks=hooks.yaml
    yolo-hooks predict model=best.pt source=datasets/coco8/images/val hooks=hooks.yaml
    yolo-hooks track model=best.pt source=video.mp4 hooks=hooks.yaml   # e.g. with detection_alert
    yolo-hooks export model=best.pt format=torchscript hooks=hooks.yaml
    yolo-hooks check hooks.yaml          # validate a config, print the resolved hooks (secrets redacted)
    yolo-hooks outbox [replay] [dir=runs] # list / resend undelivered notifications
    yolo-hooks notify-test hooks.yaml    # one test message to each configured destination
    yolo-hooks recover RUN_DIR [hooks=hooks.yaml]  # finish what a killed run left undone (summary, message, mirror)
    yolo-hooks resume DEST hooks=hooks.yaml [dir=...] # go on from the mirrored last.pt on a fresh machine
    yolo-hooks review DIR [port=8000]    # the review page of detection alerts (DIR/alerts), served on loopback
    yolo-hooks status RUN_DIR            # where a run stands: alive, epoch, fitness, ETA, alerts, mirror, outbox
    yolo-hooks stop RUN_DIR [--reason TEXT] [--now]   # end a running training cleanly (at the epoch's end)
    yolo-hooks extend RUN_DIR --epochs N | --patience N   # N more epochs, or early_stop's patience, live
    yolo-hooks save RUN_DIR              # mirror last.pt and best.pt now (best_mirror), verified
    yolo-hooks receive [port=8080]       # a local webhook receiver that prints what it gets (for trying configs)
    yolo-hooks env hooks.yaml            # check a config, print `export YOLO_HOOKS=...`: hooks in every YOLO process
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Callable

MODES = ("train", "val", "predict", "track", "export")
STREAMED = ("predict", "track")  # results are consumed one by one: a long video never piles up in memory

# commands that live with the feature they belong to: name -> "module:function(argv) -> exit code"
EXTRA_COMMANDS: dict[str, str] = {
    "outbox": "yolo_hooks.notify.cli:outbox_command",
    "notify-test": "yolo_hooks.notify.cli:notify_test_command",
    "env": "yolo_hooks.env.command:env_command",
    "recover": "yolo_hooks.recovery.cli:recover_command",
    "resume": "yolo_hooks.recovery.resume:resume_command",
    "review": "yolo_hooks.detection.cli:review_command",
    "status": "yolo_hooks.control.cli:status_command",
    "stop": "yolo_hooks.control.cli:stop_command",
    "extend": "yolo_hooks.control.cli:extend_command",
    "save": "yolo_hooks.control.cli:save_command",
}


def say(text: str, *, err: bool = False, secrets: tuple[str, ...] | list[str] = ()) -> None:
    """Print CLI output, scrubbed of ``secrets`` and of every secret this process has seen (the CLI's only print).

    A server's error body may echo a webhook token back; a config error may quote an expanded ``${VAR}``.
    """
    from .core.redact import scrub

    print(scrub(text, secrets), file=sys.stderr if err else sys.stdout)


def parse_pairs(args: list[str]) -> dict:
    """``["epochs=3", "imgsz=320"]`` -> ``{"epochs": 3, "imgsz": 320}`` with Ultralytics' own value parsing."""
    from ultralytics.cfg import smart_value

    out = {}
    for arg in args:
        if "=" not in arg:
            raise SystemExit(f"yolo-hooks: expected key=value, got {arg!r}")
        key, value = arg.split("=", 1)
        out[key.strip()] = smart_value(value.strip())
    return out


def run_mode(mode: str, args: list[str]) -> int:
    """``yolo-hooks <mode> model=... hooks=hooks.yaml ...``: load the model, attach hooks, run the mode."""
    from ultralytics import YOLO

    from .core import ConfigError, attach

    overrides = parse_pairs(args)
    model_path = overrides.pop("model", "yolo11n.yaml" if mode == "train" else None)
    if model_path is None:
        raise SystemExit(f"yolo-hooks {mode}: model=... is required")
    hooks = overrides.pop("hooks", None)
    model = YOLO(str(model_path))
    try:  # without hooks= too: every run it starts takes yolo-hooks stop|extend|save|status
        attach(model, *([str(hooks)] if hooks else []))
    except ConfigError as e:
        say(f"yolo-hooks: {e}", err=True)
        return 2
    if mode in STREAMED and "stream" not in overrides:
        for _ in getattr(model, mode)(stream=True, **overrides):
            pass
    else:
        getattr(model, mode)(**overrides)
    from .core.deadline import finish_background_work

    finish_background_work()  # the command's process ends here: alert images, copies and messages first
    return 0


def check_command(args: list[str]) -> int:
    """Validate a hooks.yaml and print each resolved hook with its options, secrets redacted."""
    from .core import ConfigError
    from .core.config import build_hooks, load_config, option_sets
    from .core.redact import redact_mapping

    if len(args) != 1:
        say("usage: yolo-hooks check hooks.yaml", err=True)
        return 2
    try:
        config = load_config(args[0])
        hooks = build_hooks(config)
        pairs = option_sets(config)
    except ConfigError as e:
        say(f"yolo-hooks: {e}", err=True)
        return 2
    say(f"{args[0]}: {len(hooks)} hook(s) OK")
    for hook, (name, options) in zip(hooks, pairs):
        shown = hook.describe()  # the hook's own redaction (apprise's privacy form of its URLs), else ours
        shown = redact_mapping(options) if shown is None else shown
        say(f"  {name}: {json.dumps(shown, default=str)}")  # and scrubbed of every secret, as all output is
    return 0


def receive_command(args: list[str]) -> int:
    """Run a loopback webhook receiver that prints every message, until Ctrl-C."""
    import time

    from .notify.receiver import WebhookReceiver

    options = parse_pairs(args)
    receiver = WebhookReceiver(port=int(options.get("port", 8080)), echo=print).start()
    say(f"yolo-hooks: receiving on {receiver.url} (use it as `url:` of a `format: json` destination); Ctrl-C stops")
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        receiver.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``yolo-hooks`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        say(__doc__)
        return 0
    command, rest = argv[0], argv[1:]
    if command in MODES:
        return run_mode(command, rest)
    if command == "check":
        return check_command(rest)
    if command == "receive":
        return receive_command(rest)
    if command in EXTRA_COMMANDS:
        module, func = EXTRA_COMMANDS[command].split(":")
        handler: Callable[[list[str]], int] = getattr(importlib.import_module(module), func)
        return handler(rest)
    commands = ", ".join([*MODES, "check", "receive", *EXTRA_COMMANDS])
    say(f"yolo-hooks: unknown command {command!r}; commands: {commands}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
