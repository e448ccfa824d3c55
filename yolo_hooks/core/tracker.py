"""The core's own hook, registered once per model before any other: run bookkeeping shared by all hooks."""

from __future__ import annotations

from .bus import Bus
from .collective import share_stop
from .hook import Hook
from .run import recorded_epoch_values, run_state


class RunTracker(Hook):
    """Tells a training epoch from the final evaluation, records how the run ended, restores hook state on resume.

    ``attach`` registers it first and gives its :class:`Bus` to every hook attached to the same model.
    """

    def __init__(self):
        super().__init__(name="yolo_hooks")
        self.bus = Bus()

    def on_train_start(self, trainer):
        """On ``resume=True``, give every hook its saved state back before the first resumed epoch.

        A state saved one epoch before last.pt (the process died between Ultralytics writing last.pt and the hook
        saving its state) is brought up to date through the hook's ``catch_up(trainer, epoch, values)`` with what
        the run recorded for the missing epoch (:func:`recorded_epoch_values`).
        """
        if not getattr(trainer.args, "resume", False):
            return
        completed = int(getattr(trainer, "start_epoch", 0))  # epochs in last.pt; 1-based number of the last one
        recorded: dict[int, dict | None] = {}
        for hook in self.bus.hooks:
            if hook is self:
                continue
            epoch = hook._call_guarded("restore_state", trainer)
            if epoch is None:
                continue
            self.log(f"resumed {hook.name} state saved at epoch {epoch}")
            for missed in range(int(epoch) + 1, completed + 1):
                if missed not in recorded:
                    recorded[missed] = recorded_epoch_values(trainer, missed)
                if callable(getattr(hook, "catch_up", None)) and recorded[missed] is not None:
                    hook._call_guarded("catch_up", trainer, missed, recorded[missed])
                    self.log(f"{hook.name} caught up on epoch {missed} from results.csv and last.pt")
                else:
                    self.log(f"{hook.name} state is behind last.pt: epoch {missed} is not in it", "warning")

    def on_train_epoch_start(self, trainer):
        """Every DDP rank starts the epoch with rank 0's ``trainer.stop``.

        Ultralytics shares ``stop`` only after ``on_fit_epoch_end`` but checks it after every batch. A stop
        requested anywhere else on rank 0 (a hook's catch-up in ``on_train_start`` after a resume) would make rank
        0 leave the batch loop alone while the others wait for it in the next gradient all-reduce: a hang. Shared
        here, it ends every rank after the same batch. Nothing comes before the broadcast, so every rank enters it.
        """
        share_stop(trainer)

    def on_train_epoch_end(self, trainer):
        """Only training epochs fire this; the final evaluation of best.pt fires ``on_fit_epoch_end`` alone."""
        run_state(trainer).last_train_epoch = trainer.epoch

    def on_train_end(self, trainer):
        """Every state file of the run is on disk before the end-of-run work starts."""
        self.bus.flush_writes()

    def teardown(self, trainer):
        """Capture the outcome first, while the exception (if any) is still in ``sys.exc_info()``."""
        self.outcome(trainer)
        self.bus.flush_writes()
