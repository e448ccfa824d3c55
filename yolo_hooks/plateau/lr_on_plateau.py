"""Reduce the learning rate when the monitored value stalls, on top of Ultralytics' own schedule.

Ultralytics sets every param group's lr itself: ``LambdaLR.step()`` at each epoch start writes
``lr = base_lr * lf(epoch)`` (``base_lrs`` copied from ``initial_lr``), and the warmup writes
``lr = interp(..., initial_lr * lf(epoch))`` per batch. Changing ``param_group["lr"]`` would be undone at the next
epoch, so :class:`ReduceLROnPlateau` scales what both of them multiply: each group's ``initial_lr`` and the
scheduler's ``base_lrs``. The schedule keeps its shape; its peak is lowered by ``factor`` per reduction.

Examples:
    >>> import yolo_hooks
    >>> reduce_lr = yolo_hooks.ReduceLROnPlateau(monitor="val/loss", factor=0.5, patience=3)
    >>> yolo_hooks.attach(model, reduce_lr)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from ..core.collective import from_rank0
from ..core.numbers import finite
from ..core.validate import check_number
from .monitor import MonitorHook, PlateauTracker, epochs_text

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorHook):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement (Keras semantics).

    The reduced quantity is each param group's base rate (``lr0``, which Ultralytics' warmup and LambdaLR multiply by
    ``lf(epoch)``); ``min_lr`` is a floor for that base rate. The cumulative rates are saved with the hook's state
    and re-applied on ``resume=True``.

    Args:
        monitor: ``fitness`` or any key of the run (see :class:`~yolo_hooks.plateau.early_stop.EarlyStopping`).
        mode: ``max``, ``min`` or ``auto`` (keys containing "loss" are min).
        factor: multiply the rate by this on a plateau (0 < factor < 1).
        patience: monitored epochs without improvement before a reduction.
        min_lr: floor of each group's base rate; a group already at it is not reduced.
        cooldown: epochs after a reduction that are not counted towards the next one.
        min_delta: smallest change that counts as an improvement, absolute or ``"5%"``.
        verbose: log the value, best and wait counter every epoch.
        strict: re-raise errors of this hook (tests, debugging).
        name: display name and state-file name (default ``lr_on_plateau``).
    """


    def __init__(
        self,
        *,
        monitor: str = "fitness",
        mode: str = "auto",
        factor: float = 0.1,
        patience: int = 10,
        min_lr: float = 0.0,
        cooldown: int = 0,
        min_delta: float | str = 0.0,
        verbose: bool = False,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name)
        self._init_monitor(monitor, mode, min_delta, verbose)
        self.factor = check_number(self.name, "factor", factor, minimum=0.0, exclusive_minimum=True, maximum=0.999999)
        self.patience = check_number(self.name, "patience", patience, minimum=1, integer=True, allow_none=False)
        self.min_lr = check_number(self.name, "min_lr", min_lr, minimum=0.0)
        self.cooldown = check_number(self.name, "cooldown", cooldown, minimum=0, integer=True)
        self._reset()

    def _reset(self) -> None:
        self.tracker = PlateauTracker(mode=self.mode, min_delta=self.min_delta, relative=self.relative_delta)
        self.cooldown_counter = 0
        self.base_lrs: list[float] | None = None  # each group's initial_lr before any reduction
        self.lrs: list[float] | None = None  # each group's initial_lr now
        self.reductions: list[dict[str, Any]] = []
        self.last_epoch: int | None = None
        self._floor_reported = False

    # --- the decision --------------------------------------------------------------------------------------------
    def set_lrs(self, lrs: list[float]) -> None:
        """Start from these per-group base rates (done from the optimizer at train start)."""
        self.base_lrs, self.lrs = list(lrs), list(lrs)

    def observe(self, epoch: int, value: float | None) -> list[float] | None:
        """Feed the value of 1-based ``epoch``; returns the new per-group base rates when it is time to reduce.

        Keras' ReduceLROnPlateau rules: a new best resets the wait counter; otherwise it grows, and at ``patience``
        every group above ``min_lr`` is multiplied by ``factor`` (not below ``min_lr``), the wait counter resets and
        the cooldown starts. The ``cooldown`` epochs after a reduction are not counted (PyTorch's meaning; Keras'
        code already counts the last of them, so there ``cooldown=1`` is the same as 0).
        """
        if not finite(value):
            return None
        self.last_epoch = epoch
        in_cooldown = self.cooldown_counter > 0
        if in_cooldown:
            self.cooldown_counter -= 1
        self.tracker.update(epoch, value, count_wait=not in_cooldown)
        if self.tracker.wait_count < self.patience or self.lrs is None:
            return None
        if not any(lr > self.min_lr for lr in self.lrs):
            if not self._floor_reported:
                self._floor_reported = True
                self.log(f"{self.monitor} stalled but every group is already at min_lr={self.min_lr:g}")
            return None
        new = [max(lr * self.factor, self.min_lr) if lr > self.min_lr else lr for lr in self.lrs]
        self.reductions.append({"epoch": epoch, "old_lrs": list(self.lrs), "new_lrs": new,
                                "best_value": self.tracker.best, "wait_count": self.tracker.wait_count})
        self.lrs = new
        self.tracker.wait_count = 0
        self.cooldown_counter = self.cooldown
        return new

    # --- Ultralytics events ---------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new run starts from scratch (on resume, the core restores the state later, in on_train_start)."""
        self._reset()

    def on_train_start(self, trainer):
        """Record the optimizer's base rates, or, after a resume, put the restored reduced ones back in place
        (the checkpoint's optimizer and the rebuilt scheduler do not carry them)."""
        self.log_mode()
        groups = trainer.optimizer.param_groups
        current = [float(g.get("initial_lr", g["lr"])) for g in groups]
        if self.lrs is None or len(self.lrs) != len(groups):
            if self.lrs is not None:
                self.log(f"saved state has {len(self.lrs)} param groups, the optimizer {len(groups)}: starting fresh",
                         "warning")
            self.set_lrs(current)
            return
        # resumed: the checkpoint's initial_lr lags one epoch behind and the rebuilt scheduler has the unreduced
        # base_lrs, so always put the saved rates back in both places
        self._apply(trainer, self.lrs)
        self.log(f"resumed: base lr {self._fmt(self.lrs)} after {len(self.reductions)} reduction(s)")

    def on_fit_epoch_end(self, trainer):
        """Decide on rank 0, share the decision with every DDP rank, and apply it there for the next epoch.

        Other ranks do nothing before the broadcast (they have no metrics), so they always reach it; rank 0 reaches
        it through ``finally`` even when reading or deciding fails. The final evaluation shares "nothing".
        """
        decision = None  # (epoch, new rates or None)
        try:
            if self.is_main_process:
                snap = self.snapshot(trainer)
                if not snap.is_final_eval:  # a run that ends after this epoch has nothing to reduce
                    decision = (snap.epoch, None if trainer.stop else self._decide(snap.epoch, snap.values()))
        finally:  # a collective: every rank enters it once per call, or all the others would hang
            decision = from_rank0(decision)
        if decision is not None:
            self._epoch_done(trainer, *decision)

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Take completed ``epoch`` that the saved state missed (the core calls this on ``resume=True``, in
        ``on_train_start``, with the epoch's numbers read back from results.csv and last.pt).

        A reduction that epoch would have made is made now and put in the optimizer and scheduler before the
        first resumed batch. Every rank reads the same recorded numbers, so each decides for itself: no collective
        before training has started. The decision ignores ``trainer.stop``, which another hook's catch-up may have
        set on rank 0 only at this point: every rank must come to the same rates.
        """
        self._epoch_done(trainer, epoch, self._decide(epoch, values))
        return True

    def _epoch_done(self, trainer, epoch: int, new_lrs: list[float] | None) -> None:
        """One completed epoch, live or caught up: adopt and apply a reduction, report it, save the state."""
        if new_lrs is not None:
            self.lrs = list(new_lrs)  # other ranks learn the new rates only through the broadcast
            self._apply(trainer, new_lrs)
            if self.is_main_process:
                self._report(epoch)
        self.save_state(trainer, epoch)

    def _decide(self, epoch: int, values) -> list[float] | None:
        value = self.monitored_value(values)
        new_lrs = self.observe(epoch, value)
        if self.verbose and value is not None:
            t = self.tracker
            self.log(f"epoch {epoch}: {self.monitor}={value:.6g}, {self.describe_best(t)}, "
                     f"wait {t.wait_count}/{self.patience}, cooldown {self.cooldown_counter}")
        return new_lrs

    def _report(self, epoch: int) -> None:
        last = self.reductions[-1]
        old_lrs, new_lrs = last["old_lrs"], last["new_lrs"]
        message = (f"{self.monitor} has not improved for {epochs_text(self.patience)} "
                   f"({self.describe_best(self.tracker)}): "
                   f"base lr {self._fmt(old_lrs)} -> {self._fmt(new_lrs)} from epoch {epoch + 1}")
        self.log(message)
        self.publish("lr_reduced", message, "info", epoch=epoch, old_lr=old_lrs[0], new_lr=new_lrs[0],
                     old_lrs=old_lrs, new_lrs=new_lrs, monitor=self.monitor, best_value=last["best_value"],
                     wait_count=last["wait_count"])

    def _apply(self, trainer, lrs: list[float]) -> None:
        """Set each group's ``initial_lr`` (warmup's target) and the scheduler's ``base_lrs`` (LambdaLR's), and
        scale the current ``lr`` to match until the next ``scheduler.step()``."""
        scheduler = getattr(trainer, "scheduler", None)
        for i, (group, lr) in enumerate(zip(trainer.optimizer.param_groups, lrs)):
            old = float(group.get("initial_lr", group["lr"]))
            if old > 0:
                group["lr"] = group["lr"] * lr / old
            group["initial_lr"] = lr
            if scheduler is not None and i < len(getattr(scheduler, "base_lrs", [])):
                scheduler.base_lrs[i] = lr

    @staticmethod
    def _fmt(lrs: list[float]) -> str:
        distinct = sorted(set(lrs), reverse=True)
        return ", ".join(f"{lr:.4g}" for lr in distinct) if distinct else "?"

    # --- resume --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "tracker": self.tracker.state_dict(),
            "cooldown_counter": self.cooldown_counter,
            "base_lrs": None if self.base_lrs is None else list(self.base_lrs),  # new lists: serialised later
            "lrs": None if self.lrs is None else list(self.lrs),
            "reductions": list(self.reductions),
            "last_epoch": self.last_epoch,
            "monitor": self.monitor,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("monitor", self.monitor) != self.monitor:
            self.log(f"saved state monitored `{state.get('monitor')}`, not `{self.monitor}`: starting fresh", "warning")
            return
        self.tracker.load_state_dict(state.get("tracker") or {})
        self.cooldown_counter = int(state.get("cooldown_counter", 0))
        self.base_lrs, self.lrs = state.get("base_lrs"), state.get("lrs")
        self.reductions = list(state.get("reductions") or [])
        self.last_epoch = state.get("last_epoch")
