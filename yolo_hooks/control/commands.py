"""What can be asked of a running training, and what the run answers: plain data in, a decision out.

A :class:`Command` is one request, whoever sent it (``yolo-hooks stop``, a Telegram chat, a signed HTTP request):
its id (what makes it applied once), what it asks, and where it came from. :func:`decide` is the whole policy: given
what the run is doing (:class:`RunView`), is the command taken, and what does the run answer? It is pure, so the
tests are tables.

Examples:
    >>> cmd = from_words("extend", ["5"], id="c1", source="telegram", sender="chat 42", time=100.0)
    >>> view = RunView(epoch=4, epochs=10)
    >>> decide(cmd, view, now=110.0)
    Decision(result='done', text='epochs 10 -> 15: training goes on after epoch 10 (the learning rate stretched to end at epoch 15)', effect={'epochs': 15})
    >>> decide(cmd, view._replace(time_limited=True), now=110.0).text
    'refused: this run trains for time=... hours (Ultralytics recomputes its epochs itself)'
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

COMMANDS = ("status", "stop", "extend", "patience", "save")
CHANGES = ("stop", "extend", "patience", "save")  # what changes the run (status only reads it)
MAX_STEP = 100_000  # the largest extension or patience a command may ask for
COMMAND_TTL = 15 * 60.0  # seconds: a command older than this (sent while the run was down) is refused, not applied
MAX_REASON = 300  # characters of a stop reason kept
HELP = (
    "/status: epoch, fitness, ETA, alerts, early stop, mirror, outbox (with the fitness plot)\n"
    "/stop [reason]: end at the end of this epoch, as an early stop does; /stop now [reason]: after this batch\n"
    "/extend N: N more epochs (the learning-rate schedule stretched to end at the new last epoch)\n"
    "/patience N: early_stop's patience from now on\n"
    "/save: mirror last.pt and best.pt now (best_mirror), verified"
)


class CommandError(ValueError):
    """A request that is not a command this package knows; the text says what is allowed."""


@dataclass(frozen=True)
class Command:
    """One request to a run.

    Attributes:
        id: unique per request, kept across re-deliveries: a CLI command's random id, ``telegram:<bot>:<update>``,
            a signed request's ``webhook-id``. A command whose id the run already took is never applied again.
        name: one of :data:`COMMANDS`.
        epochs: ``extend``: how many epochs to add. patience: ``patience``: the new patience.
        reason: ``stop``: why (shown in the log, the audit line and train_end). now: ``stop`` after this batch.
        source: ``cli``, ``telegram`` or ``http``. sender: who, for the audit (``alice@gpu1``, ``telegram chat 42
            (@alice)``, ``http 127.0.0.1``). time: when it was sent (epoch seconds).
        reply: how to answer it (a Telegram chat and message), or None (the CLI reads the audit file).
    """

    id: str
    name: str
    epochs: int | None = None
    patience: int | None = None
    reason: str | None = None
    now: bool = False
    source: str = "cli"
    sender: str = ""
    time: float = 0.0
    reply: dict[str, Any] | None = field(default=None, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (one inbox line); :func:`from_dict` reads it back."""
        return {k: v for k, v in asdict(self).items() if v not in (None, False) or k in ("id", "name")}

    def describe(self) -> str:
        """``stop now ('bad curve')``, ``extend by 5 epochs``, ``patience 20``, ``save``, ``status``."""
        if self.name == "stop":
            return "stop" + (" now" if self.now else "") + (f" ({self.reason!r})" if self.reason else "")
        if self.name == "extend":
            return f"extend by {self.epochs} epoch{'s' if self.epochs != 1 else ''}"
        if self.name == "patience":
            return f"patience {self.patience}"
        return self.name


def new_id() -> str:
    """A fresh command id."""
    return "c-" + uuid.uuid4().hex


def _count(name: str, words: list[str]) -> int:
    if len(words) != 1:
        raise CommandError(f"{name} takes one number: /{name} N")
    return _positive(name, words[0])


def _positive(name: str, value: Any) -> int:
    """``value`` as an integer from 1 to :data:`MAX_STEP`."""
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise CommandError(f"{name} takes a whole number from 1 to {MAX_STEP}, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STEP:
        raise CommandError(f"{name} takes a whole number from 1 to {MAX_STEP}, got {value!r}")
    return value


def _reason(text: Any) -> str | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise CommandError(f"a stop reason is text, got {type(text).__name__}")
    text = " ".join(text.split())
    return text[:MAX_REASON] or None


def from_words(name: str, words: list[str], **meta: Any) -> Command:
    """A command from a chat's words (``/extend 5`` -> ``("extend", ["5"])``); ``meta`` fills id, source, sender,
    time, reply.

    Raises:
        CommandError: an unknown command or a bad argument (the text says what is allowed).
    """
    if name not in COMMANDS:
        raise CommandError(f"unknown command /{name}; commands: " + ", ".join("/" + c for c in COMMANDS))
    if name == "stop":
        now = bool(words) and words[0].lower() == "now"
        return Command(name=name, reason=_reason(" ".join(words[1:] if now else words)), now=now, **meta)
    if name == "extend":
        return Command(name=name, epochs=_count(name, words), **meta)
    if name == "patience":
        return Command(name=name, patience=_count(name, words), **meta)
    if words:
        raise CommandError(f"/{name} takes no argument")
    return Command(name=name, **meta)


FIELDS = {"stop": {"reason", "now"}, "extend": {"epochs"}, "patience": {"patience"}, "save": set(), "status": set()}


def from_request(body: Any, **meta: Any) -> Command:
    """A command from a JSON request body: ``{"command": "stop", "reason": "...", "now": false}``,
    ``{"command": "extend", "epochs": 5}``, ``{"command": "patience", "patience": 20}``, ``{"command": "save"}``,
    ``{"command": "status"}``; ``meta`` fills id, source, sender, time.

    Raises:
        CommandError: not an object, an unknown command, an unknown field or a bad value.
    """
    if not isinstance(body, dict):
        raise CommandError('the body must be a JSON object such as {"command": "stop"}')
    name = body.get("command")
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    extra = set(body) - {"command"} - FIELDS[name]
    if extra:
        raise CommandError(f"{name} takes {', '.join(sorted(FIELDS[name])) or 'no field'}; unknown: "
                           f"{', '.join(sorted(extra))}")
    if name == "stop":
        now = body.get("now", False)
        if not isinstance(now, bool):
            raise CommandError(f"now must be true or false, got {now!r}")
        return Command(name=name, reason=_reason(body.get("reason")), now=now, **meta)
    if name == "extend":
        return Command(name=name, epochs=_positive(name, body.get("epochs")), **meta)
    if name == "patience":
        return Command(name=name, patience=_positive(name, body.get("patience")), **meta)
    return Command(name=name, **meta)


def from_dict(record: dict[str, Any]) -> Command:
    """The command of an inbox line (:meth:`Command.as_dict`).

    Raises:
        CommandError: the line is not a command.
    """
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        raise CommandError("not a command (no id)")
    name = record.get("name") if isinstance(record.get("name"), str) else None
    body = {"command": name, **{k: record[k] for k in FIELDS.get(name, ()) if k in record}}
    time = record.get("time", 0.0)
    reply = record.get("reply")
    return from_request(body, id=record["id"], source=str(record.get("source") or "cli"),
                        sender=str(record.get("sender") or ""),
                        time=float(time) if isinstance(time, (int, float)) and math.isfinite(time) else 0.0,
                        reply=reply if isinstance(reply, dict) else None)


class RunView(NamedTuple):
    """What a decision needs to know about the run, read on the training thread when the command is taken.

    Attributes:
        epoch: the 1-based epoch being trained (or validated). epochs: the run's total now.
        ending: why the run ends after this epoch, when it does ("the last epoch", "early_stop stopped it", "a stop
            requested by ..."), else None.
        validating: the epoch's training is over (its validation or the end of the run is under way): too late to
            extend this one.
        time_limited: the run trains for ``time=`` hours (Ultralytics recomputes its epochs every epoch).
        stop_now_works: this Ultralytics checks ``trainer.stop`` between batches (8.4.14+).
    """

    epoch: int
    epochs: int
    ending: str | None = None
    validating: bool = False
    time_limited: bool = False
    stop_now_works: bool = True


class Decision(NamedTuple):
    """What :func:`decide` made of a command: ``done`` or ``refused``, the answer, and what to change."""

    result: str
    text: str
    effect: dict[str, Any] | None = None


def decide(command: Command, view: RunView, now: float) -> Decision:
    """Take or refuse ``command`` for a run in state ``view`` at time ``now``; the answer says why."""
    if command.time and now - command.time > COMMAND_TTL:
        minutes = (now - command.time) / 60
        return Decision("refused", f"refused: sent {minutes:.0f} minutes ago, while the run was not reading commands "
                                   f"(a kill and resume?); send it again if you still mean it")
    if command.name == "status":
        return Decision("done", "status", {"status": True})
    if command.name == "save":
        return Decision("done", "save", {"save": True})
    if command.name == "patience":
        return Decision("done", f"patience {command.patience}", {"patience": command.patience})
    if command.name == "stop":
        return _decide_stop(command, view)
    return _decide_extend(command, view)


def _decide_stop(command: Command, view: RunView) -> Decision:
    where = f"epoch {view.epoch}/{view.epochs}"
    if view.ending and not (command.now and view.stop_now_works and not view.validating):
        return Decision("refused", f"refused: the run already ends after {where} ({view.ending})")
    if command.now and view.stop_now_works and not view.validating:
        return Decision("done", f"stopping after the current batch of {where}; final validation, summary, mirror "
                                f"and train_end follow", {"stop": True, "now": True})
    note = " (this Ultralytics checks a stop only between epochs)" if command.now and not view.stop_now_works else ""
    return Decision("done", f"stopping at the end of {where}{note}; final validation, summary, mirror and "
                            f"train_end follow", {"stop": True, "now": False})


def _decide_extend(command: Command, view: RunView) -> Decision:
    if view.time_limited:
        return Decision("refused", "refused: this run trains for time=... hours (Ultralytics recomputes its "
                                   "epochs itself)")
    if view.ending and (view.validating or not view.ending.startswith("the last epoch")):
        return Decision("refused", f"refused: the run ends after epoch {view.epoch}/{view.epochs} ({view.ending})")
    total = view.epochs + int(command.epochs or 0)
    return Decision("done", f"epochs {view.epochs} -> {total}: training goes on after epoch {view.epochs} (the "
                            f"learning rate stretched to end at epoch {total})", {"epochs": total})
