"""``yolo-hooks status|stop|extend|save RUN_DIR``: steer a training from a shell on the machine it runs on.

Usage:
    yolo-hooks status RUN_DIR [--json]
    yolo-hooks stop RUN_DIR [--reason TEXT] [--now] [--wait SECONDS]
    yolo-hooks extend RUN_DIR --epochs N | --patience N [--wait SECONDS]
    yolo-hooks save RUN_DIR [--wait SECONDS]

Options may also be written Ultralytics' way: ``reason="val loss diverging" now=True epochs=5``.

A command goes to the run's inbox (``control_inbox.jsonl``); the run takes it at its next batch or epoch end and
writes its answer to ``control.jsonl``, which this command waits for and prints. A run that has ended (or was
killed) takes no command: it is refused here, with what the folder says about it.

Exit codes: 0 done (or accepted: save prints the verified copies as they come), 1 refused or failed, 2 bad usage,
3 no answer within ``--wait`` seconds (the run answers at its next batch or epoch end: a long validation delays it).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import time
from pathlib import Path

from ..core import marker as run_marker
from ..core.run_info import HOST
from .commands import Command, CommandError, from_request, new_id
from .inbox import post, read_audit
from .status import liveness, read_status, status_text

FINAL = ("done", "refused", "failed")
WAIT = {"save": 120.0}  # seconds a command waits for its answer by default (a save waits for verified copies)


def _say(text: str, err: bool = False) -> None:
    from ..cli import say

    say(text, err=err)


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"yolo-hooks {command}", add_help=True)
    parser.add_argument("run_dir", metavar="RUN_DIR")
    if command == "status":
        parser.add_argument("--json", action="store_true", help="print the status as JSON")
        return parser
    if command == "stop":
        parser.add_argument("--reason", help="why (in the log, control.jsonl and train_end)")
        parser.add_argument("--now", action="store_true", help="after the current batch, not the epoch's end")
    if command == "extend":
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--epochs", type=int, help="train N more epochs")
        which.add_argument("--patience", type=int, help="early_stop's patience from now on")
    parser.add_argument("--wait", type=float, default=WAIT.get(command, 30.0), help="seconds to wait for the answer")
    return parser


def _options(argv: list[str]) -> list[str]:
    """``key=value`` words as ``--key value`` (``now=True`` as ``--now``), the rest as they are."""
    out = []
    for word in argv:
        key, sep, value = word.partition("=")
        if sep and not word.startswith("-") and key in ("reason", "now", "epochs", "patience", "wait", "json"):
            if key in ("now", "json"):
                out += [f"--{key}"] if value.lower() in ("true", "1", "yes") else []
            else:
                out += [f"--{key}", value]
        else:
            out.append(word)
    return out


def control_command(name: str, argv: list[str]) -> int:
    """``yolo-hooks <name> RUN_DIR ...`` (``name``: status, stop, extend, save)."""
    try:
        args = _parser(name).parse_args(_options(argv))
    except SystemExit as e:  # argparse printed the usage
        return 0 if e.code == 0 else 2
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        _say(f"yolo-hooks {name}: no such folder: {run_dir}", err=True)
        return 2
    if name == "status":
        status = read_status(run_dir)
        _say(json.dumps(status, indent=2, default=str) if args.json else status_text(status))
        return 0
    said, takes_commands = liveness(run_marker.read(run_dir))
    if not takes_commands:
        _say(f"yolo-hooks {name}: refused: {run_dir.name} takes no commands: {said}", err=True)
        return 1
    try:
        command = _command(name, args)
    except CommandError as e:
        _say(f"yolo-hooks {name}: {e}", err=True)
        return 2
    post(run_dir, command)
    return _wait(run_dir, command, args.wait)


def _command(name: str, args: argparse.Namespace) -> Command:
    meta = dict(id=new_id(), source="cli", sender=f"{_user()}@{HOST} (yolo-hooks)", time=time.time())
    if name == "stop":
        return from_request({"command": "stop", "reason": args.reason, "now": bool(args.now)}, **meta)
    if name == "extend" and args.patience is not None:
        return from_request({"command": "patience", "patience": args.patience}, **meta)
    if name == "extend":
        return from_request({"command": "extend", "epochs": args.epochs}, **meta)
    return from_request({"command": "save"}, **meta)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (a container without /etc/passwd entry)
        return "someone"


def _wait(run_dir: Path, command: Command, wait: float) -> int:
    """Print the run's answers to ``command`` until a final one (or ``wait`` seconds)."""
    end, shown = time.monotonic() + wait, 0
    while True:
        answers = [r for r in read_audit(run_dir) if r.get("id") == command.id]
        for record in answers[shown:]:
            _say(f"{run_dir.name}: {record.get('result')}: {_strip(record.get('text', ''))}")
        shown = len(answers)
        if answers and answers[-1].get("result") in FINAL:
            return 0 if answers[-1]["result"] == "done" else 1
        if time.monotonic() >= end:
            break
        if not answers and not liveness(run_marker.read(run_dir))[1]:
            _say(f"yolo-hooks {command.name}: {run_dir.name} ended before it read the command", err=True)
            return 1
        time.sleep(0.2)
    if shown:
        return 0  # accepted (a save still verifying): its result will be in control.jsonl
    _say(f"yolo-hooks {command.name}: no answer within {wait:g} s: the run reads commands at its batch and epoch "
         f"ends (a long validation delays it); its answer will be in {run_dir / 'control.jsonl'}", err=True)
    return 3


def _strip(text: str) -> str:
    return text[len("refused: "):] if text.startswith("refused: ") else text


def status_command(argv: list[str]) -> int:
    return control_command("status", argv)


def stop_command(argv: list[str]) -> int:
    return control_command("stop", argv)


def extend_command(argv: list[str]) -> int:
    return control_command("extend", argv)


def save_command(argv: list[str]) -> int:
    return control_command("save", argv)


if __name__ == "__main__":
    sys.exit(control_command(sys.argv[1], sys.argv[2:]))
