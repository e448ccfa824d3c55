"""The tune summary's decisions, as tables: new best iterations, the best one, the summary, the quiet events."""

from __future__ import annotations

import pytest

from yolo_hooks.env.tune import best_record, new_bests, quiet_iteration_config, summarize, tune_end_message


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


def test_iterations_send_only_crashes_to_destinations_that_did_not_choose():
    config = {"notify": [{"format": "json", "url": "http://127.0.0.1:1/a"},
                         {"format": "json", "url": "http://127.0.0.1:1/b", "events": ["train_end"]}],
              "early_stop": {"patience": 3}}
    quiet = quiet_iteration_config(config)
    assert [entry.get("events") for entry in quiet["notify"]] == [["crash", "interrupt"], ["train_end"]]
    assert quiet["early_stop"] == {"patience": 3} and "events" not in config["notify"][0]
    assert quiet_iteration_config({"notify": {"format": "json", "url": "http://127.0.0.1:1/a"}})["notify"]["events"] \
        == ["crash", "interrupt"]
