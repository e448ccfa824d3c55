"""The plateau tracker shared by :class:`~yolo_hooks.plateau.early_stop.EarlyStopping` and
:class:`~yolo_hooks.plateau.lr_on_plateau.ReduceLROnPlateau`: mode, ``min_delta``, best value and the wait counter, once.

The decision logic is plain data in, plain data out (Keras' ``MonitorCallback._is_improvement`` is the model), so
tests are tables of value sequences. :class:`MonitorHook` adds what both hooks need from a run: option checks and
reading the monitored value from the epoch snapshot without ever crashing on a missing key.

Examples:
    >>> t = PlateauTracker(mode="max", min_delta=0.01)
    >>> [t.update(epoch, v) for epoch, v in enumerate([0.50, 0.505, 0.52], start=1)]
    [True, False, True]
    >>> t.best, t.best_epoch, t.wait_count
    (0.52, 3, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping

from ..core.errors import ConfigError
from ..core.hook import Hook
from ..core.run import EpochSnapshot
from ..core.validate import check_amount, check_bool, check_choice, check_str

MODES = ("auto", "min", "max")
ALWAYS_FRESH = ("train/", "lr/")  # keys measured every epoch, even when validation is skipped


# Words of the metric keys Ultralytics' tasks report that grow when the model gets better.
HIGHER_IS_BETTER = ("precision", "recall", "map", "accuracy", "iou")


def resolve_mode(monitor: str, mode: str) -> str | None:
    """``min`` or ``max``. ``auto`` means min for losses (keys containing "loss"), max for ``fitness`` and the
    ``metrics/*`` that grow with quality (precision, recall, mAP, accuracy, IoU); None when it cannot tell (an
    ``lr/`` key, a custom metric), where Keras raises too."""
    if mode != "auto":
        return mode
    key = monitor.lower()
    if "loss" in key:
        return "min"
    if key == "fitness" or (key.startswith("metrics/") and any(word in key for word in HIGHER_IS_BETTER)):
        return "max"
    return None


@dataclass
class PlateauTracker:
    """Best value, its epoch, and how many monitored epochs passed without a real improvement.

    An improvement is ``value - delta > best`` (``mode="max"``) or ``value + delta < best`` (``mode="min"``), with
    ``delta = min_delta``, or ``min_delta * |best|`` when ``relative`` (``"5%"``). The first value always improves.
    With a ``baseline``, the wait counter is reset only by a value that improves on both the best and the baseline.

    Attributes:
        best: best value seen (None before the first one).
        best_epoch: 1-based epoch of ``best``.
        wait_count: monitored epochs since the last counted improvement.
        epochs_seen: monitored epochs so far.
    """

    mode: str = "max"
    min_delta: float = 0.0
    relative: bool = False
    baseline: float | None = None
    best: float | None = None
    best_epoch: int | None = None
    wait_count: int = 0
    epochs_seen: int = 0

    _STATE = ("best", "best_epoch", "wait_count", "epochs_seen")

    def is_improvement(self, value: float, reference: float | None) -> bool:
        """Does ``value`` beat ``reference`` by more than ``min_delta``? (Keras' ``_is_improvement``.)"""
        if reference is None:
            return True
        delta = self.min_delta * abs(reference) if self.relative else self.min_delta
        return value - delta > reference if self.mode == "max" else value + delta < reference

    def is_beyond(self, value: float, limit: float) -> bool:
        """Is ``value`` at or past ``limit`` in the good direction (``>=`` for max, ``<=`` for min)?"""
        return value >= limit if self.mode == "max" else value <= limit

    @property
    def baseline_beaten(self) -> bool:
        """True when there is no baseline or the best value improves on it."""
        return self.baseline is None or (self.best is not None and self.is_improvement(self.best, self.baseline))

    def update(self, epoch: int, value: float, count_wait: bool = True) -> bool:
        """Feed one finite value; returns True when it is a new best. ``count_wait=False`` (cooldown) keeps the
        wait counter from growing on a non-improving epoch."""
        self.epochs_seen += 1
        improved = self.is_improvement(value, self.best)
        if improved:
            self.best, self.best_epoch = value, epoch
        if improved and (self.baseline is None or self.is_improvement(value, self.baseline)):
            self.wait_count = 0
        elif count_wait:
            self.wait_count += 1
        return improved

    def state_dict(self) -> dict[str, Any]:
        """JSON-ready counters (the options are not state: they come from the config of the resumed run)."""
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore counters; missing keys keep their defaults."""
        defaults = {f.name: f.default for f in fields(self)}
        for key in self._STATE:
            setattr(self, key, state.get(key, defaults[key]))


class MonitorHook(Hook):
    """Base of the hooks that watch one value of the run: checks ``monitor``/``mode``/``min_delta`` and reads the
    value from the epoch snapshot. Not registered on its own."""

    def _init_monitor(self, monitor: Any, mode: Any, min_delta: Any, verbose: Any) -> None:
        self.monitor = check_str(self.name, "monitor", monitor)
        mode = check_choice(self.name, "mode", mode, MODES)
        self.mode = resolve_mode(self.monitor, mode)
        if self.mode is None:
            raise ConfigError.bad_value(
                self.name, "mode", mode,
                f"min or max: `auto` cannot tell whether `{self.monitor}` should go up or down (it knows losses, "
                "fitness and precision/recall/mAP/accuracy/IoU metrics)",
            )
        self._mode_inferred = mode == "auto"
        if isinstance(min_delta, str) and not min_delta.strip().endswith("%"):
            # the core's check_amount only mentions percentages for values ending in "%"
            raise ConfigError.bad_value(self.name, "min_delta", min_delta, "a number or a percentage like '5%', >= 0")
        self.min_delta, self.relative_delta = check_amount(self.name, "min_delta", min_delta)
        self.min_delta_option = min_delta
        self.verbose = check_bool(self.name, "verbose", verbose)
        self._missing_reported = False

    def log_mode(self) -> None:
        """Say which direction ``mode: auto`` chose (once per training, on rank 0, at train start)."""
        if self._mode_inferred and self.is_main_process:
            self.log(f"mode auto: {'minimising' if self.mode == 'min' else 'maximising'} `{self.monitor}`")

    def monitored_value(self, epoch: EpochSnapshot | Mapping[str, float | None]) -> float | None:
        """The value of ``monitor`` in ``epoch``, or None when it was not measured.

        ``epoch`` is this epoch's snapshot, or the ``values`` of an epoch recorded on disk (what the core hands
        to ``catch_up``): the same keys as :meth:`EpochSnapshot.values`, so both go through this one rule.
        A key the run does not have is logged once, as an error listing the keys it does have; the hook then does
        nothing (it never stops or crashes training because of its own misconfiguration). When validation was
        skipped this epoch (``val=False``: no fitness), metrics and validation losses are stale and count as not
        measured.
        """
        values = epoch.values() if isinstance(epoch, EpochSnapshot) else epoch
        if self.monitor not in values:
            if not self._missing_reported:
                self._missing_reported = True
                available = ", ".join(sorted(k for k, v in values.items() if v is not None))
                self.log(
                    f"monitor `{self.monitor}` is not a value of this run, so this hook does nothing. "
                    f"Available: {available}",
                    "error",
                )
            return None
        if values.get("fitness") is None and not self.monitor.startswith(ALWAYS_FRESH):
            return None
        return values[self.monitor]

    def describe_best(self, tracker: PlateauTracker) -> str:
        """``best 0.1234 at epoch 7`` (or ``no value yet``)."""
        if tracker.best is None:
            return "no value yet"
        return f"best {tracker.best:.6g} at epoch {tracker.best_epoch}"


def epochs_text(n: int) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} epoch" if n == 1 else f"{n} epochs"


