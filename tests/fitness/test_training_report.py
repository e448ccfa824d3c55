"""FitnessReport on real coco8 trainings: every figure against Ultralytics' own results.csv of the same run."""

from __future__ import annotations

import json

import pytest

from tests.conftest import _cuda_available, train
from tests.fitness.helpers import Listener, captured_log, read_jsonl, read_rows
from yolo_hooks.fitness.report import FitnessReport

pytestmark = [pytest.mark.training, pytest.mark.floor]

EPOCHS = 3
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA device"))]


@pytest.fixture(scope="module", params=DEVICES)
def run(request, tmp_path_factory):
    """One 3-epoch training shared by the assertions below (on CPU, and on CUDA where present)."""
    tmp = tmp_path_factory.mktemp(f"fitness_{request.param}")
    report, listener = FitnessReport(plot=True, strict=True), Listener()
    with captured_log() as lines:
        model = train(tmp, report, listener, device=request.param, epochs=EPOCHS)
    save_dir = model.trainer.save_dir
    return dict(report=report, listener=listener, lines=lines, model=model, save_dir=save_dir,
                results=read_rows(save_dir / "results.csv"))


def _expected(results):
    """What the report must say, derived from results.csv alone with Ultralytics' own rules."""
    out, best, best_epoch, prev, stopper_best = [], None, None, None, 0.0
    for row in results:
        fitness = float(row["metrics/mAP50-95(B)"])  # detection fitness in this Ultralytics: mAP50-95
        prev_best = best
        if best is None or best < fitness:  # trainer.best_fitness update
            best = fitness
        if fitness > stopper_best or stopper_best == 0:  # EarlyStopping.__call__ (best_epoch)
            best_epoch, stopper_best = int(row["epoch"]), fitness
        out.append(dict(epoch=int(row["epoch"]), fitness=fitness, best_fitness=best, best_epoch=best_epoch,
                        delta_prev=None if prev is None else fitness - prev,
                        delta_best=None if prev_best is None else fitness - prev_best,
                        epochs_since_best=int(row["epoch"]) - best_epoch))
        prev = fitness
    return out


def test_csv_and_jsonl_match_ultralytics_results_csv(run):
    rows = read_rows(run["save_dir"] / "fitness.csv")
    records = read_jsonl(run["save_dir"] / "fitness.jsonl")
    train_records = [r for r in records if r["phase"] == "train"]
    results = run["results"]
    assert [int(r["epoch"]) for r in rows] == [r["epoch"] for r in train_records] == [1, 2, 3]
    assert [int(r["epoch"]) for r in results] == [1, 2, 3]
    for res, row, rec, exp in zip(results, rows, train_records, _expected(results)):
        for key, value in res.items():  # every Ultralytics column, from the trainer's metric keys
            if key in ("epoch", "time"):
                continue
            assert float(row[key]) == pytest.approx(float(value), rel=1e-5, abs=1e-9), key
            assert rec[key] == pytest.approx(float(value), rel=1e-5, abs=1e-9), key
        assert rec["fitness"] == pytest.approx(exp["fitness"], abs=1e-5)
        assert rec["best_fitness"] == pytest.approx(exp["best_fitness"], abs=1e-5)
        assert rec["best_epoch"] == exp["best_epoch"] and rec["epochs_since_best"] == exp["epochs_since_best"]
        for key in ("delta_prev", "delta_best"):
            assert (rec[key] is None) == (exp[key] is None)
            if exp[key] is not None:
                assert rec[key] == pytest.approx(exp[key], abs=1e-5)
        train_sum = sum(float(v) for k, v in res.items() if k.startswith("train/"))
        val_sum = sum(float(v) for k, v in res.items() if k.startswith("val/"))
        assert rec["train/loss"] == pytest.approx(train_sum, rel=1e-5)
        assert rec["val/loss"] == pytest.approx(val_sum, rel=1e-5)
    # time: our stamp is taken after results.csv's row of the same epoch and before the next one
    times = [float(r["time"]) for r in results] + [float("inf")]
    for i, rec in enumerate(train_records):
        assert times[i] <= rec["elapsed"] <= times[i + 1]
    # ETA = mean epoch time so far x epochs left
    for i, rec in enumerate(train_records):
        mean = sum(r["epoch_time"] for r in train_records[: i + 1]) / (i + 1)
        assert rec["eta"] == pytest.approx(mean * (EPOCHS - rec["epoch"]))
    assert train_records[-1]["elapsed"] - sum(r["epoch_time"] for r in train_records) == pytest.approx(0, abs=0.5)


def test_final_evaluation_is_one_final_record_not_an_epoch(run):
    records = read_jsonl(run["save_dir"] / "fitness.jsonl")
    final = [r for r in records if r["phase"] == "final"]
    assert len(final) == 1 and records[-1] is not None and records[-1]["phase"] == "final"
    trainer = run["model"].trainer
    for key, value in trainer.metrics.items():  # after training, trainer.metrics holds best.pt's final validation
        assert final[0][key] == pytest.approx(float(value), abs=1e-9), key
    assert final[0]["fitness"] == pytest.approx(trainer.validator.metrics.fitness)
    assert final[0]["weights"] == str(trainer.best)
    assert run["report"].final_record == final[0]
    assert "phase" in read_rows(run["save_dir"] / "fitness.csv")[0]
    assert all(r["phase"] == "train" for r in read_rows(run["save_dir"] / "fitness.csv"))


def test_one_plain_console_line_per_epoch(run):
    epoch_lines = [line for line in run["lines"] if line.startswith("fitness_report: epoch ")]
    assert [line.split()[2] for line in epoch_lines] == ["1/3", "2/3", "3/3"]
    assert "★ new best" in epoch_lines[0]  # the first epoch always improves on nothing
    assert not any("\x1b[" in line for line in run["lines"] if line.startswith("fitness_report"))  # NO_COLOR
    for line in epoch_lines:
        assert all(word in line for word in ("fitness", "mAP50-95", "loss", "lr", "/ep", "ETA"))


def test_summary_is_logged_written_plotted_and_published_once(run):
    exp = _expected(run["results"])
    summary = json.loads((run["save_dir"] / "fitness_summary.json").read_text())
    best = exp[-1]["best_epoch"]
    assert summary["status"] == "finished" and summary["epochs_run"] == EPOCHS and summary["error"] is None
    assert summary["best_epoch"] == best
    assert summary["best_fitness"] == pytest.approx(exp[best - 1]["fitness"], abs=1e-5)
    best_row = run["results"][best - 1]
    for key, value in summary["best_metrics"].items():
        assert value == pytest.approx(float(best_row[key]), abs=1e-9)
    assert set(summary["best_metrics"]) == {k for k in best_row if k.startswith("metrics/")}
    # the run's duration runs to the end of training, past the last epoch's record
    assert summary["duration"] >= read_jsonl(run["save_dir"] / "fitness.jsonl")[2]["total_time"]
    png = run["save_dir"] / "fitness.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    published = [e for e in run["listener"].published if e.kind == "fitness_summary"]
    assert len(published) == 1  # on_train_end and teardown both fired; one summary
    assert published[0].data == run["report"].summary
    assert json.loads(json.dumps(published[0].data, default=str)) == summary
    finished = "fitness_report: training finished all epochs after 3 epoch(s)"
    assert any(line.startswith(finished) for line in run["lines"])


def test_training_validations_make_no_val_report(run):
    assert run["report"].reports.last_val_report is None
    assert "val_report" not in run["listener"].kinds()
    assert run["report"].error_total == 0 and run["report"].write_errors == []
