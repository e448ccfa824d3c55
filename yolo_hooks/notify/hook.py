"""The ``Notify`` hook: one destination (Slack, Discord, Teams, WeCom, DingTalk, Feishu, Telegram, e-mail, JSON,
or any of apprise's services).

Examples:
    >>> import yolo_hooks
    >>> from yolo_hooks.notify import Notify
    >>> yolo_hooks.attach(model, Notify(format="slack", url=os.environ["SLACK_WEBHOOK_URL"],
    ...                                 events=["train_end", "crash", "alert"]))  # doctest: +SKIP

or in hooks.yaml, one list entry per destination::

    notify:
      - {format: slack, url: "${SLACK_WEBHOOK_URL}", events: [train_end, crash, alert]}
      - {format: telegram, bot_token: "${TG_TOKEN}", chat_id: "-100123", min_severity: warning}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..core.bus import Bus, Published
from ..core.deadline import Deadline
from ..core.errors import ConfigError
from ..core.hook import Hook
from ..core.recorded import recorded_snapshot
from ..core.redact import redact_mapping, remember
from ..core.run_info import run_info
from ..core.validate import check_number, check_str
from . import formats
from .compose import BUS_EVENTS, published_message, severity_at_least
from .delivery import Delivery, Destination
from .images import split
from .message import Message
from .options import HOOK, check_events, check_format, check_severity
from .outbox import FALLBACK_OUTBOX, OUTBOX_NAME
from .training import TrainingNews


class Notify(Hook):
    """Sends training news to one destination without ever blocking or failing training.

    Args:
        format: ``json``, ``slack``, ``discord``, ``teams``, ``wecom``, ``dingtalk``, ``feishu``, ``telegram``,
            ``email``, ``apprise`` (any of apprise's services, by URL), or one added with ``formats.register``.
        events: which events this destination gets (default: all but ``epoch`` and ``mirror_done``; ``all``: every
            training event). The val / predict / export reports are sent only when listed by name.
        min_severity: drop messages below ``info`` / ``warning`` / ``critical``.
        progress_every: a progress message every N epochs (adds ``epoch`` to the default events).
        progress_minutes: a progress message at most every M minutes (with ``progress_every``: whichever first).
        timeout: seconds per request in all (connect, send and the whole reply; an e-mail's SMTP session).
            retries: retries of a transient failure. backoff, max_backoff: seconds.
        rate_limit: messages per minute (default: the service's documented limit, e.g. 20 for WeCom/DingTalk).
        flush_timeout: at most this much of the run's one end-of-run deadline (``attach(..., end_timeout=10)``) is
            spent waiting for this destination; the rest goes to the outbox. Nothing else ever waits.
        outbox: outbox file (default ``<run folder>/notify_outbox.jsonl``).
        strict: re-raise errors (tests). name: destination name in logs and the outbox (default ``notify_<format>``).
        **service_options: the chosen format's own options, as its module declares them (``OPTIONS`` in
            ``formats/<service>.py``; ``formats.options_table(format)`` lists them): ``url`` for the webhooks,
            ``secret`` to sign (json, dingtalk, feishu), ``bot_token`` and ``chat_id`` for Telegram, ``smtp_host``,
            ``sender``, ``to``... for e-mail. Put secrets in the environment: ``url: "${SLACK_WEBHOOK_URL}"``.
    """

    renamed_options = {"username": "`smtp_user` (email) or `display_name` (discord)"}

    allow_multiple = True
    finish_last = True  # after the other hooks' finish: a mirror_failed published there is still sent
    _transient = ("_delivery",)

    def __init__(
        self,
        *,
        format: str | None = None,  # noqa: A002 (the config key users write; None only to say it is missing)
        events: list[str] | str | None = None,
        min_severity: str = "info",
        progress_every: int | None = None,
        progress_minutes: float | None = None,
        timeout: float = 10,
        retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60,
        rate_limit: float | None = None,
        flush_timeout: float = 10,
        outbox: str | None = None,
        strict: bool = False,
        name: str | None = None,
        **service_options: Any,
    ):
        self.format = check_format(name if isinstance(name, str) and name else HOOK, format)
        super().__init__(strict=strict, name=name)
        hook = self.name  # every error names the destination as the user knows it
        self._options = formats.check_options(hook, self.format, service_options)
        remember(self.secrets())  # every later log line, error, CLI line and file is scrubbed of them
        self.min_severity = check_severity(hook, min_severity)
        self.progress_every = check_number(hook, "progress_every", progress_every, minimum=1, integer=True,
                                           allow_none=True)
        self.progress_minutes = check_number(hook, "progress_minutes", progress_minutes, minimum=0,
                                             exclusive_minimum=True, allow_none=True)
        self.events = check_events(hook, events, progress=bool(self.progress_every or self.progress_minutes))
        self.events_chosen = events is not None  # a tune's iterations and trials quiet only the default ones
        self.timeout = check_number(hook, "timeout", timeout, minimum=0, exclusive_minimum=True)
        self.retries = check_number(hook, "retries", retries, minimum=0, integer=True)
        self.backoff = check_number(hook, "backoff", backoff, minimum=0)
        self.max_backoff = check_number(hook, "max_backoff", max_backoff, minimum=0)
        self.rate_limit = check_number(hook, "rate_limit", rate_limit, minimum=0, exclusive_minimum=True,
                                       allow_none=True)
        self.flush_timeout = check_number(hook, "flush_timeout", flush_timeout, minimum=0)
        self.outbox = check_str(hook, "outbox", outbox, allow_none=True)
        self._delivery: Delivery | None = None
        self._run: dict[str, str] = {}
        self._outbox_dir: Path | None = None
        self._outboxed_reported = 0
        self._training = False  # from a training's start to its teardown
        self._in_run = False  # from a training's start to this hook's finish: messages go through the bus' writer
        self._news = TrainingNews(self.wants, self.send_later, progress_every=self.progress_every,
                                  progress_minutes=self.progress_minutes)  # fmt: skip

    @classmethod
    def option_names(cls) -> list[str]:
        """The options every destination has, then every registered format's own (``url``, ``bot_token``...): a key
        that no format takes is an unknown option, with the closest spelling; one another format takes is refused
        when the destination is built ("format `slack` does not use `bot_token`")."""
        generic = super().option_names()
        clash = [name for name in formats.option_names() if name in generic]
        if clash:  # a registered service would shadow an option of every destination: its users could never set it
            raise ConfigError(f"{HOOK}: a notification format declares `{clash[0]}`, an option of every destination; "
                              f"rename it in the format's OPTIONS")
        return generic + list(formats.option_names())

    def default_name(self) -> str:
        """``notify_<format>`` (a second unnamed one of the same format becomes ``notify_<format>_2``)."""
        return f"notify_{self.format}"

    # --- identity, secrets, config check ------------------------------------------------------------------------
    @property
    def destination(self) -> Destination:
        """Non-secret identity: name, format, redacted target and a key hashed from format and the service's identity
        (its URL, Telegram's chat, e-mail's recipients)."""
        return Destination.of(self.name, self.format, self._options)

    def marker_facts(self) -> dict[str, Any]:
        """The run's marker keeps this destination's identity (never its secrets): a recovery of a killed run without
        the hooks config still knows where its messages were going."""
        return {"notify": self.destination.as_dict()}

    def command_bot(self) -> dict[str, Any] | None:
        """The bot this destination takes run-control commands through (``format: telegram`` with ``commands:
        true``): its token, chat and API server; None otherwise. :mod:`yolo_hooks.control` does the rest."""
        if self.format != "telegram" or not self._options.get("commands"):
            return None
        return {key: self._options.get(key) for key in ("bot_token", "chat_id", "api_url")}

    def secrets(self) -> list[str]:
        """What the format declares secret (webhook URL, signing secret, bot token, SMTP password...), and every URL's
        path and query, which carry the token."""
        return formats.secrets(self.format, self._options)

    def describe(self) -> dict[str, Any]:
        """What ``yolo-hooks check`` prints: the resolved options with secrets redacted."""
        shown = {"events": list(self.events),
                 "min_severity": self.min_severity, "progress_every": self.progress_every,
                 "progress_minutes": self.progress_minutes, "timeout": self.timeout, "retries": self.retries,
                 "rate_limit": formats.rate_limit_of(self.format, self.rate_limit, self._options),
                 "flush_timeout": self.flush_timeout,
                 "outbox": self.outbox or f"<run folder>/{OUTBOX_NAME}"}
        # the service's options as its declaration shows them (apprise: its own privacy form of each URL)
        return {"name": self.name, "format": self.format, **formats.shown_options(self.format, self._options),
                **redact_mapping({k: v for k, v in shown.items() if v is not None})}

    def bind(self, bus: Bus) -> None:
        """Join the bus (attach has made the name unique: a second unnamed ``notify_json`` is ``notify_json_2``)."""
        if self._delivery is not None:
            self._delivery.destination = self.destination
        super().bind(bus)

    # --- delivery -----------------------------------------------------------------------------------------------
    @property
    def delivery(self) -> Delivery:
        """The background delivery (created on first use, so that the hook pickles for DDP before and after)."""
        if self._delivery is None:
            self._delivery = Delivery(
                self.destination, self._options, timeout=self.timeout, retries=self.retries, backoff=self.backoff,
                max_backoff=self.max_backoff, rate_limit=self.rate_limit, flush_timeout=self.flush_timeout,
                outbox=self.outbox_path, log=self.log, secrets=tuple(self.secrets()),
            )  # fmt: skip
        return self._delivery

    @property
    def outbox_path(self) -> Path:
        """``outbox`` if given, else ``notify_outbox.jsonl`` in the run (or val / predict) folder, else the cwd."""
        if self.outbox:
            return Path(self.outbox).expanduser().resolve()
        if self._outbox_dir is not None:
            return self._outbox_dir / OUTBOX_NAME
        return Path.cwd() / FALLBACK_OUTBOX

    def wants(self, event: str, severity: str = "info") -> bool:
        """Would this destination send ``event`` at ``severity`` (and is this the process that sends)?"""
        chosen = event in self.events or (event == "killed" and "crash" in self.events)  # a kill is a crash too
        return chosen and severity_at_least(severity, self.min_severity) and self.is_main_process

    def send(self, message: Message) -> bool:
        """Hand ``message`` to the background delivery if this destination wants it; never blocks."""
        if not self.wants(message.event, message.severity):
            return False
        for part in split(self.format, message):  # WeCom: an image goes as a second, image-only message
            self.delivery.submit(part)
        return True

    def send_later(self, build: Callable[[], Message]) -> None:
        """Send the message ``build()`` makes, built off the training thread during a training.

        During a training (from its start to this hook's ``finish``, so the mirror's last results come after
        train_end) the bus' writer builds, journals and queues it, in order with every hook's state files and
        records: each hook queues its messages before its state, so a SIGKILL leaves either both (the journal hands
        the message to the outbox) or a state one epoch behind (the resume's catch-up sends it again, under the same
        id). Elsewhere (val, predict, export, a hook not attached) it is sent at once, as :meth:`send`.
        """
        if self._in_run and self._bus is not None:
            self.write_later(lambda: self.call_guarded("_send_built", build))
        else:
            self.send(build())

    def _send_built(self, build: Callable[[], Message]) -> None:
        self.send(build())

    def flush(self, timeout: float | None = None) -> int:
        """Wait at most ``timeout`` (default ``flush_timeout``) seconds; the rest goes to the outbox.

        Messages still waiting on the bus' writer (:meth:`send_later`) are handed over first, within the same time.

        Returns:
            How many messages this flush wrote to the outbox.
        """
        deadline = Deadline(self.flush_timeout if timeout is None else timeout)
        if self._bus is not None:
            self._bus.flush_writes(deadline.left())
        if self._delivery is None:
            return 0
        delivery = self._delivery
        before = delivery.outboxed
        delivery.flush(deadline.left())
        if delivery.outboxed > self._outboxed_reported:  # written now, or failed for good during the run
            self._outboxed_reported = delivery.outboxed
            self.log(f"{delivery.delivered} message(s) delivered, {delivery.outboxed} kept in {delivery.outbox}; "
                     f"resend with: yolo-hooks outbox replay hooks=<your hooks.yaml> dir={delivery.outbox.parent}",
                     "warning")
        return delivery.outboxed - before

    def set_run(self, obj: Any) -> None:
        """The run (or val / predict / export / tune job) ``obj`` that messages are about: its name, model and data,
        and its folder, which holds the outbox."""
        self._run = run_info(obj)
        run_id = self._bus.run_id if self._bus is not None and self._training else None
        if run_id:
            self._run["run_id"] = run_id  # message ids are derived from it (see compose.py)
        save_dir = getattr(obj, "save_dir", None)
        if save_dir:
            self._outbox_dir = Path(save_dir).resolve()
        if self._delivery is not None:
            self._delivery.outbox = self.outbox_path

    # --- other hooks' news --------------------------------------------------------------------------------------
    def on_published(self, event: Published):
        """Alerts, early stops, LR reductions, mirror results; the fitness summary is kept for train_end."""
        if event.kind == "fitness_summary":
            self._news.keep_summary(event.data)
            return
        if event.kind in BUS_EVENTS and self.wants(event.kind, event.severity):
            run = self._run if event.about is None else dict(event.about)  # the run it is about, not the current one
            self.send_later(lambda: published_message(event, run))

    # --- val / predict / export on their own ----------------------------------------------------------------------
    # Nothing here waits: messages of these jobs are sent in the background (a video loop calls predict per frame);
    # what is still queued at the interpreter's exit gets one shared deadline there, the rest goes to the outbox.
    # (the final validation of best.pt runs a validator without a trainer: `_training` tells it from a standalone one)
    def on_val_start(self, validator):
        """A standalone validation: its folder holds the outbox."""
        if not (self._training or getattr(validator, "training", False)):
            self.set_run(validator)

    def on_predict_start(self, predictor):
        """A prediction job: its folder holds the outbox."""
        self.set_run(predictor)

    def on_export_start(self, exporter):
        """An export job (no run folder: the outbox is ``outbox`` or ``./yolo_hooks_outbox.jsonl``)."""
        self.set_run(exporter)


    # --- training: the news decides what to announce, this hook reads the trainer and keeps the state -------------
    def on_pretrain_routine_start(self, trainer):
        """A new run: forget the previous one (state of a resumed run is loaded after this, at train start)."""
        self._news.reset()
        self._training = self._in_run = True
        self.set_run(trainer)

    def on_train_start(self, trainer):
        """Model, data, device, epochs."""
        self.set_run(trainer)
        if self.is_main_process:
            self.delivery.hold()  # until finish: no thread start inside an epoch's callbacks
        self._news.started(trainer, self._run)

    def on_fit_epoch_end(self, trainer):
        """A new best fitness, and progress every ``progress_every`` epochs / ``progress_minutes`` minutes."""
        snap = self.snapshot(trainer)
        if snap.is_final_eval:
            self._news.final_eval(snap)  # metrics of best.pt, for the train_end message
            return
        self._epoch_done(trainer, snap)

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Take completed ``epoch`` that the saved state missed (the core calls this on ``resume=True``, in
        ``on_train_start``, with the epoch's numbers read back from results.csv and last.pt).

        The state is saved before an epoch's messages are sent, so the process died before sending them: a new
        best (and a due progress message) of that epoch is sent now, once, as the uninterrupted run would have.
        """
        self._epoch_done(trainer, recorded_snapshot(trainer, epoch, values))
        return True

    def _epoch_done(self, trainer, snap) -> None:
        """One completed epoch, live or caught up: queue its messages, then save the state.

        The messages are built and journaled on the bus' writer before the state that says they were sent is
        written (see ``send_later``): a SIGKILL in between leaves them in the journal, and the state one epoch behind
        for the resume to catch up (the same ids: receivers drop the second copy).
        """
        self._news.epoch_done(snap, self._run)
        self.save_state(trainer, snap.epoch)

    def teardown(self, trainer):
        """Train end (with the fitness summary), crash or interrupt — exactly once (queued, never waited for here)."""
        if not self.is_main_process:
            return
        if not self._news.ended:
            if not self._run:
                self.set_run(trainer)  # crashed during set-up, before on_train_start
            self._news.end(self.outcome(trainer), self._run, lambda: self._crash_facts(trainer))
        self._training = False

    def _crash_facts(self, trainer) -> dict[str, Any]:
        from ..recovery.forensics import crash_facts

        return crash_facts(trainer, self._bus.history if self._bus is not None else (), self.secrets())

    def finish(self, trainer, deadline) -> None:
        """End of the run (called by the core after every teardown): wait within the run's one ``deadline`` (and
        ``flush_timeout``), the rest goes to the outbox; then the worker thread ends.

        ``flush_timeout`` is all this destination waits: a request still in flight once everything is in the outbox
        is not waited for (it ends by its own ``timeout``, on a daemon thread, and changes nothing: its message is
        in the outbox already, to be replayed under the same id)."""
        allowance = Deadline(deadline.left(self.flush_timeout))
        self.flush(allowance.left())
        self._in_run = False  # from here on (a predict after the training) messages are sent at once
        if self._delivery is not None:
            self._delivery.close(allowance.left())  # an idle thread ends at once

    def state_dict(self) -> dict[str, Any]:
        """The best fitness already announced (so that a resumed run does not announce it again)."""
        return self._news.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (a missing key keeps its default)."""
        self._news.load_state_dict(state)
