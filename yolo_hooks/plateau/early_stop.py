"""Early stopping on fitness or any metric of the run, with the options Keras and Lightning users expect.

Ultralytics' own ``patience`` compares raw fitness, upward only, and counts every epoch while the best fitness is
still 0 as an improvement, so a run stuck at zero fitness never stops. :class:`EarlyStopping` monitors any value,
in either direction, with an absolute or relative ``min_delta``, a warm-up, a baseline, a target, a divergence
limit and a non-finite check; it stops through ``trainer.stop`` so checkpoints, best.pt, the final validation and
``on_train_end`` all still happen.

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> yolo_hooks.attach(model, yolo_hooks.EarlyStopping(patience=5, min_delta="1%"))  # doctest: +SKIP
    >>> model.train(data="coco8.yaml", epochs=100, patience=1000)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from enum import Enum
from pathlib import Path
from typing import Any, NamedTuple

from ..core.errors import ConfigError
from ..core.files import atomic_write_json
from ..core.validate import check_bool, check_number
from .monitor import MonitorHook, PlateauTracker, epochs_text

__all__ = ["Decision", "EarlyStopping", "StopReason"]


class StopReason(str, Enum):
    """Why :class:`EarlyStopping` stopped training (the ``reason`` in early_stop.json and the published event)."""

    PATIENCE = "patience"  # no improvement for `patience` monitored epochs
    BASELINE = "baseline"  # `patience` epochs passed and the value never beat `baseline`
    STOP_AT = "stop_at"  # the target was reached
    DIVERGENCE = "divergence"  # the value became worse than the divergence limit
    NON_FINITE = "non_finite"  # the value is NaN or infinite


class Decision(NamedTuple):
    """What :meth:`EarlyStopping.evaluate` decided for one epoch."""

    should_stop: bool
    reason: StopReason | None
    message: str


class EarlyStopping(MonitorHook):
    """Stop training when the monitored value stops improving, reaches a target, diverges or is not finite.

    Args:
        monitor: ``fitness`` or any key of the run: ``metrics/mAP50(B)``, ``val/box_loss``, ``val/loss`` (sum of the
            validation losses), ``train/loss``... A key the run lacks is reported once, as an error listing the
            keys it has, at the first epoch; the hook then does nothing.
        mode: ``max``, ``min`` or ``auto`` (keys containing "loss" are minimised, everything else maximised).
        min_delta: smallest change that counts as an improvement: a number (absolute) or ``"5%"`` (relative to the
            best value so far).
        patience: stop after this many monitored epochs without an improvement; ``None`` switches it off (only
            ``stop_at``, ``divergence`` and the non-finite check stop then).
        warmup: the first ``warmup`` epochs are not monitored and decide nothing (Keras' ``start_from_epoch``;
            not Ultralytics' ``trainer.start_epoch``, which is where a resumed run starts).
        baseline: the wait counter only resets on a value that also beats this, so training stops after
            ``patience`` epochs if it never does.
        stop_at: stop as soon as the value reaches this target (``>=`` for max, ``<=`` for min).
        divergence: stop at once if the value becomes worse than this limit (``<`` for max, ``>`` for min).
        stop_on_non_finite: stop when the value is NaN or infinite (default); False ignores such epochs.
        verbose: log the value, best and wait counter every epoch.
        strict: re-raise errors of this hook instead of logging them (tests, debugging).
        name: display name and state-file name (default ``early_stop``).
    """

    renamed_options = {"start_epoch": "`warmup`"}  # it collided with Ultralytics' trainer.start_epoch

    def __init__(
        self,
        *,
        monitor: str = "fitness",
        mode: str = "auto",
        min_delta: float | str = 0.0,
        patience: int | None = 10,
        warmup: int = 0,
        baseline: float | None = None,
        stop_at: float | None = None,
        divergence: float | None = None,
        stop_on_non_finite: bool = True,
        verbose: bool = False,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name)
        self._init_monitor(monitor, mode, min_delta, verbose)
        self.patience = check_number(self.name, "patience", patience, minimum=1, integer=True, allow_none=True,
                                     none_means="switch patience off")
        self.warmup = check_number(self.name, "warmup", warmup, minimum=0, integer=True)
        self.baseline = check_number(self.name, "baseline", baseline, allow_none=True)
        self.stop_at = check_number(self.name, "stop_at", stop_at, allow_none=True)
        self.divergence = check_number(self.name, "divergence", divergence, allow_none=True)
        self.stop_on_non_finite = check_bool(self.name, "stop_on_non_finite", stop_on_non_finite)
        if self.stop_at is not None and self.divergence is not None:
            if not PlateauTracker(mode=self.mode).is_improvement(self.stop_at, self.divergence):
                raise ConfigError.bad_value(
                    self.name, "divergence", divergence,
                    f"worse than stop_at={self.stop_at} in mode {self.mode} ({'<' if self.mode == 'max' else '>'})",
                )
        self._reset()

    def _reset(self) -> None:
        self.tracker = PlateauTracker(mode=self.mode, min_delta=self.min_delta, relative=self.relative_delta,
                                      baseline=self.baseline)
        self.last_epoch: int | None = None  # last epoch evaluated (1-based)
        self.stopped_epoch: int | None = None
        self.stop_reason: StopReason | None = None
        self.stop_message: str | None = None

    # --- the decision: plain values in, plain values out ---------------------------------------------------------
    def evaluate(self, epoch: int, value: float | None) -> Decision:
        """Feed the value of 1-based ``epoch``; returns whether to stop and why (Lightning's
        ``_evaluate_stopping_criteria``). ``None`` (not measured) and warm-up epochs change nothing."""
        self.last_epoch = epoch
        if value is None:
            return Decision(False, None, f"{self.monitor} not measured at epoch {epoch}")
        if epoch <= self.warmup:
            message = f"warm-up epoch {epoch}/{self.warmup}: {self.monitor}={value:.6g} ignored"
            return Decision(False, None, message)
        if not math.isfinite(value):
            if self.stop_on_non_finite:
                return Decision(True, StopReason.NON_FINITE, f"{self.monitor} = {value} is not finite")
            return Decision(False, None, f"{self.monitor} = {value} is not finite, ignored (stop_on_non_finite=false)")
        t = self.tracker
        improved = t.update(epoch, value)
        status = f"{self.monitor}={value:.6g}, {self.describe_best(t)}"
        if self.stop_at is not None and t.is_beyond(value, self.stop_at):
            return Decision(True, StopReason.STOP_AT, f"{self.monitor}={value:.6g} reached stop_at={self.stop_at:g}")
        if self.divergence is not None and not t.is_beyond(value, self.divergence):
            return Decision(
                True, StopReason.DIVERGENCE,
                f"{self.monitor}={value:.6g} is worse than divergence={self.divergence:g} ({self.describe_best(t)})",
            )
        if self.patience is not None and t.wait_count >= self.patience:
            if not t.baseline_beaten:
                return Decision(
                    True, StopReason.BASELINE,
                    f"{self.monitor} did not beat baseline={self.baseline:g} in {epochs_text(t.wait_count)} ({status})",
                )
            return Decision(
                True, StopReason.PATIENCE,
                f"{self.monitor} did not improve by more than min_delta={self.min_delta_option} for "
                f"{epochs_text(t.wait_count)} ({status})",
            )
        if improved:
            return Decision(False, None, f"{status}, improved")
        return Decision(False, None, f"{status}, wait {t.wait_count}/{self.patience}")

    # --- Ultralytics events ---------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new run starts from scratch (on resume, the core restores the state later, in on_train_start)."""
        self._reset()

    def on_train_start(self, trainer):
        """Say which direction ``mode: auto`` chose; after a resume, say what was restored (the core's tracker has
        loaded it just before)."""
        self.log_mode()
        if getattr(trainer.args, "resume", False) and self.last_epoch is not None:
            resumed_after = int(getattr(trainer, "start_epoch", 0))
            self.log(f"resumed: {self.describe_best(self.tracker)}, wait {self.tracker.wait_count}/{self.patience}")
            if self.last_epoch != resumed_after:
                self.log(
                    f"state describes epoch {self.last_epoch} but training resumes after epoch {resumed_after}; "
                    "counters may be off by the difference",
                    "warning",
                )

    def on_fit_epoch_end(self, trainer):
        """Decide on rank 0 after validation; ``trainer.stop`` set here reaches every DDP rank through
        Ultralytics' own broadcast, right after this event."""
        if not self.is_main_process or self.stopped_epoch is not None:
            return  # other ranks have no metrics; they receive rank 0's trainer.stop
        snap = self.snapshot(trainer)
        if snap.is_final_eval:
            return
        self._epoch_done(trainer, snap.epoch, snap.epochs, snap.values())

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Take completed ``epoch`` that the saved state missed (the core calls this on ``resume=True``, in
        ``on_train_start``, with the epoch's numbers read back from results.csv and last.pt).

        It goes through the same decision as a live epoch. Should that decision be to stop, the stop is reported
        for ``epoch`` and ``trainer.stop`` is set at once (on rank 0; the core shares it with every DDP rank at the
        start of the epoch, see :class:`~yolo_hooks.core.lifecycle.RunTracker`); Ultralytics still runs one batch
        (and a validation) of the next epoch before it can break, so the resumed run ends one partial epoch later
        than an uninterrupted one would have.
        """
        if self.is_main_process and self.stopped_epoch is None:
            self._epoch_done(trainer, epoch, int(trainer.epochs), values)
        return True

    def _epoch_done(self, trainer, epoch: int, epochs: int, values) -> None:
        """One completed epoch, live or caught up: decide, stop and report if needed, save the state."""
        value = self.monitored_value(values)
        decision = self.evaluate(epoch, value)
        if self.verbose:
            self.log(f"epoch {epoch}: {decision.message}")
        if decision.should_stop and epoch < epochs:  # at the last epoch there is nothing left to stop
            trainer.stop = True
            self._report(trainer, epoch, epochs, value, decision)
        self.save_state(trainer, epoch)

    def control(self, trainer, command, report) -> str | None:
        """``patience`` (run control): the new patience counts from the next epoch on; the wait counter stays."""
        if command.name != "patience":
            return None
        old, self.patience = self.patience, int(command.patience)
        wait = self.tracker.wait_count
        text = f"{self.name} patience {'off' if old is None else old} -> {self.patience} (wait {wait}/{self.patience})"
        if wait >= self.patience and self.stopped_epoch is None:
            text += ": it stops at its next epoch unless the value improves"
        return text

    def on_train_end(self, trainer):
        """Leave early_stop.json for runs that were not stopped by this hook too, so tools can always read it."""
        if self.stopped_epoch is None and self.is_main_process:
            # no fsync (it would run on the training thread, or make teardown wait for it on the bus' writer): like
            # the state files, this record survives a killed process
            atomic_write_json(self.report_path(trainer), self.record(trainer, None, None), fsync=False)

    # --- reporting -----------------------------------------------------------------------------------------------
    def report_path(self, trainer) -> Path:
        """``save_dir/early_stop.json`` (``<name>.json`` for a hook given another ``name``)."""
        return Path(trainer.save_dir) / f"{self.name}.json"

    def record(self, trainer, value: float | None, decision: Decision | None) -> dict[str, Any]:
        """The JSON written to early_stop.json."""
        t = self.tracker
        stopper = getattr(trainer, "stopper", None)
        return {
            "stopped": decision is not None,
            "reason": decision.reason.value if decision else None,
            "message": decision.message if decision else None,
            "epoch": self.stopped_epoch if decision else self.last_epoch,
            "epochs": int(getattr(trainer, "epochs", 0)),
            "value": value,
            "best_value": t.best,
            "best_epoch": t.best_epoch,
            "wait_count": t.wait_count,
            "epochs_seen": t.epochs_seen,
            "monitor": self.monitor,
            "mode": self.mode,
            "min_delta": self.min_delta_option,
            "patience": self.patience,
            "warmup": self.warmup,
            "baseline": self.baseline,
            "stop_at": self.stop_at,
            "divergence": self.divergence,
            "ultralytics_stopper": None if stopper is None else {
                "patience": getattr(trainer.args, "patience", None),
                "best_fitness": _plain(getattr(stopper, "best_fitness", None)),
                "best_epoch": getattr(stopper, "best_epoch", None),
                "possible_stop": getattr(stopper, "possible_stop", None),
            },
            "time": time.time(),
        }

    def _report(self, trainer, epoch: int, epochs: int, value: float | None, decision: Decision) -> None:
        self.stopped_epoch, self.stop_reason, self.stop_message = epoch, decision.reason, decision.message
        t = self.tracker
        message = f"stopping at epoch {epoch}/{epochs} ({decision.reason.value}): {decision.message}"
        self.log(message, "warning")
        path, record = self.report_path(trainer), self.record(trainer, value, decision)
        self.write_later(lambda: atomic_write_json(path, record))  # its fsync never runs on the training thread
        self.publish(
            "early_stop", message, "warning",
            reason=decision.reason.value, epoch=epoch, best_epoch=t.best_epoch, best_value=t.best,
            monitor=self.monitor, mode=self.mode, wait_count=t.wait_count, patience=self.patience,
        )

    # --- resume --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        # patience is written for readers (yolo-hooks status), not read back: the config's (or a command's) counts
        return {"tracker": self.tracker.state_dict(), "last_epoch": self.last_epoch, "monitor": self.monitor,
                "patience": self.patience}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("monitor", self.monitor) != self.monitor:
            self.log(f"saved state monitored `{state.get('monitor')}`, not `{self.monitor}`: starting fresh", "warning")
            return
        self.tracker.load_state_dict(state.get("tracker") or {})
        self.last_epoch = state.get("last_epoch")


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
