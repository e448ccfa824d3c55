"""``save`` (a run-control command): the current last.pt and best.pt mirrored now, whatever ``last_every`` says, and
the requester told once every copy is verified (or failed).

Examples:
    >>> request = SaveRequest(["best"], ["/backup"], lambda text, ok: print(ok, text))
    >>> request.take(Result(True, "best", "/backup", "best.pt", 3, 0.5, "ab" * 32, 10))
    True best.pt (epoch 3) verified in /backup, sha256 abababababab
    True
"""

from __future__ import annotations

import threading
from typing import Callable

from ..core.run import run_state
from .upload import Result

KIND = {"final": "best"}  # the end of the run's best.pt is a best.pt copy too


class SaveRequest:
    """The copies one ``save`` waits for: each of ``kinds`` (``best``, ``last``) in each store; ``report(text, ok)``
    is called once, when the last of them is verified or failed (on the thread that reported it)."""

    def __init__(self, kinds: list[str], stores: list[str], report: Callable[[str, bool], None]):
        self.waiting = {(kind, store) for kind in kinds for store in stores}
        self.report = report
        self.lines: list[str] = []
        self.ok = True
        self._lock = threading.Lock()

    def take(self, result: Result) -> bool:
        """Count ``result`` if this request waits for it; True when that completed the request (and it reported)."""
        key = (KIND.get(result.kind, result.kind), result.store)
        with self._lock:
            if key not in self.waiting:
                return False
            self.waiting.discard(key)
            where = f"{result.file} (epoch {result.epoch})"
            if result.ok:
                self.lines.append(f"{where} verified in {result.store}, sha256 {str(result.sha256)[:12]}")
            else:
                self.ok = False
                self.lines.append(f"{where} NOT copied to {result.store}: {result.error}")
            if self.waiting:
                return False
        self.report("; ".join(self.lines), self.ok)
        return True

    def give_up(self, why: str) -> None:
        """Report what is still missing (the end of the run came first)."""
        with self._lock:
            if not self.waiting:
                return
            missing = ", ".join(f"{kind}.pt to {store}" for kind, store in sorted(self.waiting))
            self.waiting.clear()
        self.report("; ".join([*self.lines, f"{missing}: {why}"]), False)


def last_saved_epoch(trainer) -> int:
    """The 1-based epoch last.pt holds now: the current one once its checkpoint is written (Ultralytics saves it
    after validation, before ``on_fit_epoch_end``), else the one before."""
    state = run_state(trainer)
    epoch = int(trainer.epoch)
    saved_this_epoch = state.last_train_epoch == epoch and not state.epoch_pending
    return epoch + 1 if saved_this_epoch else epoch
