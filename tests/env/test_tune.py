"""The tune summary's decisions, as tables: new best iterations, the best one, the summary, the quiet events."""

from __future__ import annotations

import pytest

from yolo_hooks import build_hooks
from yolo_hooks.env.tune import best_record, new_bests, quiet_for_tune, summarize, tune_end_message


def rec(i, fitness, failed=False):
    r = {"iteration": i, "fitness": fitness, "hyperparameters": {"lr0": 0.01 * i}, "save_dirs": {"coco8": f"r/{i}"}}
    if failed:
        r["failed_datasets"] = ["coco8"]
    return r


@pytest.mark.parametrize(
    "fitnesses, best_before, announced, best_after",
    [
        ([0.1, 0.05, 0.2], None, [1, 3], 0.2),
        ([0.1, 0.1], None, [1], 0.1),  # equal is not better
        ([0.05], 0.1, [], 0.1),  # a resumed tune: earlier best counts
        ([0.0, 0.3], None, [1, 2], 0.3),
    ],
)
def test_new_best_iterations(fitnesses, best_before, announced, best_after):
    found, best = new_bests([rec(i + 1, f) for i, f in enumerate(fitnesses)], best_before)
    assert [r["iteration"] for r in found] == announced and best == best_after


def test_a_crashed_iteration_is_never_the_best():
    records = [rec(1, 0.1), rec(2, 0.9, failed=True)]
    assert new_bests(records, None)[0] == [records[0]]
    assert best_record(records)["iteration"] == 1


def test_the_summary_lists_every_iteration_and_the_best_with_its_weights():
    summary = summarize([rec(1, 0.1), rec(2, 0.3), rec(3, 0.0, failed=True)], "runs/tune", 5, "finished",
                        "runs/tune/weights/best.pt", 60.0)
    assert summary["iterations_run"] == 3 and summary["iterations_failed"] == 1
    assert [i["fitness"] for i in summary["iterations"]] == [0.1, 0.3, 0.0]
    assert summary["best"] == {"iteration": 2, "fitness": 0.3, "hyperparameters": {"lr0": 0.02},
                               "weights": "runs/tune/weights/best.pt"}
    message = tune_end_message(summary, {"name": "tune"})
    assert message.event == "tune_end" and "best iteration 2" in message.text and message.severity == "info"


CONFIG = {"notify": [{"format": "json", "url": "http://127.0.0.1:1/a"},
                     {"format": "json", "url": "http://127.0.0.1:1/b", "events": ["train_end", "crash"]}],
          "early_stop": {"patience": 3}}


@pytest.mark.parametrize("context, events", [
    ({"dir": "t", "iteration": 2}, [("crash", "interrupt"), ("train_end", "crash")]),  # Ultralytics' tuner
    # a Ray trial: the tuning process tells of every crashed trial, and a trial stopped by Ray is no interrupt
    ({"kind": "ray", "dir": "t", "iteration": 2, "trial": 2}, [(), ("train_end",)]),
])  # fmt: skip
def test_a_tunes_iterations_and_trials_quiet_only_what_is_not_news(context, events):
    hooks = quiet_for_tune(build_hooks(CONFIG), context)
    assert [h.events for h in hooks if h.config_name == "notify"] == events
    assert [h.config_name for h in hooks] == ["notify", "notify", "early_stop"]


def test_a_ray_summary_keeps_each_trials_status_and_counts_the_stopped_ones():
    records = [{**rec(1, 0.2), "trial_id": "a_00000", "status": "stopped", "epochs": 1,
                "stopped_by": "Ray Tune's scheduler"},
               {**rec(2, 0.3), "trial_id": "a_00001", "status": "finished", "epochs": 3},
               {**rec(3, 0.0), "trial_id": "a_00002", "status": "crashed", "epochs": 0, "error": "ValueError: lr0"}]
    summary = summarize(records, "runs/tune", 3, "finished", "runs/tune_00001/weights/best.pt", 9.0,
                        fitness_metric="metrics/mAP50-95(B)", ray=True)
    assert (summary["iterations_failed"], summary["iterations_stopped"], summary["best"]["iteration"]) == (1, 1, 2)
    assert [i["status"] for i in summary["iterations"]] == ["stopped", "finished", "crashed"]
    assert summary["iterations"][0]["stopped_by"] == "Ray Tune's scheduler" and summary["ray"] is True
    message = tune_end_message(summary, {"name": "tune"}, unit="trial")
    assert "after 3/3 trials" in message.text and "; 1 stopped early;" in message.text
    assert message.fields["Stopped early"] == "1" and message.fields["Best trial"] == "2"
