"""Watchdog: say so when a training stops making progress (dataloader deadlock, NFS stall, NCCL hang).

A background thread checks how long ago the training last moved, against a limit that depends on what the
training is doing; the training thread only notes the time at each batch and epoch event (microseconds). When the
limit passes it publishes ``stalled`` once (with where the training thread is stuck), optionally writes every
thread's stack to the run folder, and publishes ``progress_resumed`` when batches come again. It never touches
the training: a stalled run stays the user's to kill or wait for.

Limits, in seconds (``None``: the default):

* ``first_batch``: from the start of training to the end of its first batch (model warm-up, caching). 1800.
* ``dataloading``: from the start of an epoch to its first batch (dataloader workers starting). 1800.
* ``stall_after``: between batches. The larger of 600 and 5x the median batch time seen so far.
* ``validation``: from the end of an epoch's batches to the end of its validation and checkpoint. The larger of
  1800 and 3x the longest validation seen so far.

Examples:
    >>> import yolo_hooks
    >>> yolo_hooks.attach(model, yolo_hooks.Watchdog(stall_after=900, action="dump"))  # doctest: +SKIP

or in hooks.yaml: ``watchdog: {stall_after: 900, action: dump}``.
"""

from __future__ import annotations

import collections
import faulthandler
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from ..core import Hook
from ..core.validate import check_choice, check_number

ACTIONS = ("notify", "dump")
PHASES = ("first_batch", "dataloading", "training", "validation")
MIN_STALL, MIN_VALIDATION, FIRST_BATCH, DATALOADING = 600.0, 1800.0, 1800.0, 1800.0


def stall_limit(phase: str, limits: dict[str, float | None], batch_times: list[float],
                validation_times: list[float]) -> float:
    """The seconds without progress after which ``phase`` counts as stalled (pure).

    Examples:
        >>> stall_limit("training", {"stall_after": None}, [200.0, 180.0, 220.0], [])
        1000.0
        >>> stall_limit("training", {"stall_after": 30}, [200.0], [])
        30
    """
    given = limits.get({"first_batch": "first_batch", "dataloading": "dataloading", "validation": "validation"}
                       .get(phase, "stall_after"))
    if given is not None:
        return given
    if phase == "first_batch":
        return FIRST_BATCH
    if phase == "dataloading":
        return DATALOADING
    if phase == "validation":
        return max(MIN_VALIDATION, 3 * max(validation_times, default=0.0))
    return max(MIN_STALL, 5 * statistics.median(batch_times)) if batch_times else MIN_STALL


class Watchdog(Hook):
    """Publish ``stalled`` when a training stops making progress, and ``progress_resumed`` when it moves again.

    Args:
        stall_after: seconds without a finished batch (default: the larger of 600 and 5x the median batch time).
        first_batch: seconds allowed for the first batch of the run (default 1800).
        dataloading: seconds allowed from an epoch's start to its first batch (default 1800).
        validation: seconds allowed for an epoch's validation and checkpoint (default: the larger of 1800 and 3x
            the longest one seen).
        action: ``notify`` (publish only) or ``dump`` (also write every thread's stack to
            ``<run folder>/stalled_stacks_<n>.txt``).
    """

    _transient = ("_thread", "_stop")

    def __init__(self, *, stall_after: float | None = None, first_batch: float | None = None,
                 dataloading: float | None = None, validation: float | None = None, action: str = "notify",
                 strict: bool = False, name: str | None = None):
        super().__init__(strict=strict, name=name)
        hook = self.config_name
        self.limits = {key: check_number(hook, key, value, minimum=0, exclusive_minimum=True, allow_none=True)
                       for key, value in (("stall_after", stall_after), ("first_batch", first_batch),
                                          ("dataloading", dataloading), ("validation", validation))}
        self.action = check_choice(hook, "action", action, ACTIONS)
        self.stalls: list[dict[str, Any]] = []  # every stall of this run: phase, seconds, limit, dump file
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._reset()

    def _reset(self) -> None:
        self._phase = "first_batch"
        self._since = time.monotonic()
        self._stalled: dict[str, Any] | None = None
        self._resumed_line: str | None = None  # said between two progress bars, not inside the training bar
        self._batch_times: collections.deque[float] = collections.deque(maxlen=200)
        self._validation_times: list[float] = []
        self._epoch = 0
        self._save_dir: Path | None = None
        self._train_thread = threading.get_ident()

    # --- the training thread: note the time (microseconds) ------------------------------------------------------
    def _moved(self, phase: str, between_bars: bool = False) -> None:
        """The training moved on to ``phase``; ``between_bars``: no progress bar is being drawn now (a batch's
        callbacks run inside the training bar, so the line that says the training moves again waits for its end)."""
        now = time.monotonic()
        stalled, self._stalled = self._stalled, None
        if phase == "training" and self._phase == "training":
            self._batch_times.append(now - self._since)
        elif self._phase == "validation" and phase != "validation":
            self._validation_times.append(now - self._since)
        self._phase, self._since = phase, now
        if stalled is not None:
            seconds = time.time() - stalled["time"] + stalled["seconds"]
            text = f"training moves again after {seconds:.0f}s without progress ({stalled['phase']})"
            self._resumed_line = text
            self.publish("progress_resumed", text, "info", phase=stalled["phase"], seconds=round(seconds, 1),
                         epoch=self._epoch, stall=stalled["stall"])
        if between_bars:
            self._say_resumed()

    def _say_resumed(self) -> None:
        if self._resumed_line is not None:
            line, self._resumed_line = self._resumed_line, None
            self.log(line)

    def on_train_start(self, trainer):
        """Start watching (rank 0: a hang in any rank stalls rank 0 too)."""
        if not self.is_main_process:
            return
        self.close()
        self._reset()
        self._save_dir = Path(trainer.save_dir)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(self._stop,), name="yolo_hooks-watchdog", daemon=True)
        self._thread.start()

    def on_train_epoch_start(self, trainer):
        """The dataloader starts its workers for the epoch."""
        self._epoch = int(getattr(trainer, "epoch", 0)) + 1
        if self._phase != "first_batch":
            self._moved("dataloading", between_bars=True)

    def on_train_batch_start(self, trainer):
        """A batch arrived from the dataloader."""
        if self._phase == "dataloading":
            self._moved("training")

    def on_train_batch_end(self, trainer):
        """A batch finished."""
        self._moved("training")

    def on_train_epoch_end(self, trainer):
        """Validation and the checkpoint come next."""
        self._moved("validation", between_bars=True)

    def on_fit_epoch_end(self, trainer):
        """An epoch (or the final evaluation) is complete; the final evaluation may follow."""
        self._moved("validation" if getattr(trainer, "stop", False) else "training", between_bars=True)

    def teardown(self, trainer):
        """Stop watching: the thread ends (no yolo_hooks thread outlives its run)."""
        self.close()
        self._say_resumed()  # a crash inside the batches: no bar is drawn any more

    def close(self) -> None:
        """Stop the background thread and wait for it (briefly: it only sleeps and reads a clock)."""
        stop, thread = self._stop, self._thread
        self._stop = self._thread = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    # --- the background thread ----------------------------------------------------------------------------------
    def _limit(self) -> float:
        return stall_limit(self._phase, self.limits, list(self._batch_times), self._validation_times)

    def _watch(self, stop: threading.Event) -> None:
        # the phase can change while we wait: check at a quarter of the smallest limit any phase has now
        def every() -> float:
            batches, validations = list(self._batch_times), self._validation_times
            smallest = min(stall_limit(p, self.limits, batches, validations) for p in PHASES)
            return max(0.05, min(30.0, smallest / 4))

        while not stop.wait(every()):
            phase, since, limit = self._phase, self._since, self._limit()
            waited = time.monotonic() - since
            if self._stalled is None and waited > limit:
                self._report(phase, waited, limit)

    def _report(self, phase: str, waited: float, limit: float) -> None:
        where = _stack_of(self._train_thread)
        stall = {"phase": phase, "seconds": round(waited, 1), "limit": limit, "epoch": self._epoch, "time": time.time(),
                 "where": where[-1] if where else "", "stall": len(self.stalls) + 1}  # its number: part of its id
        if self.action == "dump" and self._save_dir is not None:
            stall["stacks"] = str(self._dump())
        self._stalled = stall
        self.stalls.append(stall)
        text = (f"no progress for {waited:.0f}s ({phase}, limit {limit:g}s) in epoch {self._epoch}; "
                f"the training thread is at {stall['where'] or '?'}")
        if stall.get("stacks"):
            text += f"; every thread's stack is in {stall['stacks']}"
        self.log(text, "warning")
        self.publish("stalled", text, "warning", **{k: v for k, v in stall.items() if k != "time"})

    def _dump(self) -> Path:
        path = self._save_dir / f"stalled_stacks_{len(self.stalls) + 1}.txt"
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"yolo_hooks watchdog: stacks of every thread at {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
            f.flush()
            faulthandler.dump_traceback(file=f, all_threads=True)
        return path


def _stack_of(thread_id: int) -> list[str]:
    """``file:line in function`` of the innermost frames of thread ``thread_id``."""
    frame = sys._current_frames().get(thread_id)
    if frame is None:
        return []
    return [f"{Path(f.filename).name}:{f.lineno} in {f.name}" for f in traceback.extract_stack(frame)[-3:]]
