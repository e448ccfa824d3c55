"""The ``trackers`` hook: our events in the MLflow or W&B run Ultralytics' own integration logs the training to.

Examples:
    >>> from ultralytics import settings
    >>> settings.update({"mlflow": True})  # Ultralytics' MLflow integration (its default once mlflow is installed)
    >>> yolo_hooks.attach(model, "hooks.yaml")  # with `trackers: true` (and early_stop, val_loss_alert...)
    ... # doctest: +SKIP

or in hooks.yaml::

    trackers: {mlflow: true, wandb: true, wandb_alerts: warning}
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from ..core.bus import SEVERITIES, Published
from ..core.hook import Hook
from ..core.redact import scrub
from ..core.run import take_outcome
from ..core.validate import check_bool, check_choice, check_number
from .records import (
    alert_args,
    alerts_text,
    as_summary,
    as_tags,
    event_tags,
    events_jsonl,
    outcome_fields,
    repeat_wait,
    wants_alert,
)
from .sinks import MlflowRun, WandbRun


class Trackers(Hook):
    """Tells the run's experiment tracker what our hooks saw: alerts, an early stop and why, LR reductions, the
    verified mirror copy of best.pt, a crash, and how the run ended.

    Used only when Ultralytics' own integration is active in the run (its setting on, its package installed, a run
    started): nothing is imported or written otherwise. Every write happens on a background thread.

    Args:
        mlflow: MLflow: a tag per event as it happens (``yolo_hooks.alert``, ``yolo_hooks.early_stop``...), the
            outcome as tags at the end (``yolo_hooks.outcome``, ``yolo_hooks.outcome_reason``,
            ``yolo_hooks.best_epoch``, ``yolo_hooks.mirror``, ``yolo_hooks.mirror_sha256``...), ``yolo_hooks.version``
            and ``yolo_hooks.hooks`` as params, and the artifacts ``yolo_hooks/events.jsonl`` and
            ``yolo_hooks/alerts.txt``.
        wandb: Weights & Biases: ``wandb.alert`` for events at ``wandb_alerts`` or above and for a crash, and the
            outcome as summary fields (``yolo_hooks/outcome``...).
        wandb_alerts: the least severity that becomes a ``wandb.alert`` (``info``, ``warning``, ``critical``), or
            None for no alerts (W&B sends its alerts on to Slack or e-mail as the team set it up).
        wandb_timeout: seconds the end of the training waits for W&B, which Ultralytics finishes right after
            ``on_train_end`` (and after a crash in ``teardown``); what is not sent by then is dropped, with a warning.
        strict, name: as every hook.
    """

    _transient = ("_worker", "_mlflow", "_wandb")

    def __init__(self, *, mlflow: bool = True, wandb: bool = True, wandb_alerts: str | None = "warning",
                 wandb_timeout: float = 5.0, strict: bool = False, name: str | None = None):
        super().__init__(strict=strict, name=name)
        hook = self.name
        self.mlflow = check_bool(hook, "mlflow", mlflow)
        self.wandb = check_bool(hook, "wandb", wandb)
        self.wandb_alerts = None if wandb_alerts in (None, False) else check_choice(hook, "wandb_alerts",
                                                                                   wandb_alerts, SEVERITIES)
        self.wandb_timeout = check_number(hook, "wandb_timeout", wandb_timeout, minimum=0)
        self._mlflow: MlflowRun | None = None
        self._wandb: WandbRun | None = None
        self._worker = None
        self._events: list[dict[str, Any]] = []
        self._summary: dict[str, Any] | None = None
        self._best: tuple[int, float] | None = None
        self._started = 0.0
        self._wandb_ended = False

    @property
    def active(self) -> bool:
        return self._mlflow is not None or self._wandb is not None

    @property
    def worker(self):
        if self._worker is None:
            from ..core.worker import BackgroundWorker

            self._worker = BackgroundWorker(self.name)
        return self._worker

    def _later(self, method: str, *args: Any) -> None:
        self.worker.submit(lambda: self.call_guarded(method, *args))  # a tracker's failure is logged, never raised

    # --- the run ----------------------------------------------------------------------------------------------
    def on_train_start(self, trainer):
        """Find the runs Ultralytics' integrations started (attribute reads on this thread; nothing imported)."""
        self._events, self._summary, self._best, self._wandb_ended = [], None, None, False
        self._started = time.time()
        self._mlflow = MlflowRun.of(trainer) if self.mlflow and self.is_main_process else None
        self._wandb = WandbRun.of(trainer) if self.wandb and self.is_main_process else None
        if not self.active:
            return
        self.worker.hold()  # its thread starts now, not inside an epoch
        self.log("our events go to " + " and ".join(repr(r) for r in (self._mlflow, self._wandb) if r))
        if self._mlflow is not None:
            from .._version import __version__

            hooks = ",".join(h.name for h in (self._bus.hooks if self._bus else []) if h.config_name is not None)
            self._later("_mlflow_write", "params", {"yolo_hooks.version": __version__, "yolo_hooks.hooks": hooks})

    def on_fit_epoch_end(self, trainer):
        """The best epoch so far (from the epoch's shared snapshot), for the outcome."""
        if self.active:
            snap = self.snapshot(trainer)
            if snap.is_best and not snap.is_final_eval:
                self._best = (snap.epoch, snap.fitness)

    def on_published(self, event: Published):
        """Another hook's news: an MLflow tag now, a W&B alert when it is severe enough (both queued)."""
        if not self.active:
            return
        record = {**event.as_dict(), "message": scrub(event.message)}
        if event.kind == "fitness_summary":
            self._summary = dict(event.data)
        self._events.append(record)
        tags = event_tags(record)
        if self._mlflow is not None and tags:
            self._later("_mlflow_write", "tags", tags)
        if self._wandb is not None and not self._wandb_ended and wants_alert(record, self.wandb_alerts):
            wait = repeat_wait(event.data.get("repeat_every"), event.data.get("epoch"), event.time - self._started)
            self._later("_wandb_write", "alert", alert_args(record, wait))

    def on_train_end(self, trainer):
        """W&B's run is finished right after this event: its summary now, and wait (``wandb_timeout``)."""
        if self._wandb is not None:
            self._end_wandb(dataclasses.asdict(take_outcome(trainer)))

    def teardown(self, trainer):
        """Every end: after a crash, W&B's alert and summary (before Ultralytics finishes its run); MLflow's
        outcome tags and artifacts, queued (the run's end waits for them in ``finish``)."""
        if not self.active:
            return
        outcome = dataclasses.asdict(self.outcome(trainer))
        outcome["message"] = scrub(outcome["message"]) if outcome.get("message") else None
        if self._wandb is not None and not self._wandb_ended:
            if outcome["status"] == "crashed":
                self._later("_wandb_write", "alert", {"title": "crash", "level": "ERROR",
                                                      "text": outcome_fields(outcome, self._events, None, None)
                                                      ["outcome_reason"]})
            self._end_wandb(outcome)
        if self._mlflow is not None:
            fields = outcome_fields(outcome, self._events, self._best, self._summary)
            self._later("_mlflow_write", "tags", as_tags(fields))
            self._later("_mlflow_write", "text", events_jsonl(self._events), "yolo_hooks/events.jsonl")
            self._later("_mlflow_write", "text", alerts_text(self._events), "yolo_hooks/alerts.txt")

    def _end_wandb(self, outcome: dict[str, Any]) -> None:
        fields = outcome_fields(outcome, self._events, self._best, self._summary)
        self._later("_wandb_write", "summary", as_summary(fields))
        self._wandb_ended = True
        if not self.worker.flush(self.wandb_timeout):
            self.log(f"W&B did not take our alerts and summary within {self.wandb_timeout:g} s (wandb_timeout); "
                     f"its run is finished now, what is left is dropped", "warning")

    def finish(self, trainer, deadline) -> None:
        """End of the run: what is queued for MLflow, within the run's one deadline; then the thread ends."""
        if self._worker is None:
            return
        if not self._worker.flush(deadline.left()):
            self.log("MLflow did not take all our tags and artifacts before the end of the run's deadline", "warning")
        self._worker.close()
        self._mlflow = self._wandb = None

    # --- on the worker ----------------------------------------------------------------------------------------
    def _mlflow_write(self, what: str, *args: Any) -> None:
        run = self._mlflow
        if run is not None:
            getattr(run, what)(*args)

    def _wandb_write(self, what: str, payload: dict[str, Any]) -> None:
        run = self._wandb
        if run is None:
            return
        if what == "alert":
            run.alert(**payload)
        else:
            run.summary(payload)
