"""The rules behind :class:`~yolo_hooks.val_loss.hook.ValLossAlert`, as plain functions over plain data.

``evaluate(rules, state, observation) -> (new_state, records)``: one epoch's losses in, the alerts (and
recoveries) they cause out. Nothing here touches a trainer, a file or a logger, so the tests are tables of
scripted loss sequences.

Examples:
    >>> rules = AlertRules(above={DEFAULT: 10.0}, warmup=0)
    >>> state, records = evaluate(rules, AlertState(), Observation(epoch=1, val={"val/box_loss": 12.0}))
    >>> [(r.kind, r.rule, r.loss) for r in records]
    [('alert', 'above', 'val/box_loss'), ('alert', 'above', 'val/loss')]
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

from ..core.numbers import finite

RULES = ("nonfinite", "above", "rise", "jump", "overfit")
ACTIONS = ("alert", "stop")
DEFAULT = "default"  # key of a per-loss mapping that applies to every loss not named
VAL_TOTAL, TRAIN_TOTAL = "val/loss", "train/loss"


@dataclass(frozen=True)
class Threshold:
    """A rise limit: ``amount`` as a fraction of the baseline (``relative``, from "25%") or in loss units."""

    amount: float
    relative: bool

    def limit(self, baseline: float) -> float:
        """The value above which ``baseline`` counts as risen."""
        return baseline * (1.0 + self.amount) if self.relative else baseline + self.amount

    def __str__(self) -> str:
        return f"+{self.amount * 100:g}%" if self.relative else f"+{self.amount:g}"


@dataclass(frozen=True)
class AlertRules:
    """Validated configuration. Per-loss mappings hold a value per ``val/*`` name and/or under :data:`DEFAULT`;
    a value of None switches the rule off for that loss."""

    above: dict[str, float | None] = field(default_factory=dict)
    rise: dict[str, Threshold | None] = field(default_factory=dict)
    jump: dict[str, Threshold | None] = field(default_factory=dict)
    overfit: dict[str, int | None] = field(default_factory=dict)
    nonfinite: bool = True
    warmup: int = 0
    repeat_every: int | None = None
    actions: dict[str, str] = field(default_factory=dict)  # rule -> alert|stop

    def for_loss(self, rule: str, loss: str) -> Any:
        """The setting of ``rule`` for ``loss`` (its own entry, else the default), or None when off."""
        table = getattr(self, rule)
        return table[loss] if loss in table else table.get(DEFAULT)

    def action(self, rule: str) -> str:
        """``alert`` or ``stop``."""
        return self.actions.get(rule, "alert")

    def severity(self, rule: str) -> str:
        """NaN/Inf and absolute ceilings are critical, as is any rule that stops training; the rest warn."""
        return "critical" if rule in {"nonfinite", "above"} or self.action(rule) == "stop" else "warning"


@dataclass(frozen=True)
class Observation:
    """One epoch as plain numbers: validation and training loss components by their Ultralytics keys."""

    epoch: int
    val: dict[str, float] = field(default_factory=dict)
    train: dict[str, float] = field(default_factory=dict)
    fitness: float | None = None


@dataclass(frozen=True)
class AlertRecord:
    """An alert (``kind="alert"``) or the all-clear of one (``kind="recovered"``, severity info)."""

    kind: str
    rule: str
    loss: str
    value: float | None
    threshold: float | None
    baseline: float | None
    epoch: int
    since: int
    severity: str
    action: str | None
    message: str

    @property
    def stops(self) -> bool:
        """True when this alert asks the trainer to stop."""
        return self.kind == "alert" and self.action == "stop"

    def as_dict(self) -> dict[str, Any]:
        """A strict-JSON dict: NaN and Inf become the strings "nan", "inf", "-inf"."""
        return {k: json_number(v) for k, v in vars(self).items()}  # flat: asdict's deep copy would cost more


@dataclass
class LossTrack:
    """What one loss has done so far: its best (minimum) and the epoch of it, its previous finite value."""

    best: float | None = None
    best_epoch: int | None = None
    train_at_best: float | None = None  # the matching training loss at best_epoch (for the overfitting rule)
    previous: float | None = None
    previous_epoch: int | None = None


@dataclass
class AlertState:
    """Everything that must survive a resume; JSON-ready through :meth:`as_dict` / :meth:`from_dict`."""

    tracks: dict[str, LossTrack] = field(default_factory=dict)
    active: dict[str, dict[str, int]] = field(default_factory=dict)  # "rule|loss" -> {since, last_fired}
    epoch: int | None = None  # last epoch evaluated
    fired: int = 0  # alerts fired so far (re-fires included)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tracks": {k: dict(vars(v)) for k, v in self.tracks.items()},  # flat dataclasses: no asdict recursion
            "active": {k: dict(v) for k, v in self.active.items()},
            "epoch": self.epoch,
            "fired": self.fired,
        }

    def copy(self) -> AlertState:
        """An independent copy (tracks and active entries are flat: one level deep is all there is to copy;
        ``copy.deepcopy`` was half of the hook's time on the training thread)."""
        return AlertState(tracks={k: copy.copy(v) for k, v in self.tracks.items()},
                          active={k: dict(v) for k, v in self.active.items()}, epoch=self.epoch, fired=self.fired)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        """Read leniently: unknown keys are ignored, missing ones take their defaults."""
        known = set(LossTrack.__dataclass_fields__)
        tracks = {
            str(k): LossTrack(**{f: x for f, x in (v or {}).items() if f in known})
            for k, v in (data.get("tracks") or {}).items()
        }
        active = {
            str(k): {"since": int(v["since"]), "last_fired": int(v.get("last_fired", v["since"]))}
            for k, v in (data.get("active") or {}).items()
        }
        return cls(tracks=tracks, active=active, epoch=data.get("epoch"), fired=int(data.get("fired", 0)))


def json_number(value: Any) -> Any:
    """``value``, with non-finite floats as strings (strict JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def train_counterpart(loss: str) -> str:
    """``val/box_loss`` -> ``train/box_loss``; ``val/loss`` -> ``train/loss``."""
    return "train/" + loss.split("/", 1)[1]


def _fmt(value: float | None) -> str:
    if value is None:
        return "n/a"
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Inf" if value > 0 else "-Inf")
    return f"{value:.4g}"


def _percent_over(value: float, baseline: float) -> float:
    """How far ``value`` is above ``baseline``, in percent of it (inf when the baseline is not positive)."""
    return (value - baseline) / baseline * 100 if baseline > 0 else math.inf


def _with_totals(parts: dict[str, float], total_key: str) -> tuple[dict[str, float], set[str]]:
    """Components plus their sum under ``total_key`` (unless a component already has that key, as in
    classification); returns the values and the set of keys that are computed totals."""
    values = dict(parts)
    if parts and total_key not in parts:
        values[total_key] = round(sum(parts.values()), 6)  # Ultralytics rounds components to 5 decimals
        return values, {total_key}
    return values, set()


def _check(
    rules: AlertRules, rule: str, loss: str, value: float, track: LossTrack, train_now: float | None, epoch: int
):
    """Is ``rule`` true for this finite ``value``? -> (condition, threshold, baseline, message) or None when the
    rule is off for this loss or has no baseline yet. The message is written only when the condition holds (the
    one case that reads it; this runs on the training thread for every rule and loss every epoch)."""
    setting = rules.for_loss(rule, loss)
    if setting is None:
        return None
    if rule == "above":
        condition = value > setting
        message = f"{loss} {_fmt(value)} is above {_fmt(setting)} at epoch {epoch}" if condition else ""
        return condition, setting, None, message
    if rule == "rise" and track.best is not None:
        limit = setting.limit(track.best)
        condition = value > limit
        message = (
            f"{loss} {_fmt(value)} at epoch {epoch} is {_percent_over(value, track.best):+.0f}% over its best "
            f"{_fmt(track.best)} (epoch {track.best_epoch}); limit {setting}"
        ) if condition else ""
        return condition, limit, track.best, message
    if rule == "jump" and track.previous is not None:
        limit = setting.limit(track.previous)
        condition = value > limit
        message = (
            f"{loss} jumped {_percent_over(value, track.previous):+.0f}% from {_fmt(track.previous)} (epoch "
            f"{track.previous_epoch}) to {_fmt(value)} at epoch {epoch}; limit {setting}"
        ) if condition else ""
        return condition, limit, track.previous, message
    if rule == "overfit" and track.best is not None:
        wait = epoch - track.best_epoch
        improved = value < track.best
        train_fell = finite(train_now) and finite(track.train_at_best) and train_now < track.train_at_best
        condition = not improved and wait >= setting and train_fell
        message = (
            f"{loss} has not improved on its best {_fmt(track.best)} (epoch {track.best_epoch}) for {wait} epochs "
            f"while {train_counterpart(loss)} fell {_fmt(track.train_at_best)} -> {_fmt(train_now)}: overfitting?"
        ) if condition else ""
        return condition, float(setting), track.best, message
    return None


def evaluate(rules: AlertRules, state: AlertState, obs: Observation) -> tuple[AlertState, list[AlertRecord]]:
    """Apply every rule to one epoch; returns the new state and the alerts / recoveries, in a stable order.

    A condition fires when it becomes true, again every ``repeat_every`` epochs while it stays true (never when
    ``repeat_every`` is None), and yields one ``recovered`` record when it is next evaluated false. A rule that cannot
    be evaluated (loss missing or non-finite, no baseline yet, warm-up) leaves its condition as it was.

    During the first ``warmup`` epochs only the non-finite rule applies, and the baselines (best, previous) follow
    the loss without taking its minimum: the best starts from the last warm-up epoch.
    """
    state = state.copy()
    val, val_totals = _with_totals(obs.val, VAL_TOTAL)
    train, _ = _with_totals(obs.train, TRAIN_TOTAL)
    in_warmup = obs.epoch <= rules.warmup
    verdicts: list[tuple[str, str, float | None, tuple]] = []  # (rule, loss, value, (cond, threshold, baseline, msg))

    if rules.nonfinite:
        # Computed totals are skipped: a NaN component already makes them NaN, one alert is enough.
        watched = [(k, v) for k, v in val.items() if k not in val_totals] + sorted(obs.train.items())
        watched += [("fitness", obs.fitness)] if obs.fitness is not None else []
        for loss, value in watched:
            condition = not finite(value)
            message = f"{loss} is {_fmt(value)} at epoch {obs.epoch}" if condition else ""
            verdicts.append(("nonfinite", loss, value, (condition, None, None, message)))

    for loss in sorted(val, key=lambda k: (k == VAL_TOTAL, k)):  # components first, the total last
        value = val[loss]
        if not finite(value):
            continue
        track = state.tracks.setdefault(loss, LossTrack())
        train_now = train.get(train_counterpart(loss), train.get(TRAIN_TOTAL))
        if not in_warmup:
            for rule in ("above", "rise", "jump", "overfit"):
                verdict = _check(rules, rule, loss, value, track, train_now, obs.epoch)
                if verdict is not None:
                    verdicts.append((rule, loss, value, verdict))
        if in_warmup or track.best is None or value < track.best:
            track.best, track.best_epoch, track.train_at_best = value, obs.epoch, train_now
        track.previous, track.previous_epoch = value, obs.epoch

    records = []
    for rule, loss, value, (condition, threshold, baseline, message) in verdicts:
        key = f"{rule}|{loss}"
        active = state.active.get(key)
        if condition and active is None:
            state.active[key] = {"since": obs.epoch, "last_fired": obs.epoch}
            records.append(
                _record("alert", rules, rule, loss, value, threshold, baseline, obs.epoch, obs.epoch, message)
            )
        elif condition and rules.repeat_every and obs.epoch - active["last_fired"] >= rules.repeat_every:
            active["last_fired"] = obs.epoch
            message = f"{message} (still, since epoch {active['since']})"
            records.append(
                _record("alert", rules, rule, loss, value, threshold, baseline, obs.epoch, active["since"], message)
            )
        elif not condition and active is not None:
            del state.active[key]
            since = active["since"]
            message = f"{loss} recovered at epoch {obs.epoch} ({_fmt(value)}): {rule} alert of epoch {since} cleared"
            records.append(
                AlertRecord(
                    "recovered",
                    rule,
                    loss,
                    value,
                    threshold,
                    baseline,
                    obs.epoch,
                    active["since"],
                    "info",
                    None,
                    message,
                )
            )
    state.fired += sum(r.kind == "alert" for r in records)
    state.epoch = obs.epoch
    return state, records


def _record(kind, rules, rule, loss, value, threshold, baseline, epoch, since, message) -> AlertRecord:
    return AlertRecord(
        kind, rule, loss, value, threshold, baseline, epoch, since, rules.severity(rule), rules.action(rule), message
    )


# --- the console: one line per epoch, one at the end -------------------------------------------------------------
def _change(record: AlertRecord) -> str:
    """How far ``record``'s value is from what the rule compared it with: ``+37%`` or ``52.1 > 50``."""
    value, base, limit = record.value, record.baseline, record.threshold
    if value is None or not math.isfinite(value):
        return "not finite"
    if record.rule in ("rise", "jump") and base:
        return f"{100 * (value - base) / abs(base):+.0f}%"
    if record.rule == "above" and limit is not None:
        return f"{value:.4g} > {limit:g}"
    return f"{value:.4g}"


def epoch_line(records: list[AlertRecord]) -> tuple[str, str]:
    """One console line for one epoch's alerts and recoveries, and its level (error, warning or info).

    Examples:
        >>> rec = AlertRecord("alert", "rise", "val/loss", 3.0, None, 2.0, 7, 7, "warning", None, "...")
        >>> epoch_line([rec, AlertRecord("recovered", "rise", "val/dfl_loss", 1.0, None, 1.1, 7, 5, "info", None, "")])
        ('epoch 7: rise on val/loss (+50%); recovered: val/dfl_loss', 'warning')
    """
    alerts = [r for r in records if r.kind == "alert"]
    by_rule: dict[str, list[str]] = {}
    for record in alerts:
        by_rule.setdefault(record.rule, []).append(f"{record.loss} ({_change(record)})")
    parts = [f"{rule} on {', '.join(losses)}" for rule, losses in by_rule.items()]
    recovered = [r.loss for r in records if r.kind != "alert"]
    if recovered:
        parts.append(f"recovered: {', '.join(dict.fromkeys(recovered))}")
    if any(r.stops for r in alerts):
        parts.append("stopping")
    level = "error" if any(r.severity == "critical" for r in alerts) else "warning" if alerts else "info"
    return f"epoch {records[0].epoch}: {'; '.join(parts)}", level


def end_line(fired: int, active: list[str], where: Any) -> tuple[str, str]:
    """The end-of-run line: how many alerts, what is still active and what that means for the weights.

    Examples:
        >>> end_line(3, [], "alerts.jsonl")
        ('3 alert(s) this run, none active at the end; see alerts.jsonl', 'info')
    """
    if not active:
        return f"{fired} alert(s) this run, none active at the end; see {where}", "info"
    still = ", ".join(key.replace("|", " on ") for key in active)
    return (f"{fired} alert(s) this run; still active at the end: {still}. The last epochs did not come back within "
            f"the limit: best.pt (the best fitness) is the checkpoint to use, not last.pt; see {where}"), "warning"
