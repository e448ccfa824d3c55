"""Where a run's commands come from besides its inbox, and where its answers go: the Telegram bots of destinations
with ``commands: true`` and the signed endpoint. Both hand commands to the inbox; answers go back to the chat, or to
the HTTP request waiting for them (the CLI reads ``control.jsonl``). Rank 0 only, from the start of training to
the end of the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from .commands import Command
from .endpoint import ControlServer, Endpoint, Waiter
from .inbox import audit, audit_record, post


class Sources:
    """The chat and HTTP sources of one run.

    Args:
        run_dir: the run folder (its inbox takes what they receive).
        taken: whether the run already took a command id.
        log: the control hook's log.
    """

    def __init__(self, run_dir: Path | None, taken: Callable[[str], bool], log: Callable[..., None]):
        self.run_dir, self.taken, self.log = run_dir, taken, log
        self.bots: dict[str, Any] = {}
        self.server: ControlServer | None = None
        self.waiting: dict[str, Waiter] = {}

    def bind(self, endpoint: Endpoint) -> None:
        """Take the endpoint's port now (the run's marker names it); a port in use is logged, the run goes on."""
        self.server = ControlServer(endpoint, self.submit, self.status, self.taken, self.log)
        try:
            self.server.bind()
        except OSError as e:
            self.log(f"cannot listen on {endpoint.address} ({e}): no signed control requests in this run", "error")
            self.server = None

    def start(self, hooks: list, run: dict[str, Any]) -> None:
        """Start the bots of ``hooks``' destinations with ``commands: true`` and the endpoint's server; one log line
        says where commands come from (none for a run that only has its inbox)."""
        self.run_dir = Path(run["save_dir"])
        found: dict[str, dict[str, Any]] = {}
        for hook in hooks:
            bot = getattr(hook, "command_bot", lambda: None)()  # Notify: a telegram destination with commands: true
            if bot:
                entry = found.setdefault(bot["bot_token"], {"api_url": bot["api_url"], "chats": set()})
                entry["chats"].add(str(bot["chat_id"]))
        if found:
            from .bots import Bot

            for token, entry in found.items():
                bot = Bot(token, entry["api_url"], entry["chats"], run, self.log)
                self.bots[bot.key] = bot
                bot.start()
        if self.server is not None:
            self.server.serve()
        names = [f"telegram chat {', '.join(sorted(e['chats']))}" for e in found.values()]
        names += [f"signed requests on http://{self.server.address}"] if self.server is not None else []
        if names:
            self.log(f"taking commands from {', '.join(names)} and yolo-hooks stop|extend|save|status")

    def submit(self, command: Command) -> Waiter:
        """The endpoint hands a verified command over (its thread): into the inbox, like any other."""
        waiter = Waiter()
        self.waiting[command.id] = waiter
        post(self.run_dir, command)
        return waiter

    def status(self, command: Command) -> tuple[str, dict[str, Any]]:
        """A ``status`` request, answered from the run folder at once."""
        from .status import read_status, status_text

        status = read_status(self.run_dir)
        text = status_text(status)
        audit(self.run_dir, audit_record(command, "done", text.splitlines()[0]))
        return text, {k: v for k, v in status.items() if k != "commands"}

    def deliver(self, command: Command, record: dict[str, Any]) -> None:
        """The answer to a chat (through its bot), or to the HTTP request waiting for it."""
        reply = command.reply or {}
        bot = self.bots.get(reply.get("bot"))
        if bot is not None:
            photo = None
            if command.name == "status":
                from .status import status_plot

                photo = status_plot(self.run_dir)
            name = self.run_dir.name if self.run_dir else ""
            bot.reply(str(reply.get("chat_id")), f"{name}: {record['text']}", reply.get("message_id"), photo)
        waiter = self.waiting.pop(command.id, None)
        if waiter is not None:
            waiter.set(record)

    @property
    def address(self) -> str | None:
        return self.server.address if self.server is not None else None

    def stop(self, deadline) -> None:
        """Stop listening and polling; the answers still queued are sent within ``deadline``."""
        if self.server is not None:
            self.server.stop(deadline.left(2.0))
            self.server = None
        for bot in self.bots.values():
            bot.stop(deadline.left(5.0))
        self.bots = {}
