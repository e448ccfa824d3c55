"""The core's own hook, registered once per model before any other: run bookkeeping shared by all hooks."""

from __future__ import annotations

import threading

from . import compat, marker
from .bus import Bus
from .collective import share_stop
from .deadline import Deadline
from .hook import GuardedCallback, Hook
from .recorded import recorded_epoch_values, time_before
from .registry import run_start_steps
from .run import is_main_process, run_duration, run_state, take_snapshot, to_float


class RunTracker(Hook):
    """Tells a training epoch from the final evaluation, records how the run ended, restores hook state on resume.

    ``attach`` registers it first and gives its :class:`Bus` to every hook attached to the same model.
    """

    def __init__(self):
        super().__init__(name="yolo_hooks")
        self.bus = Bus()

    def on_pretrain_routine_start(self, trainer):
        """Give the run its identity (message ids are derived from it), kept across ``resume=True``; on releases
        whose ``teardown`` skips failed runs, make a crash or Ctrl-C still reach every hook's."""
        compat.guard_teardown(trainer, lambda: self._teardown_after_failure(trainer))
        resume = bool(getattr(trainer.args, "resume", False))
        if self.is_main_process:
            self.bus.run_id = marker.run_id_for(trainer.save_dir, resume)

    def on_train_start(self, trainer):
        """On ``resume=True``, give every hook its saved state back before the first resumed epoch.

        A state saved one epoch before last.pt (the process died between Ultralytics writing last.pt and the hook
        saving its state) is brought up to date through the hook's ``catch_up(trainer, epoch, values)`` with what
        the run recorded for the missing epoch (:func:`recorded_epoch_values`).
        """
        if is_main_process():
            hooks = [h for h in self.bus.hooks if h is not self]
            start_epoch = int(getattr(trainer, "start_epoch", 0) or 0) if getattr(trainer.args, "resume", False) else 0
            run_state(trainer).time_before = time_before(trainer.save_dir, start_epoch)  # part of run_duration
            for step in run_start_steps():  # what features registered: a killed run in this folder gets its end
                step(trainer, hooks, self.log)
            marker.started(trainer, hooks, self.bus.run_id)
            self.bus.hold_writer()  # until finish_run
            self.bus.console.training_thread = threading.get_ident()  # other threads' lines wait for an epoch's end
        if not getattr(trainer.args, "resume", False):
            return
        completed = int(getattr(trainer, "start_epoch", 0))  # epochs in last.pt; 1-based number of the last one
        recorded: dict[int, dict | None] = {}
        for hook in self.bus.hooks:
            if hook is self:
                continue
            epoch = hook.call_guarded("restore_state", trainer)
            if epoch is None:
                continue
            self.log(f"resumed {hook.name} state saved at epoch {epoch}")
            for missed in range(int(epoch) + 1, completed + 1):
                if missed not in recorded:
                    recorded[missed] = recorded_epoch_values(trainer, missed)
                taken = recorded[missed] is not None and hook.call_guarded("catch_up", trainer, missed, recorded[missed])
                if taken:
                    self.log(f"{hook.name} caught up on epoch {missed} from results.csv and last.pt")
                else:
                    self.log(f"{hook.name} state is behind last.pt: epoch {missed} is not in it", "warning")

    def on_train_epoch_start(self, trainer):
        """Ultralytics 8.4 reloads last.pt when the loss turns NaN and redoes the epoch, before any metric is saved
        or ``on_fit_epoch_end`` fires: the only trace is ``nan_recovery_attempts`` going up. Publish each one.

        First, every DDP rank starts the epoch with rank 0's ``trainer.stop``: Ultralytics shares ``stop`` only
        after ``on_fit_epoch_end`` but checks it after every batch, so a stop requested anywhere else on rank 0 (a
        hook's catch-up in ``on_train_start`` after a resume) would make rank 0 leave the batch loop alone while the
        others wait in the next gradient all-reduce. Nothing comes before the broadcast, so every rank enters it.
        """
        share_stop(trainer)
        self.bus.console.flush()  # between the last epoch's bars and this one's
        attempts = int(getattr(trainer, "nan_recovery_attempts", 0) or 0)
        state = run_state(trainer)
        seen = getattr(state, "nan_recoveries_seen", 0)
        state.nan_recoveries_seen = attempts
        if attempts > seen and is_main_process():
            text, data = nan_recovery(trainer, attempts)
            self.publish("nan_recovered", text, "warning", **data)

    def on_train_epoch_end(self, trainer):
        """Only training epochs fire this; the final evaluation of best.pt fires ``on_fit_epoch_end`` alone."""
        state = run_state(trainer)
        state.last_train_epoch, state.epoch_pending, state.in_final_eval = trainer.epoch, True, False

    def on_fit_epoch_end(self, trainer):
        """Runs before every other hook's: an ``on_fit_epoch_end`` with no ``on_train_epoch_end`` since the previous
        one is the final evaluation of best.pt (every release; ``trainer.epoch`` is raised for it only since 8.4.52).

        Then it reads the epoch's snapshot, shared by every hook of the event: its cost (the first Python to run
        after validation, on cold caches) shows here once instead of in whichever hook happens to ask first."""
        state = run_state(trainer)
        state.in_final_eval, state.epoch_pending = not state.epoch_pending, False
        self.bus.console.flush()  # validation's bar is done: what background threads said meanwhile
        if len(self.bus.hooks) > 1:
            take_snapshot(trainer)

    def on_train_end(self, trainer):
        """The run's duration ends here (before every other hook's on_train_end); every state file of the run is on
        disk before the end-of-run work starts."""
        run_duration(trainer)
        self.bus.flush_writes()

    def teardown(self, trainer):
        """Capture the outcome first, while the exception (if any) is still in ``sys.exc_info()``; the marker says
        the end-of-run work has started (it says the outcome once :meth:`finish_run` is done)."""
        run_state(trainer).teardown_done = True
        outcome = self.outcome(trainer)
        self.bus.flush_writes()
        if is_main_process():
            marker.ending(trainer, outcome.status)

    def _teardown_after_failure(self, trainer):
        """Fire the ``teardown`` of every yolo_hooks hook of this trainer once, as Ultralytics 8.4.177+ would."""
        if run_state(trainer).teardown_done:
            return
        for callback in list(trainer.callbacks.get("teardown", [])):
            if isinstance(callback, GuardedCallback):
                callback(trainer)

    def finish_run(self, trainer):
        """After every hook's teardown (``attach`` keeps this callback last): each hook's ``finish(trainer,
        deadline)`` with ONE deadline of ``bus.end_timeout`` seconds for all of them together, notifiers last (they
        send what the others published at the end); then the state writer's thread ends too."""
        if not self.is_main_process:
            return
        deadline = Deadline(self.bus.end_timeout)
        hooks = [h for h in self.bus.hooks if h is not self]
        try:
            for hook in sorted(hooks, key=lambda h: h.finish_last):
                hook.call_guarded("finish", trainer, deadline)
            self.bus.close_writer(max(deadline.left(), 1.0))
        finally:
            self.bus.console.training_thread = None  # the run is over: no bar left to break
            self.bus.console.flush()
            marker.ended(trainer, self.outcome(trainer).status)  # only now: a kill before this is recovered


def nan_recovery(trainer, attempt: int) -> tuple[str, dict]:
    """What to say about NaN recovery ``attempt`` (read at the start of the redone epoch, before Ultralytics resets
    its loss): which losses were not finite, the epoch redone, attempt n of 3."""
    import math

    epoch = int(getattr(trainer, "epoch", 0)) + 1
    losses = {}
    tloss = getattr(trainer, "tloss", None)
    if tloss is not None:
        try:
            losses = {k: to_float(v) for k, v in trainer.label_loss_items(tloss).items()}
        except Exception:  # a trainer without per-loss names: the total is enough
            losses = {}
    bad = [k for k, v in losses.items() if v is None or not math.isfinite(v)]
    total = to_float(getattr(trainer, "loss", None))
    which = ", ".join(bad) if bad else ("total loss" if total is None or not math.isfinite(total) else "fitness")
    text = (f"{which} turned NaN/Inf in epoch {epoch}: Ultralytics reloaded last.pt and is redoing the epoch "
            f"(attempt {attempt} of 3)")
    return text, {"attempt": attempt, "max_attempts": 3, "epoch": epoch, "epochs": getattr(trainer, "epochs", None),
                  "loss": which}
