"""What the tuning process makes of Ray Tune's events (the calls Ray makes on our callback, with Ray's own values),
and how a trial's end reads inside the trial: tables."""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from yolo_hooks.core.run import take_outcome
from yolo_hooks.core.tune_context import TUNE_ENV, iteration_label
from yolo_hooks.env.ray_trial import TrialPlan
from yolo_hooks.env.ray_tune import TrialWatch, short_error, trials_planned
from yolo_hooks.notify import Notify
from yolo_hooks.notify.receiver import WebhookReceiver

METRIC = "metrics/mAP50-95(B)"


def trial(index: int, lr0: float, error_file=None):
    return SimpleNamespace(trial_id=f"ab12c_{index:05d}", config={"lr0": lr0, "data": "coco8.yaml"}, path=None,
                           error_file=error_file)


@pytest.fixture
def watch(tmp_path):
    with WebhookReceiver() as receiver:
        watch = TrialWatch(TrialPlan(tune_dir=str(tmp_path / "tune"), planned=4), None, SimpleNamespace(task="detect"),
                           {"epochs": 3, "data": "coco8.yaml"})
        watch.model_hooks = [Notify(format="json", url=receiver.url, events="all")]
        watch.begin()
        watch.receiver = receiver
        yield watch


def test_finished_stopped_by_asha_stopped_by_itself_and_crashed_trials_are_each_reported_once(watch, tmp_path):
    (tmp_path / "error.txt").write_text("Traceback (most recent call last):\n  ...\nRuntimeError: CUDA out of memory\n")
    finished, asha, itself, crashed = trial(0, 0.01), trial(1, 0.02), trial(2, 0.03), trial(3, 0.04,
                                                                                           tmp_path / "error.txt")
    for epoch, value in ((1, 0.1), (2, 0.3), (3, 0.25)):
        watch.result(finished, {METRIC: value, "epoch": epoch, "trial_id": finished.trial_id})
    watch.complete(finished)
    watch.result(asha, {METRIC: 0.05, "epoch": 1})  # ASHA stops it in tune.report: SystemExit, nothing more
    watch.complete(asha)
    watch.result(itself, {METRIC: 0.4, "epoch": 1})
    watch.result(itself, {METRIC: 0.4, "epoch": 2})  # Ultralytics' callback reports best.pt's validation too
    watch.result(itself, {METRIC: 0.4, "fitness": 0.38})  # Ultralytics' results_dict: the trainable returned
    watch.complete(itself)
    watch.error(crashed)
    watch.error(crashed)  # Ray never says it twice; if it did, one message
    summary = watch.end("finished")
    statuses = {t["trial_id"][-1]: (t["status"], t.get("stopped_by"), t["fitness"], t["epochs"])
                for t in summary["iterations"]}
    assert statuses == {"0": ("finished", None, 0.3, 3), "1": ("stopped", "Ray Tune's scheduler", 0.05, 1),
                        "2": ("stopped", "its early stop", 0.4, 1), "3": ("crashed", None, None, 0)}
    assert summary["iterations"][3]["error"] == "RuntimeError: CUDA out of memory"
    assert summary["best"]["iteration"] == 3 and summary["iterations_stopped"] == 2
    watch.story.notifiers[0].flush(10)
    events = [(m["event"], m["title"]) for m in watch.receiver.delivered()]
    assert [e for e, _ in events] == ["tune_start", "tune_new_best", "tune_new_best", "crash", "tune_end"]
    assert events[3][1].startswith("💥 Ray Tune trial 4/4 crashed") and "hyperparameters" not in events[3][1]


def test_ray_s_own_results_complete_what_the_callback_did_not_see(watch):
    """A resumed search (Ray restores its run config, with no callback of ours): the end reads Ray's results."""
    import pandas

    history = pandas.DataFrame([{METRIC: 0.2, "epoch": 1}, {METRIC: 0.1, "epoch": 3}])  # progress.csv's rows
    results = [SimpleNamespace(metrics={"trial_id": "ab12c_00000"}, config={"lr0": 0.01}, path=None, error=None,
                               metrics_dataframe=history),
               SimpleNamespace(metrics={"trial_id": "ab12c_00001"}, config={"lr0": -1}, path=None,
                               error=ValueError("'lr0=-1' is an invalid value"), metrics_dataframe=None)]
    summary = watch.end("finished", results)
    assert [(t["status"], t["fitness"]) for t in summary["iterations"]] == [("finished", 0.2), ("crashed", None)]


@pytest.mark.parametrize("space, samples, planned", [
    ({"lr0": {"grid_search": [0.01, 0.001]}, "data": "coco8.yaml"}, 3, 6),
    ({"lr0": "uniform"}, 10, 10),
    ({}, -1, None),  # until the search algorithm stops
])  # fmt: skip
def test_trials_planned_counts_as_ray_does(space, samples, planned):
    assert trials_planned(space, SimpleNamespace(num_samples=samples), None) == planned


@pytest.mark.parametrize("error, epoch, status, message", [
    (SystemExit(), 3, "finished", None),  # every trial's last epoch: ASHA's max_t is the epochs
    (SystemExit(), 1, "stopped_early", "stopped by Ray Tune's scheduler"),
    (KeyboardInterrupt(), 1, "interrupted", ""),
    (RuntimeError("boom"), 1, "crashed", "boom"),
])  # fmt: skip
def test_in_a_ray_trial_ray_s_systemexit_is_a_finished_or_stopped_run_not_an_interrupt(monkeypatch, error, epoch,
                                                                                     status, message):
    monkeypatch.setenv(TUNE_ENV, json.dumps({"kind": "ray", "dir": "t", "iterations": 4, "trial": 2,
                                             "trial_id": "ab12c_00001"}))
    assert iteration_label() == "Ray Tune trial 2/4"
    try:
        raise error
    except BaseException:
        outcome = take_outcome(SimpleNamespace(epoch=epoch - 1, epochs=3, stop=False))  # trainer.epoch is 0-based
    assert (outcome.status, outcome.message) == (status, message)


def test_outside_a_ray_trial_systemexit_is_still_an_interrupt(monkeypatch):
    monkeypatch.delenv(TUNE_ENV, raising=False)
    try:
        sys.exit(0)
    except SystemExit:
        assert take_outcome(SimpleNamespace(epoch=0, epochs=3, stop=False)).status == "interrupted"


def test_short_error_is_the_last_line_of_a_traceback():
    assert short_error("Traceback:\n  File x\nValueError: bad\n\n") == "ValueError: bad"
