"""The hook base class: Ultralytics event names as methods, isolated errors, picklable state.

Examples:
    >>> from yolo_hooks import Hook, attach
    >>> class PrintBest(Hook):
    ...     config_name = "print_best"
    ...     def on_fit_epoch_end(self, trainer):
    ...         snap = self.snapshot(trainer)
    ...         if snap.is_best:
    ...             self.log(f"new best {snap.fitness:.4f} at epoch {snap.epoch}")
    >>> attach(model, PrintBest())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path
from typing import Any, Callable, ClassVar

from .bus import SEVERITIES, Bus, Published, event_id
from .callbacks import RESERVED_METHODS, check_event, known_events
from .colour import colour_enabled, paint
from .console import emit
from .files import read_json, rewrite_json_text
from .redact import scrub
from .run import EpochSnapshot, RunOutcome, is_main_process, rank, run_state, take_outcome, take_snapshot

LOG_REPEATS_AT = (10, 100, 1000, 10000)  # a repeated identical failure is reported again only at these counts


class CommandRefused(Exception):
    """Raised by :meth:`Hook.control` to refuse a run-control command; the text says why."""


class HookType(type):
    """How a hook is constructed: its keyword options checked first, so a typo in Python gets the same
    :class:`ConfigError` as in hooks.yaml (``BestMirror(to=[...], kep=3)``: unknown option `kep`, did you mean
    `keep`?), then its ``config_digest`` (hooks.yaml name and options, hashed) handed in once built."""

    def __call__(cls, *args: Any, **options: Any):
        from .config import check_options, config_digest

        label = options.get("name") if isinstance(options.get("name"), str) else None
        check_options(label or cls.config_name or cls.__name__, cls, options, positional=len(args))
        hook = super().__call__(*args, **options)
        hook.config_digest = config_digest(cls.config_name, options)
        return hook


class Hook(metaclass=HookType):
    """Base class of every yolo_hooks hook.

    Define methods named after Ultralytics events (``on_fit_epoch_end(self, trainer)``, ``on_val_end(self,
    validator)``, ``teardown(self, trainer)`` ...); :func:`yolo_hooks.attach` registers exactly those. An exception
    in one of them is logged once with its traceback, counted in ``error_counts`` and never reaches Ultralytics,
    unless ``strict=True``.

    Threads, files, sessions and locks must be created lazily and named in ``_transient`` so that the hook pickles
    at any moment (Ultralytics sends callbacks to DDP workers with cloudpickle).
    """

    config_name: ClassVar[str | None] = None  # top-level key in hooks.yaml (from the registry for registered classes)
    finish_last: ClassVar[bool] = False  # finish after the others (a notifier sends what they published at the end)
    allow_multiple: ClassVar[bool] = False  # may hooks.yaml give a list of option sets?
    renamed_options: ClassVar[dict[str, str]] = {}  # old option name -> what to use now, for a clear error
    _transient: ClassVar[tuple[str, ...]] = ()  # attributes dropped from pickled state

    def __init__(self, *, strict: bool = False, name: str | None = None):
        from .validate import check_bool, check_str

        label = name if isinstance(name, str) and name.strip() else self.default_name()
        self.strict = check_bool(label, "strict", strict)
        # One naming rule for every hook: a name the user chose is kept (twice on one model is a ConfigError); a
        # default one (``default_name()``) is made unique per model by attach (``_2``, ``_3`` ...).
        self.name = check_str(label, "name", name, allow_none=True) or self.default_name()
        self._named = name is not None
        self.error_counts: dict[str, int] = {}
        self._bus: Bus | None = None

    def __init_subclass__(cls, **kwargs: Any):
        """A registered class takes its hooks.yaml name from the registry (:mod:`yolo_hooks.catalog`), the one
        place it is written; a class of one's own may set ``config_name`` itself."""
        super().__init_subclass__(**kwargs)
        if "config_name" not in cls.__dict__:
            from .registry import config_name_of

            cls.config_name = config_name_of(cls) or cls.config_name

    def default_name(self) -> str:
        """The name used when the user gives none: the config name, else the class name (override to refine)."""
        return self.config_name or type(self).__name__

    @classmethod
    def option_names(cls) -> list[str]:
        """The keyword options this hook accepts (its ``__init__``'s; override when it takes ``**options``)."""
        from .config import option_names

        return option_names(cls)

    @classmethod
    def required_options(cls) -> list[str]:
        """The keyword options this hook cannot do without."""
        from .config import required_options

        return required_options(cls)

    # --- registration -------------------------------------------------------------------------------------------
    def handlers(self) -> dict[str, Callable]:
        """Event name -> bound method for every Ultralytics event this hook handles.

        Raises:
            ConfigError: a method looks like an event (``on_*``) but is not one Ultralytics fires.
        """
        events = known_events()
        found = {}
        for attr in dir(type(self)):
            if attr in RESERVED_METHODS or not callable(getattr(type(self), attr, None)):
                continue
            if attr in events:
                found[attr] = getattr(self, attr)
            elif attr.startswith("on_"):
                check_event(self.name, attr)
        return found

    def bind(self, bus: Bus) -> None:
        """Join the bus shared by the hooks of one model."""
        self._bus = bus
        bus.subscribe(self)

    # --- helpers for subclasses ---------------------------------------------------------------------------------
    @property
    def is_main_process(self) -> bool:
        """True on rank -1/0: the only process that writes files, sends messages or copies checkpoints."""
        return is_main_process()

    def snapshot(self, trainer) -> EpochSnapshot:
        """This epoch's :class:`EpochSnapshot` (read from the trainer once, shared by all hooks)."""
        return take_snapshot(trainer)

    def outcome(self, trainer) -> RunOutcome:
        """How the run ended (meaningful in ``teardown``): finished, stopped_early, interrupted or crashed."""
        state = run_state(trainer)
        if state.outcome is None:
            state.outcome = take_outcome(trainer)
        return state.outcome

    def secrets(self) -> list[str]:
        """Strings this hook must never print (webhook URLs, tokens); used to scrub its errors and logs."""
        return []

    def log(self, message: str, level: str = "info", colour: bool | None = None) -> None:
        """Log through Ultralytics' LOGGER with a ``name:`` prefix (coloured on a terminal), secrets scrubbed.

        During a training a line from a background thread is printed between two progress bars, never inside one
        (:mod:`yolo_hooks.core.console`)."""
        colour = colour_enabled() if colour is None else colour
        styles = {"warning": ("yellow", "bold"), "error": ("red", "bold"), "critical": ("red", "bold")}
        prefix = paint(self.name + ":", colour, *styles.get(level, ("blue", "bold")))
        body = scrub(message, self.secrets())
        level = "error" if level == "critical" else level
        if self._bus is None:
            emit(level, f"{prefix} {body}")
        else:
            self._bus.console.write(self.name, level, prefix, body)

    def publish(self, kind: str, message: str, severity: str = "info", /, *, about: dict[str, str] | None = None,
                **data: Any) -> Published:
        """Tell the other hooks of this model (and notifiers) that ``kind`` happened; returns the record.

        The message is scrubbed of this hook's secrets; ``data`` may use any key but ``about`` (``kind`` included).
        ``about``: the run or job it is about, fixed when the event happened (see :class:`Published`), for a
        background worker that publishes after its job may have ended.
        """
        if severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
        message = scrub(message, self.secrets())
        run_id = None if self._bus is None else self._bus.run_id
        event = Published(kind=kind, source=self.name, severity=severity, message=message, data=data,
                          id=event_id(run_id, self.name, kind, data), about=about)
        if self._bus is not None:
            self._bus.publish(event)
        return event

    # --- resume -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON-ready state that must survive ``resume=True`` (override; empty means nothing to keep).

        Return new containers on every call, not ones the hook goes on changing: the bus' writer turns them into
        JSON after the callback has returned.
        """
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned (read unknown or missing keys leniently)."""

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Take one completed ``epoch`` that the saved state missed (the process died between Ultralytics writing
        last.pt and this hook saving its state); ``values`` as in :meth:`EpochSnapshot.values`, read back from
        results.csv and last.pt. Return True when taken; the default takes nothing (the core then warns that the
        state is behind last.pt)."""
        return False

    # --- the other hooks, the end of the run, the run's marker ---------------------------------------------------
    def on_published(self, event: Published) -> None:
        """Another hook of this model published ``event`` (on the publishing thread: queue work, never wait)."""

    def finish(self, trainer, deadline) -> None:
        """This hook's end-of-run waiting (flushes, uploads) within ``deadline.left()``: the core calls it once,
        after every ``teardown``, with one deadline for all hooks (``finish_last`` ones last)."""

    def control(self, trainer, command, report: Callable[[str, bool], None]) -> str | None:
        """A run-control command (:mod:`yolo_hooks.control`: ``patience``, ``save``...) reached this hook, on rank 0's
        training thread between two batches: apply what concerns this hook and say in one line what it did; None:
        not this hook's business. Work that finishes later (a copy) calls ``report(text, ok)`` once when it is done,
        from any thread. Raise :class:`CommandRefused` to refuse it, saying why.

        ``command`` has ``name`` (``patience``, ``save``, ``extend``, ``stop``), its value (``patience``,
        ``epochs``, ``reason``, ``now``), ``id`` and ``sender``.
        """
        return None

    def describe(self) -> dict[str, Any] | None:
        """What ``yolo-hooks check`` prints for this hook (secrets redacted); None: the options as configured."""
        return None

    def marker_facts(self) -> dict[str, Any]:
        """What the run's marker (``yolo_hooks_run.json``) keeps about this hook for a later recovery of a killed run,
        as ``{key: value}`` (values of one key from several hooks form a list). Never a secret."""
        return {}

    def state_path(self, trainer) -> Path:
        """Where this hook's state lives: next to last.pt, in the run's weights folder."""
        key = (trainer.save_dir, self.name)
        cached = self.__dict__.get("_state_path")
        if cached is None or cached[0] != key:  # built once per run: this is asked every epoch
            cached = self._state_path = (key, Path(key[0]) / "weights" / f"{key[1]}.state.json")
        return cached[1]

    def save_state(self, trainer, epoch: int) -> None:
        """Save :meth:`state_dict` atomically, tagged with the 1-based epoch it describes (rank 0 only).

        The state is taken here; the bus' background writer makes the JSON and writes the file. Measured inside a
        training, ``json.dumps`` of val_loss_alert's 40-number state took the training thread 345-451 µs as the
        first serialisation of the event (35-70 µs again at once): it runs on the writer now.
        """
        state = self.state_dict()
        if not state or not self.is_main_process:
            return
        path = self.state_path(trainer)
        # one line: without `indent` json uses its C encoder; rewritten in place (see rewrite_json_text)
        self.write_later(lambda: rewrite_json_text(path, json.dumps({"epoch": epoch, "state": state}, default=str)))

    def write_later(self, write: Callable[[], Any]) -> None:
        """Run a file write on the bus' writer thread, in order with every other hook's writes (flushed before a
        resume reads them back and at the end of the run); now, on this thread, when the hook is not attached."""
        if self._bus is None:
            write()
        else:
            self._bus.writer.submit(write)

    def restore_state(self, trainer) -> int | None:
        """On ``resume=True`` load the saved state; returns the epoch it describes, or None when nothing was read."""
        if self._bus is not None:
            self._bus.flush_writes()
        saved = read_json(self.state_path(trainer))
        if not isinstance(saved, dict) or "state" not in saved:
            return None
        self.load_state_dict(saved["state"])
        return saved.get("epoch")

    # --- isolation ----------------------------------------------------------------------------------------------
    def call_guarded(self, method: str, *args: Any) -> Any:
        """Call ``self.<method>(*args)`` with the core's isolation: an ``Exception`` is logged once and counted
        instead of escaping (re-raised when ``strict``); returns the method's result, or None when it failed."""
        try:
            return getattr(self, method)(*args)
        except Exception as e:
            self._failed(method, e)
            return None

    def _failed(self, event: str, error: Exception) -> None:
        """``event`` raised ``error``: log it (once, then at growing counts) and count it; re-raise when ``strict``."""
        self._record_error(event, error)
        if self.strict:
            raise error

    def _record_error(self, event: str, error: Exception) -> None:
        message = scrub(f"{type(error).__name__}: {error}", self.secrets())
        key = f"{event}: {message}"
        count = self.error_counts[key] = self.error_counts.get(key, 0) + 1
        prefix = paint("yolo_hooks:", colour_enabled(), "yellow", "bold")
        # Ultralytics lets only errors through its LOGGER on DDP ranks > 0: a failure there is logged as one
        where, level = ("", "warning") if is_main_process() else (f" on rank {rank()}", "error")
        if count == 1:
            trace = scrub("".join(traceback.format_exception(error)), self.secrets())
            body = f"{self.name}.{event} failed{where}, training continues: {message}\n{trace}"
        elif count in LOG_REPEATS_AT:
            body = f"{self.name}.{event} failed {count} times{where}: {message}"
        else:
            return
        if self._bus is None:
            emit(level, f"{prefix} {body}")
        else:  # from a background thread during a training: between two progress bars
            self._bus.console.write(f"{self.name}:failed", level, prefix, body)

    @property
    def error_total(self) -> int:
        """How many exceptions this hook's handlers raised (and the core swallowed) so far."""
        return sum(self.error_counts.values())

    # --- pickling -----------------------------------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for attr in self._transient:
            if attr in state:
                state[attr] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class GuardedCallback:
    """What actually gets registered with Ultralytics: calls ``hook.<event>(obj)`` with errors isolated.

    A small class instead of a closure so that it pickles plainly and shows up readably in ``model.callbacks``.
    """

    def __init__(self, hook: Hook, event: str):
        self.hook = hook
        self.event = event
        self.__name__ = f"{type(hook).__name__}.{event}"
        self._handler = getattr(hook, event)  # looked up once: this runs on every batch and every frame

    def __getstate__(self) -> dict:
        return {"hook": self.hook, "event": self.event}  # the bound handler is looked up again when unpickled

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["hook"], state["event"])

    def __call__(self, obj: Any) -> Any:
        try:  # Hook.call_guarded without its getattr: this runs on every batch and every frame
            return self._handler(obj)
        except Exception as e:
            self.hook._failed(self.event, e)
            return None

    def __repr__(self) -> str:
        return f"<yolo_hooks {self.__name__}>"
