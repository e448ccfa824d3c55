"""The code blocks of README.md and docs/: found, sorted into what runs and what is a marked fragment, and run.

Used by ``tests/test_docs_snippets.py``; run as a script it is the worker process that executes the pages (it must
not import pytest: Ultralytics changes where runs go when it sees pytest).

A page's blocks run in order, as a reader goes down the page: in one namespace, in a fresh folder of the page's own
that holds a copy of ``datasets/`` and ``examples/`` (the clone's layout, so ``data="datasets/coco8.yaml"`` works as
pasted and nothing is written into the repository). What each kind of block does:

- ``python``: executed;
- ``yaml`` with a title (```` ```yaml title="hooks.yaml" ````): written to that file first, then checked like every
  other hooks config (each ``yaml`` block is one, or a fragment);
- ``bash`` / ``console``: each ``yolo-hooks`` command in it runs (``yolo_hooks.cli.main``, the console script's
  entry point) and must exit with 0: ``check``, ``env``, ``--help``, ``outbox`` (listing, or a replay to a loopback
  receiver the page started), ``notify-test``, ``recover``. A block with a command that trains, predicts, exports,
  serves until Ctrl-C or needs a remote store (``train``, ``val``, ``predict``, ``track``, ``export``,
  ``receive``, ``resume``) must be a fragment.

A block that cannot run says so right before it, with the reason: ``<!-- fragment: needs an S3 bucket -->``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_hooks" not in p.parts)]

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\n]*)$")
FRAGMENT = re.compile(r"^\s*<!--\s*fragment\s*:?(?P<reason>.*?)-->\s*$")
TITLE = re.compile(r"""title=["']([^"']+)["']""")
NOT_CHEAP = {"train", "val", "predict", "track", "export", "receive", "resume"}  # shown in fragments only


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the first line of code (the one after the opening fence)
    lang: str
    title: str | None
    code: str
    fragment: str | None  # the reason given, "" when the marker has none; None: not a fragment

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    text: str = ""

    @property
    def cheap(self) -> bool:
        return not self.argv or self.argv[0] not in NOT_CHEAP


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of ``page``, with the fragment marker right before it, if any."""
    lines = page.read_text(encoding="utf-8").splitlines()
    out, i = [], 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines):
            close = FENCE.match(lines[i])
            if close and close["fence"][0] == fence[0] and len(close["fence"]) >= len(fence) and not close["info"].strip():
                break
            body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
            i += 1
        i += 1
        before = next((lines[j] for j in range(start - 2, -1, -1) if lines[j].strip()), "")
        marker = FRAGMENT.match(before)
        title = TITLE.search(info)
        out.append(Block(page, start + 1, info.split()[0] if info else "", title[1] if title else None,
                         "\n".join(body) + "\n", marker["reason"].strip() if marker else None))
    return out


def commands(block: Block) -> list[Command]:
    """The ``yolo-hooks`` commands of a ``bash`` / ``console`` block (``console``: only lines after ``$ ``)."""
    joined, pending = [], ""
    for line in block.code.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    out = []
    for line in joined:
        text = line.strip()
        if block.lang == "console":
            if not text.startswith("$ "):
                continue
            text = text[2:]
        inner = re.search(r"\$\((yolo-hooks [^)]*)\)", text)  # eval "$(yolo-hooks env hooks.yaml)"
        if inner:
            text = inner[1]
        try:
            tokens = shlex.split(text, comments=True)
        except ValueError:
            continue
        env = {}
        while tokens and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", tokens[0]):
            key, value = tokens.pop(0).split("=", 1)
            env[key] = value
        if tokens and tokens[0] == "yolo-hooks":
            out.append(Command(tokens[1:], env, text))
    return out


def steps(page: Path) -> list[dict]:
    """What runs of ``page``, in order: files to write, Python to execute, commands to run."""
    out = []
    for block in blocks(page):
        if block.fragment is not None:
            continue
        if block.lang == "python":
            out.append({"kind": "python", "where": block.where, "file": str(block.page), "line": block.line,
                        "code": block.code})
        elif block.lang == "yaml" and block.title:
            out.append({"kind": "file", "where": block.where, "name": block.title, "text": block.code})
        elif block.lang in ("bash", "console", "shell", "sh"):
            for command in commands(block):
                out.append({"kind": "command", "where": block.where, "argv": command.argv, "env": command.env,
                            "text": command.text, "cheap": command.cheap})
    return out


# --- the worker ---------------------------------------------------------------------------------------------------
def _guard_network(blocked: list[str]) -> None:
    """Connections anywhere but loopback (and Unix sockets) are refused and recorded."""
    import errno
    import ipaddress
    import socket

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def allowed(sock, address) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        host = str(address[0])
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return host == "localhost"

    def connect(sock, address):
        if not allowed(sock, address):
            blocked.append(repr(address))
            raise ConnectionRefusedError(errno.ECONNREFUSED, f"docs snippets reach loopback only, not {address!r}")
        return real_connect(sock, address)

    def connect_ex(sock, address):
        if not allowed(sock, address):
            blocked.append(repr(address))
            return errno.ECONNREFUSED
        return real_connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex


def _run_page(job: dict, blocked: list[str]) -> dict:
    import builtins
    import contextlib
    import io
    import os
    import time
    import traceback

    from ultralytics import settings

    os.chdir(job["cwd"])
    settings.update(runs_dir=str(Path(job["cwd"]) / "runs"))  # what a clone's runs_dir is: runs/ in the clone
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    blocked.clear()
    timings = []
    for step in job["steps"]:
        started = time.perf_counter()
        print(f"\n===== {step['where']} ({step['kind']}) =====", flush=True)
        try:
            if step["kind"] == "file":
                Path(step["name"]).write_text(step["text"], encoding="utf-8")
            elif step["kind"] == "python":
                source = "\n" * (step["line"] - 1) + step["code"]  # tracebacks point at the page's own lines
                exec(compile(source, step["file"], "exec"), namespace)
            else:
                from yolo_hooks import cli

                saved = {k: os.environ.get(k) for k in step["env"]}
                os.environ.update(step["env"])
                out = io.StringIO()
                try:
                    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                        code = cli.main(step["argv"])
                finally:
                    for k, v in saved.items():
                        os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
                print(f"$ {step['text']}\n{out.getvalue()}", flush=True)
                if code != 0:
                    raise RuntimeError(f"`{step['text']}` exited with {code}:\n{out.getvalue()}")
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - SystemExit too: a snippet's failure is the test's finding
            return {"ok": False, "where": step["where"], "error": traceback.format_exc(), "blocked": list(blocked),
                    "timings": timings}
        finally:
            import sys

            sys.stdout.flush()
            sys.stderr.flush()
        timings.append((step["where"], round(time.perf_counter() - started, 2)))
    return {"ok": True, "blocked": list(blocked), "timings": timings}


def worker() -> None:
    """Read one page job per line on stdin, run it, answer one JSON line; everything the page prints goes to its
    log file (fd 1 and 2 are pointed there), the answers go to the original stdout."""
    import json
    import os
    import sys

    answers = os.fdopen(os.dup(1), "w", buffering=1)
    with open(sys.argv[1], "w", encoding="utf-8") as log:  # what imports print (Ultralytics' settings notice)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
    blocked: list[str] = []
    _guard_network(blocked)
    for line in sys.stdin:
        job = json.loads(line)
        with open(job["log"], "w", encoding="utf-8") as log:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
            answer = _run_page(job, blocked)
        answers.write(json.dumps(answer) + "\n")


if __name__ == "__main__":
    worker()
