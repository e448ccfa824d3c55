"""Pure rules of the fitness report, as tables: deltas and best, ETA, console line, resume cut, summary, files."""

from __future__ import annotations

from pathlib import Path

import pytest

from yolo_hooks import ConfigError, build_hooks
from yolo_hooks.core.colour import colour_enabled
from yolo_hooks.core.run import EpochSnapshot, RunOutcome
from yolo_hooks.fitness.files import csv_header, csv_line, read_csv_records, read_epoch_records
from yolo_hooks.fitness.record import (
    build_record,
    build_summary,
    eta_seconds,
    format_line,
    format_summary,
    keep_for_resume,
    short_name,
)
from yolo_hooks.fitness.report import FitnessReport


def snap(epoch, fitness, best, best_epoch, *, epochs=10, metrics=None, epoch_time=2.0):
    """An EpochSnapshot as the core builds it (is_best: fitness equals the trainer's best)."""
    metrics = metrics if metrics is not None else {"metrics/precision(B)": 0.5, "metrics/mAP50-95(B)": fitness}
    return EpochSnapshot(
        epoch=epoch, epochs=epochs, is_final_eval=False, fitness=fitness, best_fitness=best, best_epoch=best_epoch,
        is_best=fitness == best, metrics=metrics, val_losses={"val/box_loss": 1.0, "val/cls_loss": 2.0},
        train_losses={"train/box_loss": 1.5}, lr={"lr/pg0": 0.01, "lr/pg1": 0.01}, epoch_time=epoch_time,
        elapsed=epoch * epoch_time, start_epoch=0, stop=False, task="detect", save_dir=Path("/tmp/run"),
        best_path=Path("/tmp/run/weights/best.pt"), last_path=Path("/tmp/run/weights/last.pt"),
    )


def run_records(sequence):
    """Records for a fitness sequence, with trainer best / stopper best_epoch as Ultralytics computes them."""
    records, best, stopper_best, best_epoch = [], None, 0.0, None
    for i, f in enumerate(sequence, 1):
        best = f if best is None or best < f else best
        if f > stopper_best or stopper_best == 0:
            best_epoch, stopper_best = i, f
        records.append(build_record(snap(i, f, best, best_epoch), records[-1] if records else None,
                                    [r["epoch_time"] for r in records] + [2.0]))
    return records


@pytest.mark.parametrize(
    "sequence, improved, delta_prev, delta_best, since",
    [
        (
            [0.1, 0.2, 0.15, 0.3], [True, True, False, True], [None, 0.1, -0.05, 0.15], [None, 0.1, -0.05, 0.1],
            [0, 0, 1, 0],
        ),
        ([0.2, 0.2, 0.1], [True, False, False], [None, 0.0, -0.1], [None, 0.0, -0.1], [0, 1, 2]),
        ([0.0, 0.0, 0.05], [True, False, True], [None, 0.0, 0.05], [None, 0.0, 0.05], [0, 0, 0]),  # zero-fitness rule
    ],
)
def test_deltas_best_and_epochs_since_improvement(sequence, improved, delta_prev, delta_best, since):
    records = run_records(sequence)
    assert [r["improved"] for r in records] == improved
    assert [r["epochs_since_best"] for r in records] == since
    for got, want in zip([r["delta_prev"] for r in records], delta_prev):
        assert got == pytest.approx(want) if want is not None else got is None
    for got, want in zip([r["delta_best"] for r in records], delta_best):
        assert got == pytest.approx(want) if want is not None else got is None


@pytest.mark.parametrize(
    "times, epoch, epochs, eta",
    [
        ([], 1, 10, None), ([2.0], 1, 10, 18.0), ([1.0, 3.0], 2, 10, 16.0), ([2.0] * 10, 10, 10, 0.0),
        ([None, 4.0], 2, 4, 8.0),
    ],
)
def test_eta_is_mean_epoch_time_times_epochs_left(times, epoch, epochs, eta):
    assert eta_seconds(times, epoch, epochs) == eta


@pytest.mark.parametrize(
    "key, drop, short",
    [
        ("metrics/precision(B)", True, "P"),
        ("metrics/recall(M)", False, "R(M)"),
        ("metrics/mAP50-95(P)", True, "mAP50-95"),
        ("metrics/accuracy_top1", True, "top1"),
        ("metrics/custom_score", True, "custom_score"),
    ],
)
def test_short_metric_names_work_for_any_task(key, drop, short):
    assert short_name(key, drop) == short


def test_console_line_shows_whatever_metrics_the_task_has_and_marks_best():
    seg = {"metrics/precision(B)": 0.5, "metrics/mAP50-95(B)": 0.3,
           "metrics/precision(M)": 0.4, "metrics/mAP50-95(M)": 0.2}
    rec = build_record(snap(1, 0.5, 0.5, 1, metrics=seg), None, [2.0])
    line = format_line(rec, colour=False)
    assert line.startswith("epoch 1/10  fitness 0.5000 (-) ★ new best")
    assert "P(B) 0.500 mAP50-95(B) 0.300 P(M) 0.400 mAP50-95(M) 0.200" in line
    assert "loss 1.500/3.000" in line and "lr 0.01" in line and "2.0s/ep" in line and "ETA 18.0s" in line
    cls = build_record(snap(2, 0.4, 0.5, 1, metrics={"metrics/accuracy_top1": 0.8, "metrics/accuracy_top5": 0.6}),
                       rec, [2.0, 2.0])
    line = format_line(cls, colour=False)
    assert "top1 0.800 top5 0.600" in line
    assert "fitness 0.4000 (-0.1000) (best 0.5000 @1, -0.1000, 1 ep w/o gain)" in line
    assert "\x1b[" in format_line(rec, colour=True) and "\x1b[" not in line


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert colour_enabled(Tty()) is True
    assert colour_enabled(object()) is False  # a pipe / file / captured stream
    monkeypatch.setenv("NO_COLOR", "1")
    assert colour_enabled(Tty()) is False


@pytest.mark.parametrize(
    "epochs_in_file, start_epoch, kept",
    [
        ([1, 2, 3], 3, [1, 2, 3]),
        ([1, 2, 3, 4], 3, [1, 2, 3]),  # a row written after the last.pt we resume from
        ([1, 2, 2, 3], 3, [1, 2, 3]),  # a duplicate: last one wins
        ([1, 3], 3, [1, 3]),  # nothing invented for a missing row
        ([], 2, []),
    ],
)
def test_resume_keeps_each_completed_epoch_once(epochs_in_file, start_epoch, kept):
    records = [{"epoch": e, "phase": "train", "n": i} for i, e in enumerate(epochs_in_file)]
    records.append({"epoch": start_epoch, "phase": "final"})  # an earlier run's final evaluation
    out = keep_for_resume(records, start_epoch)
    assert [r["epoch"] for r in out] == kept
    if epochs_in_file == [1, 2, 2, 3]:
        assert out[1]["n"] == 2


def test_files_round_trip_and_torn_lines_are_skipped(tmp_path):
    recs = run_records([0.1, 0.3])
    columns = list(recs[0])
    (tmp_path / "f.csv").write_text(csv_header(columns) + "\n" + "".join(csv_line(columns, r) + "\n" for r in recs))
    assert read_csv_records(tmp_path / "f.csv") == recs
    import json

    (tmp_path / "f.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"epoch": 3, "fitn')
    assert read_epoch_records(tmp_path / "f.jsonl") == recs


@pytest.mark.parametrize(
    "outcome, reason",
    [
        (RunOutcome("finished", epoch=4, epochs=4), "finished all epochs"),
        (RunOutcome("stopped_early", epoch=4, epochs=10), "stopped early"),
        (RunOutcome("crashed", "RuntimeError", "boom", 4, 10), "crashed"),
        (RunOutcome("interrupted", "KeyboardInterrupt", "", 4, 10), "interrupted"),
    ],
)
def test_summary_names_best_epoch_and_why_training_ended(outcome, reason):
    records = run_records([0.1, 0.3, 0.2, 0.25])
    summary = build_summary(records, None, outcome, save_dir="/tmp/run", files={})
    assert summary["reason"] == reason and summary["status"] == outcome.status
    assert (summary["best_epoch"], summary["best_fitness"], summary["epochs_run"]) == (2, 0.3, 4)
    assert summary["best_metrics"] == {"metrics/precision(B)": 0.5, "metrics/mAP50-95(B)": 0.3}
    assert summary["duration"] == outcome.duration and summary["mean_epoch_time"] == 2.0
    assert (summary["error"] is not None) == (outcome.exc_type is not None)
    assert format_summary(summary).startswith(f"training {reason} after 4 epoch(s)")


def test_options_are_validated_at_construction_and_from_hooks_yaml():
    with pytest.raises(ConfigError, match="csv"):
        FitnessReport(csv="yes")
    with pytest.raises(ConfigError, match="dir"):
        FitnessReport(dir="")
    with pytest.raises(ConfigError, match="predict"):
        build_hooks({"fitness_report": {"predict": 1}})
    with pytest.raises(ConfigError, match="plots"):
        build_hooks({"fitness_report": {"plots": True}})
    (hook,) = build_hooks({"fitness_report": {"csv": True, "plot": False, "val": False, "export": True}})
    assert isinstance(hook, FitnessReport) and hook.csv and not hook.plot
    assert (hook.reports.report_val, hook.reports.report_predict, hook.reports.report_export) == (False, True, True)
