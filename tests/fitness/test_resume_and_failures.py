"""Resume, crash and unwritable output on real coco8 trainings: the record stays whole, training never stops."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import train, train_interrupted_then_resumed
from tests.fitness.helpers import Listener, captured_log, read_jsonl, read_rows
from tests.helpers import Raiser
from yolo_hooks.fitness.report import FitnessReport

pytestmark = pytest.mark.training


def test_interrupted_then_resumed_run_has_every_epoch_exactly_once(tmp_path, device):
    run_dir = tmp_path / "run"
    made = []

    def make_hooks():
        if made:  # between the runs: leave a stale row for an epoch that last.pt does not contain, and a torn line
            stale = dict(read_jsonl(run_dir / "fitness.jsonl")[-1], epoch=3, fitness=123.0)
            with open(run_dir / "fitness.jsonl", "a") as f:
                f.write(json.dumps(stale) + "\n" + '{"epoch": 4, "fit')
            with open(run_dir / "fitness.csv", "a") as f:
                f.write("3,3,train,123.0\n")
        made.append((FitnessReport(strict=True), Listener()))
        return list(made[-1])

    first, resumed, _ = train_interrupted_then_resumed(tmp_path, make_hooks, epochs=3, interrupt_at=2, device=device)

    # the interrupted run summarised itself as interrupted, after its 2 complete epochs
    assert first[0].summary["status"] == "interrupted" and first[0].summary["epochs_run"] == 2
    # the resumed run: epochs 1..3 exactly once in both files, and equal to Ultralytics' results.csv
    results = read_rows(run_dir / "results.csv")
    rows = read_rows(run_dir / "fitness.csv")
    records = [r for r in read_jsonl(run_dir / "fitness.jsonl") if r["phase"] == "train"]
    assert [int(r["epoch"]) for r in results] == [1, 2, 3]
    assert [int(r["epoch"]) for r in rows] == [r["epoch"] for r in records] == [1, 2, 3]
    for res, row, rec in zip(results, rows, records):
        for key in (k for k in res if k not in ("epoch", "time")):
            assert float(row[key]) == pytest.approx(float(res[key]), rel=1e-5, abs=1e-9), key
            assert rec[key] == pytest.approx(float(res[key]), rel=1e-5, abs=1e-9), key
    assert len([r for r in read_jsonl(run_dir / "fitness.jsonl") if r["phase"] == "final"]) == 1
    report = resumed[0]
    summary = report.summary
    assert (summary["status"], summary["epochs_run"], summary["resumed_from"]) == ("finished", 3, 2)
    assert summary["duration"] > records[1]["total_time"]  # the time before the resume counts
    assert [e.kind for e in resumed[1].published].count("fitness_summary") == 1
    assert report.error_total == 0 and report.write_errors == []
    # plot left to its default follows the training's plots=False: no fitness.png, no matplotlib
    assert not (run_dir / "fitness.png").exists() and "plot" not in summary["files"]


def test_crash_is_summarised_once_as_crashed(tmp_path, device):
    report, listener = FitnessReport(plot=True, strict=True), Listener()
    crash = Raiser(event="on_fit_epoch_end", error=RuntimeError("boom"), at_epoch=1, strict=True)
    with pytest.raises(RuntimeError, match="boom"):
        train(tmp_path, report, crash, listener, device=device, epochs=3)
    summary = json.loads((tmp_path / "run" / "fitness_summary.json").read_text())
    assert (summary["status"], summary["error"], summary["epochs_run"]) == ("crashed", "RuntimeError: boom", 2)
    assert listener.kinds().count("fitness_summary") == 1
    assert (tmp_path / "run" / "fitness.png").is_file()


def test_unwritable_folder_and_full_disk_log_one_error_each_and_training_goes_on(tmp_path, device):
    """Two honest failures (the tests run as root, so a chmod'ed folder would still be writable):

    - ``dir`` under /sys: the kernel refuses to create anything there (EPERM as root, EACCES otherwise);
    - a full disk: fitness.csv / fitness.jsonl are symlinks to /dev/full, whose writes fail with ENOSPC.
    """
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for name in ("fitness.csv", "fitness.jsonl"):
        (run_dir / name).symlink_to("/dev/full")
    unwritable = FitnessReport(dir="/sys/yolo_hooks_fitness_report", name="fr_unwritable")
    full = FitnessReport(name="fr_full", plot=False)
    listener = Listener()
    with captured_log() as lines:
        model = train(tmp_path, unwritable, full, listener, device=device, epochs=2)

    assert len(read_rows(model.trainer.save_dir / "results.csv")) == 2 and model.trainer.best.is_file()
    for hook, errno_text in ((unwritable, ""), (full, "No space left on device")):
        errors = [line for line in lines if f"{hook.name}: cannot write" in line]
        assert len(errors) == 1, errors
        assert errno_text in errors[0]
        assert hook.error_total == 0  # handled by the hook itself, not swallowed by the core
        assert len([line for line in lines if line.startswith(f"{hook.name}: epoch ")]) == 2  # console goes on
        assert hook.summary["epochs_run"] == 2
    assert "csv" not in full.summary["files"] and "jsonl" not in full.summary["files"]
    assert json.loads((run_dir / "fitness_summary.json").read_text())["epochs_run"] == 2  # other files still written
    assert unwritable.summary["files"] == {}
    assert listener.kinds().count("fitness_summary") == 2
