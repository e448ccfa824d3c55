"""The trackers hook in this process: nothing imported or started without an active integration, a failing
tracker isolated like any hook's failure, and its options checked."""

from __future__ import annotations

import sys

import pytest

from tests.conftest import train
from yolo_hooks import ConfigError
from yolo_hooks.core.bus import Published
from yolo_hooks.trackers.hook import Trackers
from yolo_hooks.trackers.sinks import MlflowRun


@pytest.mark.training
def test_without_an_active_integration_it_imports_nothing_and_starts_no_thread(tmp_path):
    wandb_before, mlflow_before = "wandb" in sys.modules, "mlflow" in sys.modules
    hook = Trackers()
    train(tmp_path, hook, epochs=1)  # the suite's settings turn Ultralytics' MLflow and W&B off
    assert hook._worker is None and not hook.active
    assert ("wandb" in sys.modules, "mlflow" in sys.modules) == (wandb_before, mlflow_before)


def test_a_tracker_that_fails_is_logged_once_and_never_raised(tmp_path, log_lines):
    pytest.importorskip("mlflow")
    hook = Trackers()
    hook._mlflow = MlflowRun("no-such-run", (tmp_path / "nothing-here").as_uri())  # a store without that run
    for epoch in (1, 2, 3):
        hook.on_published(Published("alert", "val_loss_alert", "critical", "val/loss rose", {"epoch": epoch}))
    assert hook.worker.flush(30)
    hook.worker.close()
    failures = [line for line in log_lines if "trackers._mlflow_write failed" in line]
    assert len(failures) == 1 and hook.error_total == 3


@pytest.mark.parametrize("options, error", [
    ({"wandb_alerts": "error"}, "`wandb_alerts` must be one of info, warning, critical"),
    ({"wandb_timeout": -1}, "`wandb_timeout` must be a number >= 0"),
    ({"mlfow": True}, "unknown option `mlfow` (did you mean `mlflow`?)"),
])  # fmt: skip
def test_bad_options_are_config_errors(options, error):
    with pytest.raises(ConfigError) as caught:
        Trackers(**options)
    assert error in str(caught.value)
