"""The tracker runs we write into: found on the training thread (a few attribute reads), written on our worker.

Neither MLflow nor wandb is ever imported here: a run is found only when Ultralytics' integration imported the
package and started (or joined) a run in this training.

- MLflow: Ultralytics starts the run in ``on_pretrain_routine_end`` and ends it in ``on_train_end`` (or, failed,
  in ``teardown``). Its active run is per thread, so its id and tracking URI are read on the training thread;
  everything is then written with ``MlflowClient(tracking_uri)`` by run id, which works before and after the run
  ended (its status is left as Ultralytics set it).
- W&B: ``wandb.run`` is global; it can be written only until Ultralytics finishes it, right after the
  ``on_train_end`` callbacks (and in ``teardown`` after a crash): alerts and summary fields must be sent by then.
"""

from __future__ import annotations

import sys
from typing import Any

MLFLOW_CALLBACKS = "ultralytics.utils.callbacks.mlflow"
WANDB_CALLBACKS = "ultralytics.utils.callbacks.wb"


def integrated(trainer: Any, module: str) -> bool:
    """Is Ultralytics' integration ``module`` among the trainer's callbacks (its setting on, its package there)?"""
    return any(getattr(cb, "__module__", "") == module for cbs in trainer.callbacks.values() for cb in cbs)


class MlflowRun:
    """The MLflow run of this training, written by id from any thread."""

    def __init__(self, run_id: str, tracking_uri: str):
        self.run_id, self.tracking_uri = run_id, tracking_uri
        self._client = None

    @classmethod
    def of(cls, trainer: Any) -> MlflowRun | None:
        """The run Ultralytics' MLflow integration logs this training to (training thread: the active run is
        per thread), or None."""
        mlflow = sys.modules.get("mlflow")
        if mlflow is None or not integrated(trainer, MLFLOW_CALLBACKS):
            return None
        run = mlflow.active_run()
        return None if run is None else cls(run.info.run_id, mlflow.get_tracking_uri())

    @property
    def client(self):
        if self._client is None:
            from mlflow import MlflowClient  # imported by Ultralytics' integration already

            self._client = MlflowClient(tracking_uri=self.tracking_uri)
        return self._client

    def tags(self, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_tag(self.run_id, key, value)

    def params(self, params: dict[str, str]) -> None:
        for key, value in params.items():
            self.client.log_param(self.run_id, key, value)

    def text(self, text: str, path: str) -> None:
        self.client.log_text(self.run_id, text, path)

    def __repr__(self) -> str:
        return f"MLflow run {self.run_id}"


class WandbRun:
    """The W&B run of this training (alerts and summary fields, until Ultralytics finishes it)."""

    def __init__(self, run: Any):
        self.run = run

    @classmethod
    def of(cls, trainer: Any) -> WandbRun | None:
        wandb = sys.modules.get("wandb")
        if wandb is None or not integrated(trainer, WANDB_CALLBACKS) or getattr(wandb, "run", None) is None:
            return None
        return cls(wandb.run)

    def alert(self, title: str, text: str, level: str, wait_duration: float | None = None) -> None:
        from wandb import AlertLevel

        kwargs = {} if wait_duration is None else {"wait_duration": wait_duration}
        self.run.alert(title=title, text=text, level=getattr(AlertLevel, level), **kwargs)

    def summary(self, fields: dict[str, Any]) -> None:
        self.run.summary.update(fields)

    def __repr__(self) -> str:
        return f"W&B run {getattr(self.run, 'id', '?')}"
