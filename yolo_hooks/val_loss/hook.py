"""``ValLossAlert``: tell someone at once when validation loss jumps, diverges or turns NaN.

Every epoch the hook reads each ``val/*`` loss the task reports (and their total, ``val/loss``) from the epoch
snapshot, applies the rules of :mod:`yolo_hooks.val_loss.rules`, and for each alert or recovery logs a yellow/red line,
appends a JSON line to ``save_dir/alerts.jsonl`` and publishes ``alert`` / ``alert_recovered`` for notifications.

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> alert = yolo_hooks.ValLossAlert(above={"val/loss": 10}, rise="25%", jump="50%", action={"nonfinite": "stop"})
    >>> yolo_hooks.attach(model, alert)  # doctest: +SKIP

Or in hooks.yaml::

    val_loss_alert: {above: 10, rise: 25%, jump: 50%, overfit: 5, warmup: 3, repeat_every: 5, action: {nonfinite: stop}}
"""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any

from ..core.errors import ConfigError
from ..core.files import append_line, read_jsonl
from ..core.hook import Hook
from ..core.recorded import recorded_snapshot
from ..core.run import EpochSnapshot
from ..core.validate import check_amount, check_bool, check_choice, check_number
from .rules import (
    ACTIONS,
    DEFAULT,
    RULES,
    VAL_TOTAL,
    AlertRecord,
    AlertRules,
    AlertState,
    Observation,
    Threshold,
    end_line,
    epoch_line,
    evaluate,
)

ALERTS_FILE = "alerts.jsonl"

# The loss components each Ultralytics task reports as ``val/<name>`` (8.4: ultralytics/utils/loss.py loss_names,
# nn/tasks.py RTDETRDetectionModel.loss, nn/distill_model.py). Per-loss options are checked against all of them at
# attach time, when the task is not known yet; a name the running task does not produce is reported at epoch 1.
TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "detect": ("box_loss", "cls_loss", "dfl_loss", "l1_loss"),  # l1_loss replaces dfl_loss when reg_max == 1
    "segment": ("box_loss", "seg_loss", "cls_loss", "dfl_loss", "sem_loss"),
    "pose": ("box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss", "rle_loss"),  # rle_loss: YOLO26 pose
    "obb": ("box_loss", "cls_loss", "dfl_loss", "angle_loss"),
    "classify": ("loss",),  # one loss, which is also the total
    "semantic": ("ce_loss", "dice_loss", "aux_loss"),
    "depth": ("dlog_loss", "dgrad_loss"),
    "rtdetr": ("giou_loss", "cls_loss", "l1_loss"),
    "yoloe visual prompts": ("box", "cls", "dfl", "seg"),
    "distillation": ("dis_loss",),
}
KNOWN_LOSSES: tuple[str, ...] = tuple(
    sorted(
        {f"val/{n}" for names in TASK_LOSSES.values() for n in names} | {VAL_TOTAL}, key=lambda k: (k != VAL_TOTAL, k)
    )
)


class ValLossAlert(Hook):
    """Alerts on validation losses: absolute ceiling, rise over the best, jump over the previous epoch, overfitting,
    NaN/Inf.

    Every threshold is one value for all losses or a mapping per loss (``{val/box_loss: 5, val/loss: 10}``, with
    ``default`` for the losses not named and ``null`` to exempt one); ``null``/``false`` switches a rule off.

    Args:
        above: absolute ceiling; the loss must stay at or below it.
        rise: how far above its best (minimum) value so far a loss may go: ``"25%"`` of the best, or a number in loss
            units.
        jump: how far above the previous epoch's value a loss may go, like ``rise``.
        overfit: epochs without improving on its best, while the matching training loss fell, that count as
            overfitting.
        nonfinite: alert on NaN/Inf in any validation or training loss, or in fitness (always critical).
        warmup: epochs at the start during which only ``nonfinite`` applies; the best value starts from the last
            of them.
        repeat_every: fire again every ``repeat_every`` epochs while a condition lasts (null or 0: once until it
            recovers).
        action: ``alert`` or ``stop`` (stop training cleanly after this epoch); one for every rule or a mapping by
            rule name (``{nonfinite: stop, default: alert}``).
        verbose: one console line per alert and recovery, with its full message (default: one line per epoch naming
            every loss that alerts or recovers; alerts.jsonl and the published events always have every detail).
        strict: re-raise errors instead of isolating them (tests, debugging).
        name: name in logs and state files.
    """

    renamed_options = {"cooldown": "`repeat_every`", "patience": "`overfit`"}

    def __init__(
        self,
        *,
        above: Any = None,
        rise: Any = "50%",
        jump: Any = None,
        overfit: Any = None,
        nonfinite: bool = True,
        warmup: int = 3,
        repeat_every: int | None = None,
        action: Any = "alert",
        verbose: bool = False,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name)
        hook = self.name
        self.rules = AlertRules(
            above=_per_loss(hook, "above", above, lambda k, v: float(check_number(hook, k, v, minimum=0))),
            rise=_per_loss(hook, "rise", rise, lambda k, v: _threshold(hook, k, v)),
            jump=_per_loss(hook, "jump", jump, lambda k, v: _threshold(hook, k, v)),
            overfit=_per_loss(
                hook, "overfit", overfit, lambda k, v: check_number(hook, k, v, minimum=1, integer=True)
            ),
            nonfinite=check_bool(hook, "nonfinite", nonfinite),
            warmup=check_number(hook, "warmup", warmup, minimum=0, integer=True),
            repeat_every=(
                check_number(hook, "repeat_every", repeat_every, minimum=0, integer=True, allow_none=True) or None
            ),
            actions=_actions(hook, action),
        )
        self.verbose = check_bool(hook, "verbose", verbose)
        self.records: list[AlertRecord] = []  # this run's alerts and recoveries, in order
        self._state = AlertState()
        self._checked_names = False

    # --- Ultralytics events -------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new run starts from scratch (on ``resume=True`` the core restores the saved state in on_train_start).

        Like Ultralytics' results.csv, alerts.jsonl of an earlier run in the same folder (``exist_ok=True``) is
        removed, and kept on resume.
        """
        self._state, self.records, self._checked_names = AlertState(), [], False
        if self.is_main_process and not getattr(trainer.args, "resume", False):
            (Path(trainer.save_dir) / ALERTS_FILE).unlink(missing_ok=True)

    def on_fit_epoch_end(self, trainer):
        """Apply the rules to this epoch; the extra call after the final validation of best.pt fires nothing."""
        snap = self.snapshot(trainer)
        if snap.is_final_eval or not self.is_main_process:  # rank 0 decides; Ultralytics broadcasts its stop flag
            return
        self._epoch_done(trainer, snap)

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Take completed ``epoch`` that the saved state missed (the core calls this on ``resume=True``, in
        ``on_train_start``, with the epoch's numbers read back from results.csv and last.pt).

        The epoch goes through the rules like a live one. The process may have died after appending some of this
        epoch's records to alerts.jsonl and before saving the state: a record already in the file is neither
        written nor published again; the others are, as usual. A line the process was killed in the middle of is
        cut off first (it is this epoch's record, written again whole), so the next append starts on its own line.
        A stop (``action: stop``) is set on rank 0 here and shared with every DDP rank by the core at the start of
        the first resumed epoch (:class:`~yolo_hooks.core.lifecycle.RunTracker`).
        """
        if not self.is_main_process:
            return True
        path = Path(trainer.save_dir) / ALERTS_FILE
        if self._bus is not None:
            self._bus.flush_writes()  # the previous caught-up epoch's records are in the file before it is read
        _drop_torn_line(path)
        written = {_identity(r) for r in read_jsonl(path) if r.get("epoch") == epoch}
        self._epoch_done(trainer, recorded_snapshot(trainer, epoch, values), already_written=written)
        return True

    def _epoch_done(self, trainer, snap: EpochSnapshot, already_written: set[tuple] | None = None) -> None:
        """One completed epoch, live or caught up: rules, records, stop, state."""
        # With val=False, epochs that skip validation still carry the placeholder zeros Ultralytics puts in
        # trainer.metrics on the first batch: they are not losses, and a best of 0 would make every rise infinite.
        val = snap.val_losses if any(v != 0 for v in snap.val_losses.values()) else {}
        if not self._checked_names:
            self._checked_names = True
            self._report_unused_names(val, snap.task)
        observation = Observation(epoch=snap.epoch, val=val, train=snap.train_losses, fitness=snap.fitness)
        self._state, records = evaluate(self.rules, self._state, observation)
        path = snap.save_dir / ALERTS_FILE
        for record in records:
            if already_written and _identity(record.as_dict()) in already_written:
                self.records.append(record)
                self.log(f"{record.kind} of epoch {record.epoch} ({record.rule} on {record.loss}) is already in {path}")
            else:
                self._emit(record, path)
        fresh = [r for r in records if not (already_written and _identity(r.as_dict()) in already_written)]
        if fresh and not self.verbose:
            text, level = epoch_line(fresh)
            self.log(text, level)
        stoppers = [r for r in records if r.stops]
        if stoppers:
            trainer.stop = True
            rules = ", ".join(sorted({f"{r.rule} on {r.loss}" for r in stoppers}))
            self.log(
                f"stopping training after epoch {snap.epoch} ({rules}); best.pt and final validation follow", "error"
            )
        self.save_state(trainer, snap.epoch)

    def on_train_end(self, trainer):
        """One summary line: how many alerts, which conditions are still active, where the records are."""
        if not self.is_main_process:
            return
        fired = sum(r.kind == "alert" for r in self.records)
        if fired:
            text, level = end_line(fired, list(self._state.active), trainer.save_dir / ALERTS_FILE)
            self.log(text, level)

    # --- resume -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return self._state.as_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._state = AlertState.from_dict(state or {})

    # --- effects ------------------------------------------------------------------------------------------------
    def _emit(self, record: AlertRecord, path) -> None:
        """Log, append to alerts.jsonl, publish: each effect independent of the others."""
        self.records.append(record)
        if self.verbose:
            level = {"critical": "error", "warning": "warning"}.get(record.severity, "info")
            self.log(record.message if record.kind == "alert" else f"recovered: {record.message}", level)
        fields = record.as_dict()
        published = self.publish(
            "alert" if record.kind == "alert" else "alert_recovered",
            record.message,
            record.severity,
            **{k: v for k, v in fields.items() if k not in {"kind", "message", "severity"}},
            repeat_every=self.rules.repeat_every,  # how often it fires again while it lasts (trackers space theirs)
        )
        line = {"time": published.time, **fields}

        def append():  # on the bus' writer, in order with the state file that follows it
            try:
                append_line(path, json.dumps(line, allow_nan=False))
            except OSError as e:  # a full disk must not hide the alert: it was logged and published above
                self.log(f"could not append to {path}: {e}", "warning")

        self.write_later(append)

    def _report_unused_names(self, val_losses: dict[str, float], task: str) -> None:
        """Say once which per-loss settings this task never uses (names are valid for some task, not this one)."""
        produced = set(val_losses) | ({VAL_TOTAL} if val_losses else set())
        if not produced:
            self.log(
                "no validation losses this epoch (val=False?): only training losses and fitness are watched", "warning"
            )
            return
        named = {k for rule in ("above", "rise", "jump", "overfit") for k in getattr(self.rules, rule) if k != DEFAULT}
        unused = sorted(named - produced)
        if unused:
            self.log(
                f"{', '.join(unused)} not produced by this {task} run (it has {', '.join(sorted(produced))}); ignored",
                "warning",
            )


def _identity(record: dict[str, Any]) -> tuple:
    """What makes an alerts.jsonl record the same record: kind, rule, loss, epoch."""
    return record.get("kind"), record.get("rule"), record.get("loss"), record.get("epoch")


def _drop_torn_line(path: Path) -> None:
    """Cut a last line that has no newline (the process died writing it) off ``path``."""
    try:
        with open(path, "r+b") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


# --- option parsing (plain functions: option value in, validated value or ConfigError out) --------------------------
def _loss_key(hook: str, option: str, name: Any) -> str:
    """``box_loss`` or ``val/box_loss`` -> ``val/box_loss``; ``default`` stays; anything else is a ConfigError."""
    key = str(name)
    if key == DEFAULT:
        return key
    if not key.startswith("val/"):
        key = f"val/{key}"
    if key not in KNOWN_LOSSES:
        close = difflib.get_close_matches(key, KNOWN_LOSSES, n=1)
        hint = f" (did you mean `{close[0]}`?)" if close else ""
        raise ConfigError(
            f"{hook}: `{option}` names an unknown loss {name!r}{hint}; allowed: {DEFAULT}, {', '.join(KNOWN_LOSSES)}"
        )
    return key


def _per_loss(hook: str, option: str, value: Any, parse) -> dict[str, Any]:
    """One value for every loss (stored under ``default``) or a mapping loss -> value; None/False means off."""
    if value is None or value is False:
        return {}
    if not isinstance(value, dict):
        return {DEFAULT: parse(option, value)}
    out = {}
    for name, setting in value.items():
        key = _loss_key(hook, option, name)
        out[key] = None if setting is None or setting is False else parse(f"{option}.{key}", setting)
    return out


def _threshold(hook: str, key: str, value: Any) -> Threshold:
    amount, relative = check_amount(hook, key, value, minimum=0.0)
    return Threshold(amount, relative)


def _actions(hook: str, value: Any) -> dict[str, str]:
    """``alert``/``stop`` for every rule, or a mapping rule -> action (``default`` for the rules not named)."""
    if not isinstance(value, dict):
        return dict.fromkeys(RULES, check_choice(hook, "action", value, ACTIONS))
    for rule in value:
        if rule not in (*RULES, DEFAULT):
            raise ConfigError(
                f"{hook}: `action` names an unknown rule {rule!r}; allowed: {DEFAULT}, {', '.join(RULES)}"
            )
    default = check_choice(hook, f"action.{DEFAULT}", value.get(DEFAULT, "alert"), ACTIONS)
    return {rule: check_choice(hook, f"action.{rule}", value.get(rule, default), ACTIONS) for rule in RULES}
