"""``control``: steer a running training from outside — stop it cleanly, extend it, change early stopping's patience,
mirror its checkpoints now, ask where it stands — from the shell, a Telegram chat or a signed HTTP request.

Every training with yolo_hooks attached has this hook (the core adds it with its defaults): its run folder's inbox
(:mod:`.inbox`) takes ``yolo-hooks stop|extend|save RUN_DIR``. The ``control`` section of hooks.yaml adds the signed
HTTP endpoint (:mod:`.endpoint`); a ``telegram`` destination with ``commands: true`` adds its chat (:mod:`.bots`).
Every source ends in the inbox, which the training thread reads at batch and epoch ends (a ``stat`` at most once a
second); each command is decided there (:func:`.commands.decide`), recorded (the id in the hook's state, then a line
in ``control.jsonl``), answered, and published as a ``control`` event.

Examples:
    >>> yolo_hooks.attach(model, "hooks.yaml")  # doctest: +SKIP
    $ yolo-hooks stop runs/detect/train7 --reason "val loss diverging"
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..core import compat
from ..core.collective import distributed, from_rank0
from ..core.hook import CommandRefused, Hook
from ..core.run import is_main_process, run_state
from . import effects
from .commands import CHANGES, Command, CommandError, RunView, decide, from_dict
from .inbox import INBOX, InboxReader, audit, audit_record
from .options import check_endpoint
from .schedule import Schedule

POLL_SECONDS = 1.0  # the inbox is looked at (one stat) at most this often from the training thread
SHARE_SECONDS = 1.0  # multi-GPU: how often rank 0's "stop now" reaches the other ranks (in batches this long)
KEEP_IDS = 2000  # ids of taken commands kept (a re-delivery is older than a few hundred commands)


class RunControl(Hook):
    """Takes commands for a running training (see the module docstring and docs/control.md).

    Args:
        listen: ``HOST:PORT`` (or a port) of the signed HTTP endpoint; loopback unless ``allow_remote``. None: no
            endpoint (the run folder's inbox and Telegram still work).
        secret: the Standard Webhooks secret requests are signed with (``whsec_...``, or 24+ characters).
        allow_remote: let ``listen`` be a non-loopback address (securing that path is then yours).
        max_body: the largest request body taken, in bytes.
        strict: re-raise errors of this hook (tests). name: its name (``control``).
    """

    _transient = ("_reader", "_sources")

    def __init__(self, *, listen: str | int | None = None, secret: str | None = None, allow_remote: bool = False,
                 max_body: int = 16384, strict: bool = False, name: str | None = None):
        super().__init__(strict=strict, name=name)
        self.endpoint = check_endpoint(self.name, listen, secret, allow_remote, max_body)
        self._reader: InboxReader | None = None
        self._sources = None  # Telegram and the signed endpoint (.sources.Sources: rank 0, during a training)
        self._reset()

    def _reset(self) -> None:
        self.offset = 0  # inbox bytes consumed
        self.taken: list[str] = []  # ids of the commands taken, newest last
        self.schedule: Schedule | None = None  # the stretched learning-rate schedule, once extended
        self.target: int | None = None  # the total an extension asked for, not applied yet
        self.patience: dict[str, int] = {}  # hook name (or "ultralytics") -> patience a command set
        self.stop: dict[str, Any] | None = None  # the stop taken: id, from, reason, now, epoch
        self.mirrored: dict[str, dict[str, Any]] = {}  # "store|kind" -> the last verified copy (for status)
        self._saved: dict[str, Any] | None = self.state_dict()  # the state as last saved (none yet: the default)
        self._stop_now = False
        self._next_poll = 0.0
        self._validating = False
        self._batches, self._next_share, self._epoch_t0 = 0, 1, time.monotonic()
        self._ddp = False
        self._run_dir: Path | None = None

    def secrets(self) -> list[str]:
        return [self.endpoint.secret] if self.endpoint else []

    def describe(self) -> dict[str, Any]:
        shown = {"listen": self.endpoint.address, "allow_remote": self.endpoint.allow_remote,
                 "max_body": self.endpoint.max_body, "secret": "***"} if self.endpoint else {}
        return {"inbox": f"<run folder>/{INBOX}", **shown}

    @property
    def address(self) -> str | None:
        """``host:port`` the signed endpoint listens on during a training (the port it got, for ``listen:
        127.0.0.1:0``), else None."""
        return self._sources.address if self._sources is not None else None

    def marker_facts(self) -> dict[str, Any]:
        return {"control": self.address} if self.address else {}

    # --- the run's start ----------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new run; rank 0 takes the endpoint's port now, so that the run's marker can name it."""
        self._reset()
        self._sources = None
        if is_main_process() and self.endpoint is not None:
            self._sources = self._new_sources()
            self._sources.bind(self.endpoint)

    def on_train_start(self, trainer):
        """Start reading the inbox (after what it held before, unless resuming), give a resumed run back what
        commands changed (every rank the same), start the chat and HTTP sources."""
        self._ddp, main = distributed(), is_main_process()
        resume = bool(getattr(trainer.args, "resume", False))
        if main:
            self._run_dir = Path(trainer.save_dir)
            self._reader = InboxReader(self._run_dir / INBOX, self.offset)
            if not resume:
                self._reader.skip_to_end()
        plan = self.call_guarded("_resume_plan", trainer) if main and resume else None
        plan = from_rank0(plan) if self._ddp else plan  # every rank gets here: nothing above can raise
        if plan:
            self._apply_plan(trainer, plan)
        if main and resume:
            self.call_guarded("_resume_effects", trainer)
        hooks = [h for h in self._bus.hooks if h is not self] if self._bus is not None else []
        if main and (self._sources is not None or any(getattr(h, "command_bot", lambda: None)() for h in hooks)):
            self._sources = self._sources or self._new_sources()
            run = {"run": self._run_dir.name, "save_dir": str(self._run_dir.resolve()),
                   "run_id": self._bus.run_id if self._bus is not None else None}
            self._sources.start(hooks, run)

    def _new_sources(self):
        from .sources import Sources  # http.server and the bots: imported only by the runs that take commands

        return Sources(None, self._taken, self.log)

    def _resume_plan(self, trainer) -> dict[str, Any] | None:
        """What the restored state says must hold again: the extended schedule (a pending extension applied now)."""
        schedule = self.schedule
        if self.target is not None:
            schedule = effects.extended(trainer, schedule, self.target, int(trainer.start_epoch) - 1)
            self.target = None
        return {"schedule": schedule.as_dict()} if schedule is not None else None

    def _resume_effects(self, trainer) -> None:
        """Rank 0 after ``resume=True``: the patience commands set stays; a stop taken before the kill still holds
        (the core gives every rank ``trainer.stop`` at the first epoch's start; the run ends after one batch)."""
        if self.patience:
            effects.restore_patience(trainer, [h for h in self._bus.hooks if h is not self], self.patience)
        if self.stop and not trainer.stop:
            effects.request_stop(trainer, self._stop_command())
            self.log(f"the stop {self.stop.get('from')} requested before the run was interrupted still holds: it "
                     f"ends after its first batch", "warning")

    # --- reading commands ---------------------------------------------------------------------------------------
    def on_train_epoch_start(self, trainer):
        self._validating, self._batches, self._next_share, self._epoch_t0 = False, 0, 1, time.monotonic()

    def on_train_batch_end(self, trainer):
        """Between two batches: the inbox at most once a second; a ``stop --now`` takes effect here (on every DDP
        rank at once: rank 0's decision is shared every ~second's worth of batches)."""
        if self._ddp:
            self._share_batch(trainer)
            return
        if time.monotonic() >= self._next_poll:
            self.call_guarded("_poll", trainer)
        if self._stop_now:
            trainer.stop = True

    def _share_batch(self, trainer) -> None:
        self._batches += 1
        main = is_main_process()
        if main and time.monotonic() >= self._next_poll:
            self.call_guarded("_poll", trainer)
        if self._batches < self._next_share:
            return
        every = 0
        if main:  # nothing can raise here: every rank must reach the collective below
            seconds = (time.monotonic() - self._epoch_t0) / self._batches
            every = max(1, min(1000, round(SHARE_SECONDS / seconds))) if seconds > 0 else 1
        stop_now, every = from_rank0((self._stop_now, every) if main else None)
        self._next_share = self._batches + max(1, int(every))
        if stop_now:
            trainer.stop = True

    def on_train_epoch_end(self, trainer):
        """The epoch's training is done: an extension taken meanwhile applies now, on every rank (before
        Ultralytics decides whether this was the last epoch)."""
        self._validating = True
        main = is_main_process()
        plan = None
        if main:
            self.call_guarded("_poll", trainer)
            plan = self.call_guarded("_extension", trainer)
        plan = from_rank0(plan) if self._ddp else plan  # every rank gets here: nothing above can raise
        if plan:
            self._apply_plan(trainer, plan)

    def _extension(self, trainer) -> dict[str, Any] | None:
        """Rank 0: the schedule an extension taken this epoch asks for, stretched from this epoch on."""
        target, self.target = self.target, None
        if target is None or target == trainer.epochs:
            return None
        return {"schedule": effects.extended(trainer, self.schedule, target, int(trainer.epoch)).as_dict()}

    def _apply_plan(self, trainer, plan: dict[str, Any]) -> None:
        self.schedule = Schedule.from_dict(plan["schedule"])
        installed = effects.extend(trainer, self.schedule)
        if not is_main_process():
            return
        if not installed:
            self.log("this trainer's scheduler is not Ultralytics' LambdaLR: its learning-rate schedule is left as "
                     "it is", "warning")
        from ..core import marker

        run_dir = self._run_dir
        self.write_later(lambda: _marker_epochs(marker, run_dir, self.schedule.total))

    def on_fit_epoch_end(self, trainer):
        """Rank 0, after validation: a stop taken this epoch ends the run now (Ultralytics shares ``trainer.stop``
        with every rank right after this event); the state is saved."""
        if not is_main_process() or run_state(trainer).in_final_eval:
            return
        self.call_guarded("_poll", trainer)
        if self.stop and not trainer.stop:
            effects.request_stop(trainer, self._stop_command())
        self._save_changed(trainer, int(trainer.epoch) + 1)

    def _save_changed(self, trainer, epoch: int) -> None:
        """Save the state when it differs from the one saved last: a training nobody steers writes no file (its
        catch-up after a resume takes any epoch the state did not see)."""
        state = self.state_dict()
        if state != self._saved:
            self._saved = state
            self.save_state(trainer, epoch)

    def _poll(self, trainer) -> None:
        """Take the commands added to the inbox since the last look (rank 0, training thread)."""
        self._next_poll = time.monotonic() + POLL_SECONDS
        if self._reader is None:
            return
        lines = self._reader.read()
        if not lines:
            return
        for line in lines:
            self._take(trainer, line)
        self._save_changed(trainer, int(trainer.epoch))  # the ids taken, before their audit lines and answers

    def _take(self, trainer, line: dict | str) -> None:
        try:
            command = from_dict(line) if isinstance(line, dict) else None
            if command is None:
                raise CommandError(f"not a JSON command: {line[:60]!r}")
        except CommandError as e:
            self.log(f"ignored a line of {INBOX}: {e}", "warning")
            return
        if command.id in self.taken:
            return  # delivered again (a poller restarted, a replayed request): taken once
        self.taken = [*self.taken[-(KEEP_IDS - 1):], command.id]
        decision = decide(command, self._view(trainer), time.time())
        result, text = decision.result, decision.text
        if result == "done":
            try:
                result, text = self._apply(trainer, command, decision.effect or {}, text)
            except CommandRefused as e:
                result, text = "refused", f"refused: {e}"
        self._answer(command, result, text, int(trainer.epoch) + 1)

    def _view(self, trainer) -> RunView:
        epoch, epochs = int(trainer.epoch) + 1, int(self.target or trainer.epochs)
        ending = None
        if self.stop:
            ending = f"a stop requested by {self.stop.get('from')}"
        elif epoch >= epochs:
            ending = "the last epoch"
        elif trainer.stop:
            ending = "early stopping ends it"
        return RunView(epoch, epochs, ending, self._validating, bool(getattr(trainer.args, "time", None)),
                       compat.STOP_BETWEEN_BATCHES)

    def _apply(self, trainer, command: Command, effect: dict[str, Any], text: str) -> tuple[str, str]:
        """Carry out a command :func:`decide` took; returns the result and the answer."""
        hooks = [h for h in self._bus.hooks if h is not self] if self._bus is not None else []
        if "stop" in effect:
            self.stop = {"id": command.id, "from": command.sender, "reason": command.reason,
                         "now": bool(effect.get("now")), "epoch": int(trainer.epoch) + 1}
            run_state(trainer).stopped_by = effects.stopped_by(command)
            self._stop_now = bool(effect.get("now")) and not self._validating
            return "done", text
        if "epochs" in effect:
            self.target = int(effect["epochs"])
            return "done", text
        if "patience" in effect:
            set_now, text = effects.set_patience(trainer, hooks, command)
            self.patience.update(set_now)
            return "done", text
        if "save" in effect:
            epoch = int(trainer.epoch) + 1
            text = effects.save(trainer, hooks, command, lambda t, ok: self._answer(command, "done" if ok else
                                                                                   "failed", t, epoch))
            return "accepted", text
        return "done", "status"  # built on the writer thread, from the run folder

    def _stop_command(self) -> Command:
        stop = self.stop or {}
        return Command(id=str(stop.get("id", "")), name="stop", reason=stop.get("reason"), sender=str(stop.get("from")))

    # --- answers ------------------------------------------------------------------------------------------------
    def _answer(self, command: Command, result: str, text: str, epoch: int | None) -> None:
        """Log it, publish it, then (on the bus' writer, after the state that records the id) append its audit line
        and answer whoever sent it."""
        run_dir = self._run_dir
        if command.name == "status":
            from .status import read_status, status_text

            record = audit_record(command, result, "", epoch)

            def write_status():
                record["text"] = status_text(read_status(run_dir))
                audit(run_dir, {**record, "text": record["text"].splitlines()[0]})
                self._deliver(command, record)

            self.write_later(write_status)
            return
        record = audit_record(command, result, text, epoch)
        level = "warning" if command.name == "stop" and result == "done" else "info"
        self.log(f"{command.describe()} from {command.sender}: {text}", level)
        if command.name in CHANGES:
            self.publish("control", f"{command.describe()} from {command.sender}: {text}",
                         "warning" if level == "warning" else "info",
                         command=command.name, result=result, sender=command.sender, at_epoch=epoch,
                         source_kind=command.source, request=command.id)

        def write():
            audit(run_dir, record)
            self._deliver(command, record)

        self.write_later(write)

    def _deliver(self, command: Command, record: dict[str, Any]) -> None:
        if self._sources is not None:
            self._sources.deliver(command, record)

    def _taken(self, command_id: str) -> bool:
        return f"http:{command_id}" in self.taken

    # --- the run's end ------------------------------------------------------------------------------------------
    def finish(self, trainer, deadline) -> None:
        """Refuse what came too late, stop the sources, send the last answers (within the run's one deadline)."""
        if not is_main_process():
            return
        for line in self._reader.read() if self._reader is not None else []:
            try:
                command = from_dict(line) if isinstance(line, dict) else None
            except CommandError:
                command = None
            if command is not None and command.id not in self.taken:
                self.taken.append(command.id)
                self._answer(command, "refused", "refused: the run has ended", None)
        if self._reader is not None:
            self._save_changed(trainer, int(trainer.epoch) + 1)
        if self._bus is not None:
            self._bus.flush_writes(deadline.left(5.0))  # the answers reach the bots' queues first
        if self._sources is not None:
            self._sources.stop(deadline)

    # --- others' news, state ------------------------------------------------------------------------------------
    def on_published(self, event) -> None:
        """Remember the last verified copy per store and file, for ``status``."""
        if event.kind == "mirror_done" and event.data.get("kind") in ("best", "last", "final"):
            data = event.data
            self.mirrored[f"{data.get('store')}|{data.get('file')}"] = {
                "store": data.get("store"), "file": data.get("file"), "epoch": data.get("epoch"),
                "sha256": data.get("sha256"), "time": event.time}

    def state_dict(self) -> dict[str, Any]:
        offset = self._reader.offset if self._reader is not None else self.offset
        return {"offset": offset, "taken": list(self.taken),
                "schedule": self.schedule.as_dict() if self.schedule else None, "target": self.target,
                "patience": dict(self.patience), "stop": dict(self.stop) if self.stop else None,
                "mirrored": {k: dict(v) for k, v in self.mirrored.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.offset = int(state.get("offset") or 0)
        self.taken = [str(i) for i in state.get("taken") or []]
        self.schedule = Schedule.from_dict(state["schedule"]) if state.get("schedule") else None
        self.target = state.get("target")
        self.patience = {str(k): int(v) for k, v in (state.get("patience") or {}).items()}
        self.stop = state.get("stop")
        self.mirrored = dict(state.get("mirrored") or {})
        if self._reader is not None:
            self._reader.offset = self.offset

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Nothing per epoch to catch up: the state is the commands taken, saved as each is taken."""
        return True


def _marker_epochs(marker, run_dir: Path | None, epochs: int) -> None:
    """The run's marker says the new total (a recovery of a killed run reads it)."""
    if run_dir is None:
        return
    record = marker.read(run_dir)
    if record is not None and record.get("pid") == os.getpid():
        record["epochs"] = epochs
        marker.write(run_dir, record)
