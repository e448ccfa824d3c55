"""What a command taken by the run changes, on the training thread: the stop, the new total and its schedule,
early stopping's patience, the copies. Each function gets what it needs and returns what happened, in words.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from ..core.hook import CommandRefused
from ..core.run import run_state
from .commands import Command
from .schedule import Schedule, install, of_trainer

ULTRALYTICS = "ultralytics"  # the key of Ultralytics' own EarlyStopping in the patience a command set


def stopped_by(command: Command) -> str:
    """What train_end says about who stopped the run: ``stop requested by alice@gpu1 (yolo-hooks): diverging``."""
    return f"stop requested by {command.sender}" + (f": {command.reason}" if command.reason else "")


def request_stop(trainer, command: Command) -> None:
    """Rank 0 ends the run at this epoch's end (Ultralytics shares ``trainer.stop`` with every rank right after
    ``on_fit_epoch_end``); train_end says who asked and why."""
    trainer.stop = True
    run_state(trainer).stopped_by = stopped_by(command)


def extended(trainer, schedule: Schedule | None, total: int, at: int) -> Schedule:
    """The schedule after extending the run to ``total`` epochs after 0-based epoch ``at`` (see
    :mod:`.schedule`); ``schedule`` is the one in force (None: Ultralytics' own)."""
    base = schedule or of_trainer(trainer)
    at = max(int(at), base.knots[-1][0] if base.knots else 0)
    return base.extended(at, total)


def extend(trainer, schedule: Schedule) -> bool:
    """Every rank: the run trains to ``schedule.total`` epochs with ``schedule`` as its learning-rate factor.
    ``trainer.epochs`` drives Ultralytics' loop (its last epoch, close_mosaic, the progress bar) and
    ``args.epochs`` goes into last.pt, so a resumed run keeps the new total. False when the trainer's scheduler
    could not take the stretched schedule (a custom one)."""
    trainer.epochs = trainer.args.epochs = schedule.total
    return install(trainer, schedule)


def set_patience(trainer, hooks: list, command: Command) -> tuple[dict[str, int], str]:
    """Rank 0: give every hook that takes ``patience`` (early_stop) the new one; without one, Ultralytics' own
    EarlyStopping (its ``patience`` argument, kept in last.pt's arguments). Returns what was set, and the answer."""
    answers = _hooks_answer(trainer, hooks, command, lambda text, ok: None)
    if answers:
        return {hook.name: int(command.patience) for hook, _ in answers}, "; ".join(text for _, text in answers)
    stopper = getattr(trainer, "stopper", None)
    if stopper is None:
        raise CommandRefused("this run has no early stopping to change")
    old = getattr(trainer.args, "patience", None)
    stopper.patience = trainer.args.patience = int(command.patience)
    return {ULTRALYTICS: int(command.patience)}, (f"Ultralytics' patience {old} -> {command.patience} (no early_stop "
                                                  f"hook in this run)")


def restore_patience(trainer, hooks: list, patience: dict[str, int]) -> None:
    """After ``resume=True``: the patience commands set before stays (the config's would come back otherwise)."""
    for hook in hooks:
        if hook.name in patience:
            hook.call_guarded("control", trainer, Command("resume", "patience", patience=patience[hook.name]),
                              lambda text, ok: None)
    if ULTRALYTICS in patience and getattr(trainer, "stopper", None) is not None:
        trainer.stopper.patience = trainer.args.patience = patience[ULTRALYTICS]


def save(trainer, hooks: list, command: Command, report: Callable[[str, bool], None]) -> str:
    """Rank 0: every hook that mirrors checkpoints (best_mirror) copies last.pt and best.pt now; ``report`` is
    called once with the verified result of all of them."""
    gather = _Gather(report)
    answers = _hooks_answer(trainer, hooks, command, gather.add)
    if not answers:
        raise CommandRefused("no best_mirror in this run: there is nowhere to copy last.pt and best.pt to")
    gather.expect(len(answers))
    return "; ".join(text for _, text in answers)


class _Gather:
    """One report for the reports of several hooks (each from the thread that finished its copies)."""

    def __init__(self, report: Callable[[str, bool], None]):
        self.report, self.results, self.expected = report, [], None
        self._lock = threading.Lock()

    def add(self, text: str, ok: bool) -> None:
        with self._lock:
            self.results.append((text, ok))
        self._maybe_report()

    def expect(self, count: int) -> None:
        with self._lock:
            self.expected = count
        self._maybe_report()

    def _maybe_report(self) -> None:
        with self._lock:
            if self.expected is None or len(self.results) != self.expected:
                return
            self.expected = -1  # reported once
            results = list(self.results)
        self.report("; ".join(t for t, _ in results), all(ok for _, ok in results))


def _hooks_answer(trainer, hooks: list, command: Command, report) -> list[tuple[Any, str]]:
    """``(hook, answer)`` of each hook that took ``command`` (:meth:`Hook.control`); a refusal is raised as is."""
    answers = []
    for hook in hooks:
        try:
            text = hook.control(trainer, command, report)
        except CommandRefused:
            raise
        except Exception as e:  # a hook's own bug: isolated like any callback, the command fails for this hook
            hook._failed("control", e)
            continue
        if text:
            answers.append((hook, text))
    return answers
