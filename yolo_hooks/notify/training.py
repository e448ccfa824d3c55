"""What :class:`~yolo_hooks.notify.hook.Notify` announces during a training: start, new bests, progress, the end.

The decisions (is this a new best worth a message, is a progress message due) and the state that keeps a resumed
run from announcing twice live here; the destination, its delivery and the outbox are the hook's
(:mod:`yolo_hooks.notify.hook`). :class:`TrainingNews` is a mixin of ``Notify``: it calls ``self.wants``,
``self.send_later`` and ``self._set_run``.
"""

from __future__ import annotations

import time
from typing import Any

from ..core.recorded import recorded_snapshot
from .compose import crash_message, epoch_message, new_best_message, train_end_message, train_start_message


class TrainingNews:
    """The training events of a notifier (Ultralytics event names as methods, as for every hook)."""

    def _reset_run(self) -> None:
        self._training = False
        self._in_run = False  # from a training's start to this hook's finish: messages go through the bus' writer
        self._ended = False
        self._start_time: float | None = None
        self._best_sent: float | None = None
        self._last_progress_time = time.time()
        self._final = None
        self._summary: dict | None = None

    # --- training -----------------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new run: forget the previous one (state of a resumed run is loaded after this, at train start)."""
        self._reset_run()
        self._training = self._in_run = True
        self._set_run(trainer)

    def on_train_start(self, trainer):
        """Model, data, device, epochs."""
        self._set_run(trainer)
        self._start_time = time.time()
        self._last_progress_time = time.time()
        if self.is_main_process:
            self.delivery.hold()  # until finish: no thread start inside an epoch's callbacks
        if self.wants("train_start"):
            run = self._run
            self.send_later(lambda: train_start_message(trainer, run))

    def on_fit_epoch_end(self, trainer):
        """A new best fitness, and progress every ``progress_every`` epochs / ``progress_minutes`` minutes."""
        snap = self.snapshot(trainer)
        if snap.is_final_eval:
            self._final = snap  # metrics of best.pt, for the train_end message
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
        """One completed epoch, live or caught up: decide, queue the messages, then save the state.

        The messages are built and journaled on the bus' writer before the state that says they were sent is
        written (see ``send_later``): a SIGKILL in between leaves them in the journal, and the state one epoch behind
        for the resume to catch up (the same ids: receivers drop the second copy). A resumed run never announces
        a best twice that the state recorded.
        """
        self._final = snap
        fitness, previous, run = snap.fitness, self._best_sent, self._run
        # A random-init model sits at fitness 0.0 for a while and Ultralytics calls each of those epochs "best".
        new_best = snap.is_best and fitness is not None and (
            fitness > previous if previous is not None else fitness != 0
        )
        if new_best:
            self._best_sent = fitness
            if self.wants("new_best"):
                self.send_later(lambda: new_best_message(snap, previous, run))
        if self.wants("epoch") and self._progress_due(snap.epoch):
            self._last_progress_time = time.time()
            self.send_later(lambda: epoch_message(snap, run))
        self.save_state(trainer, snap.epoch)

    def _progress_due(self, epoch: int) -> bool:
        """Every ``progress_every``-th epoch (stateless, so a resume keeps the rhythm) or ``progress_minutes``."""
        if not (self.progress_every or self.progress_minutes):
            return True  # `epoch` listed in events without a cadence: every epoch
        by_epochs = bool(self.progress_every) and epoch % self.progress_every == 0
        by_time = bool(self.progress_minutes) and time.time() - self._last_progress_time >= self.progress_minutes * 60
        return by_epochs or by_time

    def teardown(self, trainer):
        """Train end (with the fitness summary), crash or interrupt — exactly once (queued, never waited for here)."""
        if not self.is_main_process:
            return
        if not self._ended:
            self._ended = True
            if not self._run:
                self._set_run(trainer)  # crashed during set-up, before on_train_start
            outcome, run = self.outcome(trainer), self._run
            elapsed = time.time() - self._start_time if self._start_time else None
            if outcome.ok:
                final, summary = self._final, self._summary
                self.send_later(lambda: train_end_message(outcome, final, summary, run, elapsed))
            else:
                from ..recovery.forensics import crash_facts

                facts = crash_facts(trainer, self._bus.history if self._bus is not None else (), self.secrets())
                self.send_later(lambda: crash_message(outcome, run, elapsed, facts))
        self._training = False

    def finish(self, trainer, deadline) -> None:
        """End of the run (called by the core after every teardown): wait within the run's one ``deadline`` (and
        ``flush_timeout``), the rest goes to the outbox; then the worker thread ends."""
        self.flush(deadline.left(self.flush_timeout))
        self._in_run = False  # from here on (a predict after the training) messages are sent at once
        if self._delivery is not None:
            self._delivery.close(max(0.1, deadline.left()))  # an idle thread ends at once

    def state_dict(self) -> dict[str, Any]:
        """The best fitness already announced (so that a resumed run does not announce it again)."""
        return {"best_sent": self._best_sent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (a missing key keeps its default)."""
        best = state.get("best_sent")
        self._best_sent = float(best) if isinstance(best, (int, float)) else None
