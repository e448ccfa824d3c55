"""FitnessReport on a resume where fitness.jsonl/csv lack the last epoch of last.pt (the process died after
Ultralytics wrote last.pt and before the hook appended the epoch): the epoch is rebuilt from results.csv and last.pt
through the same record builder, so the files hold every epoch exactly once.

The live epochs use scripted snapshots; results.csv and last.pt are written the way Ultralytics writes them.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from tests.fitness.helpers import read_jsonl, read_rows
from tests.helpers import bests
from yolo_hooks.core.recorded import recorded_snapshot
from yolo_hooks.core.run import EpochSnapshot
from yolo_hooks.fitness.report import FitnessReport

EPOCHS = 6
FITNESS = [0.0, 0.0, 0.2, 0.15, 0.3, 0.3]  # zero start, new bests at 3 and 5, a tie at 6
EPOCH_TIME = 2.0
BEFORE_SAVE = 0.1  # results.csv's time is taken just before last.pt is written, the snapshot's a moment later


BESTS = bests(FITNESS)


def snapshot(epoch: int, save_dir: Path, elapsed: float) -> EpochSnapshot:
    fitness = FITNESS[epoch - 1]
    best, best_epoch = BESTS[epoch - 1]
    return EpochSnapshot(
        epoch=epoch, epochs=EPOCHS, is_final_eval=False, fitness=fitness, best_fitness=best, best_epoch=best_epoch,
        is_best=fitness == best, metrics={"metrics/precision(B)": 0.5, "metrics/mAP50-95(B)": fitness},
        val_losses={"val/box_loss": 1.0 + epoch / 8, "val/cls_loss": 2.0}, train_losses={"train/box_loss": 1.5},
        lr={"lr/pg0": 0.01 / epoch}, epoch_time=EPOCH_TIME, elapsed=elapsed, start_epoch=0, stop=False,
        task="detect", save_dir=save_dir, best_path=save_dir / "weights" / "best.pt",
        last_path=save_dir / "weights" / "last.pt",
    )


def write_results_csv(save_dir: Path, rows: list[tuple[EpochSnapshot, float]]) -> None:
    """results.csv as BaseTrainer.save_metrics writes it: epoch, time, losses, metrics, lr, each as %.6g."""
    snap = rows[0][0]
    keys = [*snap.train_losses, *snap.metrics, *snap.val_losses, *snap.lr]
    lines = [",".join(["epoch", "time", *keys])]
    for snap, time in rows:
        values = {**snap.train_losses, **snap.metrics, **snap.val_losses, **snap.lr}
        lines.append(",".join("%.6g" % x for x in (snap.epoch, time, *(values[k] for k in keys))))
    (save_dir / "results.csv").write_text("\n".join(lines) + "\n")


def fake_trainer(save_dir: Path, resume: bool = False, start_epoch: int = 0) -> SimpleNamespace:
    best, best_epoch = BESTS[start_epoch - 1] if start_epoch else (None, 0)
    return SimpleNamespace(
        save_dir=save_dir, epochs=EPOCHS, epoch=0, start_epoch=start_epoch, best_fitness=best,
        stopper=SimpleNamespace(best_epoch=best_epoch), last=save_dir / "weights" / "last.pt",
        best=save_dir / "weights" / "best.pt", args=SimpleNamespace(resume=resume, task="detect"),
    )


def live(hook: FitnessReport, trainer, snaps: list[EpochSnapshot]) -> None:
    hook.snapshot = lambda t: snaps[t.epoch]
    for index, _ in enumerate(snaps):
        trainer.epoch = index
        hook.on_fit_epoch_end(trainer)


def killed_and_resumed(save_dir: Path, killed_after: int, first_process_epochs: int | None = None):
    """Process A trains from epoch 1; with ``first_process_epochs=n`` it is killed cleanly after epoch n and
    process B resumes; the last process dies after last.pt of ``killed_after`` and before the hook appended it.
    A fresh hook resumes from there and trains to the end. Returns (hook, snapshots by epoch)."""
    (save_dir / "weights").mkdir(parents=True)
    first = first_process_epochs or killed_after
    snaps = {e: snapshot(e, save_dir, e * EPOCH_TIME) for e in range(1, first + 1)}
    csv_rows = [(snaps[e], e * EPOCH_TIME - BEFORE_SAVE) for e in range(1, first + 1)]
    hook = FitnessReport(plot=False, console=False, strict=True)
    trainer = fake_trainer(save_dir)
    hook.on_pretrain_routine_start(trainer)
    hook.on_train_start(trainer)
    live(hook, trainer, [snaps[e] for e in range(1, min(first, killed_after - 1) + 1)])
    if first_process_epochs:  # process B: epochs first+1 .. killed_after-1 live, elapsed restarting from 0
        hook, trainer = FitnessReport(plot=False, console=False, strict=True), fake_trainer(save_dir, True, first)
        hook.on_pretrain_routine_start(trainer)
        hook.on_train_start(trainer)
        for e in range(first + 1, killed_after + 1):
            snaps[e] = snapshot(e, save_dir, (e - first) * EPOCH_TIME)
            csv_rows.append((snaps[e], (e - first) * EPOCH_TIME - BEFORE_SAVE))
        hook.snapshot = lambda t: snaps[t.epoch + 1]
        for e in range(first + 1, killed_after):
            trainer.epoch = e - 1
            hook.on_fit_epoch_end(trainer)
    write_results_csv(save_dir, csv_rows)
    torch.save({"epoch": killed_after - 1, "train_metrics": {"fitness": FITNESS[killed_after - 1]}},
               save_dir / "weights" / "last.pt")

    resumed, trainer = FitnessReport(plot=False, console=False, strict=True), fake_trainer(save_dir, True, killed_after)
    resumed.on_pretrain_routine_start(trainer)
    resumed.on_train_start(trainer)
    later = {e: snapshot(e, save_dir, (e - killed_after) * EPOCH_TIME) for e in range(killed_after + 1, EPOCHS + 1)}
    resumed.snapshot = lambda t: later[t.epoch + 1]
    for e in later:
        trainer.epoch = e - 1
        resumed.on_fit_epoch_end(trainer)
    return resumed, {**snaps, **later}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> list[dict]:
    save_dir = tmp_path_factory.mktemp("reference")
    hook = FitnessReport(plot=False, console=False, strict=True)
    trainer = fake_trainer(save_dir)
    hook.on_pretrain_routine_start(trainer)
    hook.on_train_start(trainer)
    live(hook, trainer, [snapshot(e, save_dir, e * EPOCH_TIME) for e in range(1, EPOCHS + 1)])
    return hook.records


RECORDED = ["epoch", "epochs", "phase", "fitness", "best_fitness", "best_epoch", "is_best", "improved", "delta_prev",
            "delta_best", "epochs_since_best", "train/box_loss", "metrics/precision(B)", "metrics/mAP50-95(B)",
            "val/box_loss", "val/cls_loss", "lr/pg0", "train/loss", "val/loss"]


@pytest.mark.parametrize("killed_after", [1, 2, 3, 4, 5])
def test_the_missed_epoch_is_rebuilt_like_the_live_record(tmp_path, reference, killed_after):
    resumed, _ = killed_and_resumed(tmp_path, killed_after)
    rows, records = read_rows(tmp_path / "fitness.csv"), read_jsonl(tmp_path / "fitness.jsonl")
    assert [int(r["epoch"]) for r in rows] == [r["epoch"] for r in records] == list(range(1, EPOCHS + 1))
    rebuilt = records[killed_after - 1]
    want = reference[killed_after - 1]
    for key in RECORDED:  # the same numbers (results.csv keeps 6 significant digits)
        exact = not isinstance(want[key], float)
        assert rebuilt[key] == (want[key] if exact else pytest.approx(want[key], rel=1e-5, abs=1e-12)), key
    # times: elapsed and epoch time from results.csv (a moment before the live snapshot), total time continues
    assert rebuilt["elapsed"] == pytest.approx(want["elapsed"] - BEFORE_SAVE)
    assert rebuilt["epoch_time"] == pytest.approx(EPOCH_TIME if killed_after > 1 else EPOCH_TIME - BEFORE_SAVE)
    assert rebuilt["total_time"] == pytest.approx(want["total_time"], abs=BEFORE_SAVE + 1e-9)
    assert rebuilt["eta"] == pytest.approx(want["eta"], abs=(EPOCHS - killed_after) * BEFORE_SAVE + 1e-9)
    # the resumed epochs continue from it: whole-run total time, the best bookkeeping
    assert records[-1]["total_time"] == pytest.approx(reference[-1]["total_time"], abs=BEFORE_SAVE + 1e-9)
    assert [r["best_epoch"] for r in records] == [r["best_epoch"] for r in reference]
    assert resumed.records == records


def test_an_epoch_missed_by_a_resumed_process_gets_that_process_epoch_time(tmp_path, reference):
    """A trained 1-2, B resumed and died after last.pt of epoch 4 before appending it: epoch 4's time is B's
    (results.csv's time restarts in B), and the total time continues from epoch 3."""
    _, _ = killed_and_resumed(tmp_path, killed_after=4, first_process_epochs=2)
    records = read_jsonl(tmp_path / "fitness.jsonl")
    assert [r["epoch"] for r in records] == list(range(1, EPOCHS + 1))
    assert records[3]["epoch_time"] == pytest.approx(EPOCH_TIME)  # B's epochs 3, 4: rows at 1.9 and 3.9
    assert records[3]["total_time"] == pytest.approx(records[2]["total_time"] + EPOCH_TIME, abs=BEFORE_SAVE + 1e-9)


def test_without_results_csv_the_epoch_is_reported_missing(tmp_path):
    save_dir = tmp_path / "run"
    (save_dir / "weights").mkdir(parents=True)
    hook, trainer = FitnessReport(plot=False, console=False, strict=True), fake_trainer(save_dir, True, 2)
    hook.logged = []
    hook.log = lambda message, level="info", colour=None: hook.logged.append((level, message))
    hook.on_train_start(trainer)
    assert hook.records == []
    assert [m for level, m in hook.logged if level == "warning"] == [
        f"epoch 1 is in neither {save_dir / 'fitness.jsonl'} nor results.csv: left out",
        f"epoch 2 is in neither {save_dir / 'fitness.jsonl'} nor results.csv: left out",
    ]


def test_recorded_snapshot_splits_the_recorded_values_like_the_live_snapshot(tmp_path):
    live_snap = snapshot(3, tmp_path, 6.0)
    (tmp_path / "weights").mkdir()
    write_results_csv(tmp_path, [(snapshot(2, tmp_path, 4.0), 3.9), (live_snap, 5.9)])
    rebuilt = recorded_snapshot(fake_trainer(tmp_path, True, 3), 3, live_snap.values())
    for field in ("epoch", "epochs", "fitness", "best_fitness", "best_epoch", "is_best", "metrics", "val_losses",
                  "train_losses", "lr", "start_epoch", "task", "save_dir", "best_path", "last_path"):
        want = 3 if field == "start_epoch" else getattr(live_snap, field)
        assert getattr(rebuilt, field) == want, field
    assert (rebuilt.elapsed, rebuilt.epoch_time) == (pytest.approx(5.9), pytest.approx(2.0))
    # an epoch older than last.pt: no best bookkeeping of its own, the caller's is kept
    older = recorded_snapshot(fake_trainer(tmp_path, True, 3), 2, {**live_snap.values(), "fitness": None}, (0.1, 1))
    assert (older.fitness, older.best_fitness, older.best_epoch, older.is_best) == (None, 0.1, 1, False)
    # classification: the only loss is its own total
    cls = recorded_snapshot(fake_trainer(tmp_path, True, 3), 3, {"val/loss": 0.7, "train/loss": 0.9, "fitness": 0.5})
    assert (cls.val_losses, cls.train_losses) == ({"val/loss": 0.7}, {"train/loss": 0.9})
    assert json.dumps(rebuilt.as_dict())  # as plain as a live snapshot
