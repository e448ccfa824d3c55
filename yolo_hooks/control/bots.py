"""Telegram commands for every run of a machine that listens to one bot, through one poller.

Telegram gives each update to one ``getUpdates`` caller and answers ``409 Conflict`` to a second long poll on the
same token while one is in flight, so two runs polling one bot would steal each other's commands. The runs of a
machine that share a bot therefore agree on one poller: each registers itself in the bot's folder
(``<Ultralytics settings dir>/yolo_hooks/telegram/<bot key>/listeners/``, a heartbeat every 15 s), and the one that
holds the folder's lock polls. It routes each command to the run it names (``/stop train7 diverging``; a run's name
may be left out when one run listens) by appending it to that run's inbox, where the run takes it like any other
command and answers in the chat. When the poller's run ends, another listening run takes the lock within seconds.

The bot's update offset is kept in the same folder, written after each update is handed on: a poller killed in
between hands that update on again after the restart, under the same command id, which the run has taken already.
A ``409`` therefore means a poller elsewhere (another machine, or a program) uses the bot: it is logged once, and
polling backs off (up to a minute) rather than fight it; commands sent meanwhile go to whoever got them. One bot
per machine avoids that.

Examples:
    >>> runs = [{"run": "train7", "chats": ["42"]}, {"run": "train8", "chats": ["42"]}]
    >>> route(incoming({"update_id": 9, "message": {"chat": {"id": 42}, "text": "/stop train8 diverging"}}),
    ...       runs, "k").command.reason
    'diverging'
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, NamedTuple

from ..core.files import atomic_write_json, read_json
from ..core.retry import RetryPolicy
from ..core.run_info import process_alive
from ..core.worker import BackgroundWorker
from .commands import HELP, Command, CommandError, from_words
from .inbox import audit, audit_record, post
from .telegram import LONG_POLL, BotApi, BotError, Incoming, allowed, chat_key, incoming, split_command

HEARTBEAT, STALE, LOCK_RETRY = 15.0, 60.0, 3.0  # seconds
MAX_CONFLICT_WAIT = 60.0
HOST = socket.gethostname()


def bot_key(token: str) -> str:
    """A bot's name in files and command ids: a hash of its token (never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def bots_root() -> Path:
    """Where the bots' folders live: the Ultralytics settings directory (``YOLO_CONFIG_DIR``), shared by every run
    of this user on this machine."""
    from ultralytics.utils import USER_CONFIG_DIR

    return Path(USER_CONFIG_DIR) / "yolo_hooks" / "telegram"


def labels(runs: list[dict[str, Any]]) -> list[str]:
    """What a chat calls each run: its folder name, or ``parent/name`` where two runs share a name."""
    names = [str(r.get("run", "")) for r in runs]
    out = []
    for run, name in zip(runs, names):
        if names.count(name) > 1:
            name = f"{Path(str(run.get('save_dir', ''))).parent.name}/{name}"
        out.append(name)
    return out


class Route(NamedTuple):
    """What the poller does with one message: ``ignore`` (no command), ``foreign`` (a chat no run allows),
    ``answer`` (``text``, from the poller itself), ``status`` (of ``runs``) or ``post`` (``command`` to ``runs[0]``)."""

    kind: str
    runs: list[dict[str, Any]] = []
    command: Command | None = None
    text: str = ""


def route(message: Incoming | None, runs: list[dict[str, Any]], key: str, gone: frozenset[str] = frozenset()) -> Route:
    """Decide what ``message`` is for, given the listening ``runs`` (their records) and the names of runs that
    listened before and no longer do (``gone``: a command naming one is not taken by another); plain data."""
    if message is None:
        return Route("ignore")
    mine = [r for r in runs if allowed(message, {chat_key(c) for c in r.get("chats", [])})]
    if not mine:
        return Route("foreign")
    parsed = split_command(message.text)
    if parsed is None:
        return Route("ignore")  # chat between people, in a group
    name, words = parsed
    names = labels(mine)
    if name in ("help", "start"):
        return Route("answer", mine, text=HELP + "\nListening here: " + ", ".join(names))
    target = mine
    if words and words[0] in names:
        target, words = [mine[names.index(words[0])]], words[1:]
    elif words and words[0] in gone:
        return Route("answer", mine, text=f"refused: {words[0]} is not running any more (listening here: "
                                           f"{', '.join(names)})")
    if name == "status" and not words:
        return Route("status", target)
    meta = dict(id=f"telegram:{key}:{message.update_id}", source="telegram", sender=message.sender,
                time=message.date or time.time(),
                reply={"bot": key, "chat_id": message.chat_id, "message_id": message.message_id})
    try:
        command = from_words(name, words, **meta)
    except CommandError as e:
        return Route("answer", mine, text=f"refused: {e}")
    if len(target) > 1:
        return Route("answer", mine, text=f"{len(target)} runs listen here: name one, e.g. /{name} {names[0]}"
                                           f"{' ' + ' '.join(words) if words else ''} (runs: {', '.join(names)})")
    return Route("post", target, command)


class Bot:
    """One bot this run takes commands through: its registration, the shared poller (when this run holds the lock)
    and the answers it sends.

    Args:
        token, api_url: the bot (from the ``telegram`` destination with ``commands: true``).
        chats: the chats it takes commands from.
        run: this run's record (``run``, ``save_dir``, ``run_id``).
        log: the control hook's log.
    """

    def __init__(self, token: str, api_url: str, chats: set[str], run: dict[str, Any],
                 log: Callable[..., None], root: Path | None = None):
        self.key = bot_key(token)
        self.folder = (root or bots_root()) / self.key
        self.chats = {chat_key(c) for c in chats}
        self.run = {**run, "pid": os.getpid(), "host": HOST}
        self.log = log
        self.leader = False
        self._poll_api = BotApi(token, api_url)
        self._reply_api = BotApi(token, api_url)
        self._stop = threading.Event()
        self._poller = BackgroundWorker(f"control-telegram-{self.key[:6]}", linger=None, settle=0)
        self._replies = BackgroundWorker(f"control-telegram-replies-{self.key[:6]}", settle=0)
        self._lock = None
        self._offset: int | None = None
        self._foreign_logged: set[str] = set()
        self._heard: set[str] = set()  # names of the runs seen listening
        self._conflict_logged = False
        self._beat = 0.0

    @property
    def listener_file(self) -> Path:
        return self.folder / "listeners" / f"{self.run.get('run_id') or os.getpid()}.json"

    # --- life ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Register this run and start the loop (it polls when it gets the lock)."""
        self._heartbeat()
        self._poller.submit(self._loop)

    def stop(self, timeout: float) -> None:
        """Stop polling (a long poll in flight is cut), hand the lock on, unregister; send the answers still queued
        within ``timeout`` seconds."""
        end = time.monotonic() + timeout
        self._stop.set()
        self._poll_api.abort()
        self._poller.close()
        self._poller.join(max(0.1, min(5.0, end - time.monotonic())))
        self._replies.flush(max(0.0, end - time.monotonic()))
        self._replies.close()
        self._replies.join(max(0.1, end - time.monotonic()))
        self._poll_api.close()
        self._reply_api.close()

    def _loop(self) -> None:
        try:
            self._run_loop()
        finally:
            if self._lock is not None and self._lock.is_locked:
                self._lock.release()
            self.listener_file.unlink(missing_ok=True)

    def _run_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            if time.monotonic() - self._beat > HEARTBEAT:
                self._heartbeat()
            if not self.leader:
                self.leader = self._try_lock()
                if not self.leader:
                    self._stop.wait(LOCK_RETRY)
                    continue
                saved = read_json(self.folder / "offset.json", {})
                self._offset = saved.get("offset") if isinstance(saved, dict) else None
            try:
                updates = self._poll_api.get_updates(self._offset, LONG_POLL)
                failures = 0
            except BotError as e:
                if self._stop.is_set():
                    return
                failures += 1
                self._stop.wait(self._wait_after(e, failures))
                continue
            for update in updates:
                if self._stop.is_set():
                    return
                self._handle(update)
                self._offset = int(update["update_id"]) + 1
                atomic_write_json(self.folder / "offset.json", {"offset": self._offset}, fsync=False)

    def _try_lock(self) -> bool:
        from filelock import FileLock, Timeout

        if self._lock is None:
            self._lock = FileLock(str(self.folder / "poll.lock"))
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        atomic_write_json(self.listener_file, {**self.run, "chats": sorted(self.chats), "time": time.time()},
                          fsync=False)

    def _wait_after(self, error: BotError, failures: int) -> float:
        """How long to wait after a failed poll: Telegram's ``retry_after`` (429), a growing wait for a 409 (another
        poller) or a failure, a long one for a bad token."""
        if error.status == 409:
            if not self._conflict_logged:
                self._conflict_logged = True
                self.log(f"another program polls this Telegram bot ({error.description}): commands sent meanwhile "
                         f"may reach it instead of this machine; give each machine its own bot", "warning")
            return min(MAX_CONFLICT_WAIT, 5.0 * 2 ** min(failures - 1, 4))
        if error.permanent:
            if failures == 1:
                self.log(f"the Telegram bot refuses getUpdates ({error}): check bot_token; retrying every minute",
                         "error")
            return 60.0
        return RetryPolicy(backoff=1.0, max_backoff=30.0).delay(failures, error.retry_after)

    # --- routing ------------------------------------------------------------------------------------------------
    def listeners(self) -> list[dict[str, Any]]:
        """The runs listening to this bot now (a record whose process is gone, or silent for a minute, is not)."""
        runs = []
        for path in sorted((self.folder / "listeners").glob("*.json")):
            record = read_json(path)
            if not isinstance(record, dict):
                continue
            if record.get("host") == HOST:
                alive = process_alive(record.get("pid"))
            else:
                alive = time.time() - float(record.get("time") or 0) < STALE
            if alive:
                runs.append(record)
        self._heard |= set(labels(runs))
        return runs

    def _handle(self, update: dict[str, Any]) -> None:
        message = incoming(update)
        runs = self.listeners()
        decision = route(message, runs, self.key, frozenset(self._heard - set(labels(runs))))
        if decision.kind == "foreign":
            self._foreign(message)
        elif decision.kind == "answer":
            self.reply(message.chat_id, decision.text, message.message_id)
        elif decision.kind == "status":
            self._status(message, decision.runs)
        elif decision.kind == "post":
            run = decision.runs[0]
            try:
                post(run["save_dir"], decision.command)
            except OSError as e:
                self.reply(message.chat_id, f"{run.get('run')}: refused: its folder cannot be reached from "
                                            f"{HOST} ({type(e).__name__})", message.message_id)

    def _foreign(self, message: Incoming) -> None:
        """A message from a chat no listening run allows: no answer (it would tell a stranger a run is there);
        one log line and one audit line per chat."""
        if message.chat_id in self._foreign_logged:
            return
        self._foreign_logged.add(message.chat_id)
        self.log(f"ignored a message from {message.sender}: not a configured chat_id (no answer sent)", "warning")
        try:
            audit(self.run["save_dir"], {"id": f"telegram:{self.key}:{message.update_id}", "source": "telegram",
                                         "from": message.sender, "command": message.text[:40], "result": "ignored",
                                         "text": "not a configured chat: ignored, no answer"})
        except OSError:
            pass

    def _status(self, message: Incoming, runs: list[dict[str, Any]]) -> None:
        """Answer ``/status`` from the runs' folders (a run busy validating still answers), with the fitness plot
        when one run is asked about; built on the answering thread, so the poller goes on at once."""
        self._replies.submit(lambda: self._send_status(message, runs))

    def _send_status(self, message: Incoming, runs: list[dict[str, Any]]) -> None:
        from .status import read_status, status_plot, status_text

        texts = []
        for run in runs:
            text = status_text(read_status(run["save_dir"]))
            texts.append(text)
            command = Command(id=f"telegram:{self.key}:{message.update_id}", name="status", source="telegram",
                              sender=message.sender, time=message.date)
            try:
                audit(run["save_dir"], audit_record(command, "done", text.splitlines()[0]))
            except OSError:
                pass
        plot = status_plot(runs[0]["save_dir"]) if len(runs) == 1 else None
        self._send(message.chat_id, "\n\n".join(texts), message.message_id, plot)

    # --- answers ------------------------------------------------------------------------------------------------
    def reply(self, chat_id: str, text: str, reply_to: int | None = None, photo: bytes | None = None) -> None:
        """Send ``text`` (and a PNG) to ``chat_id`` in the background; a 429 is waited out, twice at most."""
        self._replies.submit(lambda: self._send(chat_id, text, reply_to, photo))

    def _send(self, chat_id: str, text: str, reply_to: int | None, photo: bytes | None) -> None:
        for attempt in range(3):
            try:
                self._reply_api.send_message(chat_id, text, reply_to)
                if photo is not None:
                    self._reply_api.send_photo(chat_id, photo, text.splitlines()[0], reply_to)
                return
            except BotError as e:
                if e.permanent or attempt == 2:
                    self.log(f"could not answer {chat_id} on Telegram: {e}", "warning")
                    return
                time.sleep(min(30.0, e.retry_after or 2.0 * (attempt + 1)))

