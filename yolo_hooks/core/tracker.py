"""The core's own hook, registered once per model before any other: run bookkeeping shared by all hooks."""

from __future__ import annotations

from .bus import Bus
from .hook import Hook
from .run import run_state


class RunTracker(Hook):
    """Tells a training epoch from the final evaluation, records how the run ended, restores hook state on resume.

    ``attach`` registers it first and gives its :class:`Bus` to every hook attached to the same model.
    """

    def __init__(self):
        super().__init__(name="yolo_hooks")
        self.bus = Bus()

    def on_train_start(self, trainer):
        """On ``resume=True``, give every hook its saved state back before the first resumed epoch."""
        if not getattr(trainer.args, "resume", False):
            return
        for hook in self.bus.hooks:
            if hook is self:
                continue
            epoch = hook._call_guarded("restore_state", trainer)
            if epoch is not None:
                self.log(f"resumed {hook.name} state saved at epoch {epoch}")

    def on_train_epoch_end(self, trainer):
        """Only training epochs fire this; the final evaluation of best.pt fires ``on_fit_epoch_end`` alone."""
        run_state(trainer).last_train_epoch = trainer.epoch

    def teardown(self, trainer):
        """Capture the outcome first, while the exception (if any) is still in ``sys.exc_info()``."""
        self.outcome(trainer)
