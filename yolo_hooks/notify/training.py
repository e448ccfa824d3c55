"""What a notifier announces during a training: start, new bests, progress, the end.

:class:`TrainingNews` holds the decisions (is this a new best worth a message, is a progress message due, has the
run's end been announced) and the state that keeps a resumed run from announcing twice. It is handed what it needs,
two callables: ``wants(event)`` (does the destination take this event) and ``send_later(build)`` (queue the message
``build()`` makes; during a training the bus' writer builds it, off the training thread). The hook
(:class:`~yolo_hooks.notify.hook.Notify`) keeps the destination, its delivery and the outbox; its Ultralytics event
methods read the trainer and hand this object plain data: the epoch's snapshot, the run, the outcome.

Examples:
    >>> sent = []
    >>> news = TrainingNews(wants=lambda event: True, send_later=lambda build: sent.append(build().event))
    >>> news.epoch_done(snapshot, run={"name": "train7"})  # doctest: +SKIP
    >>> sent  # doctest: +SKIP
    ['new_best', 'epoch']
"""

from __future__ import annotations

import time
from typing import Any, Callable

from ..core.run import EpochSnapshot, RunOutcome
from .compose import crash_message, epoch_message, new_best_message, train_end_message, train_start_message
from .message import Message

Wants = Callable[[str], bool]  # event name -> does this destination take it
SendLater = Callable[[Callable[[], Message]], None]  # queue the message a builder makes


class TrainingNews:
    """The training news of one destination: what to announce, and when.

    Args:
        wants: ``wants(event) -> bool``, the destination's choice of events (and whether this process sends).
        send_later: ``send_later(build)`` queues the message ``build()`` makes (built off the training thread).
        progress_every: a progress message every N epochs.
        progress_minutes: a progress message at most every M minutes (with ``progress_every``: whichever first).
    """

    def __init__(self, wants: Wants, send_later: SendLater, *, progress_every: int | None = None,
                 progress_minutes: float | None = None):  # fmt: skip
        self._wants, self._send_later = wants, send_later
        self.progress_every, self.progress_minutes = progress_every, progress_minutes
        self.reset()

    def reset(self) -> None:
        """A new run: forget the previous one (a resumed run's state is loaded after this)."""
        self.ended = False  # the run's end (train_end, crash or interrupt) is announced
        self.best_sent: float | None = None  # the best fitness already announced
        self.last_progress_time = time.time()
        self.final: EpochSnapshot | None = None  # the last epoch, then the final evaluation of best.pt
        self.summary: dict | None = None  # the fitness report's summary, folded into train_end

    def started(self, trainer, run: dict[str, str]) -> None:
        """The training starts: model, data, device, epochs."""
        self.last_progress_time = time.time()
        if self._wants("train_start"):
            self._send_later(lambda: train_start_message(trainer, run))

    def final_eval(self, snap: EpochSnapshot) -> None:
        """The final validation of best.pt: its metrics go into the train_end message."""
        self.final = snap

    def keep_summary(self, summary: dict) -> None:
        """The fitness report's summary, for the train_end message."""
        self.summary = dict(summary)

    def epoch_done(self, snap: EpochSnapshot, run: dict[str, str]) -> None:
        """One completed epoch, live or caught up: a new best fitness, and progress when due.

        The messages are queued before the hook saves the state that says they were sent (see ``Notify.send_later``):
        a resumed run never announces a best twice that the state recorded.
        """
        self.final = snap
        fitness, previous = snap.fitness, self.best_sent
        # A random-init model sits at fitness 0.0 for a while and Ultralytics calls each of those epochs "best".
        new_best = snap.is_best and fitness is not None and (
            fitness > previous if previous is not None else fitness != 0
        )
        if new_best:
            self.best_sent = fitness
            if self._wants("new_best"):
                self._send_later(lambda: new_best_message(snap, previous, run))
        if self._wants("epoch") and self.progress_due(snap.epoch):
            self.last_progress_time = time.time()
            self._send_later(lambda: epoch_message(snap, run))

    def progress_due(self, epoch: int) -> bool:
        """Every ``progress_every``-th epoch (stateless, so a resume keeps the rhythm) or ``progress_minutes``."""
        if not (self.progress_every or self.progress_minutes):
            return True  # `epoch` listed in events without a cadence: every epoch
        by_epochs = bool(self.progress_every) and epoch % self.progress_every == 0
        by_time = bool(self.progress_minutes) and time.time() - self.last_progress_time >= self.progress_minutes * 60
        return by_epochs or by_time

    def end(self, outcome: RunOutcome, run: dict[str, str], crash_facts: Callable[[], dict[str, Any]]) -> None:
        """Train end (with the fitness summary), crash or interrupt — exactly once; ``crash_facts()`` is asked for
        only when the run did not end well."""
        if self.ended:
            return
        self.ended = True
        if outcome.ok:  # the outcome carries the run's duration (core.run.run_duration)
            final, summary = self.final, self.summary
            self._send_later(lambda: train_end_message(outcome, final, summary, run))
        else:
            facts = crash_facts()
            self._send_later(lambda: crash_message(outcome, run, facts=facts))

    def state_dict(self) -> dict[str, Any]:
        """The best fitness already announced (so that a resumed run does not announce it again)."""
        return {"best_sent": self.best_sent}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (a missing key keeps its default)."""
        best = state.get("best_sent")
        self.best_sent = float(best) if isinstance(best, (int, float)) else None
