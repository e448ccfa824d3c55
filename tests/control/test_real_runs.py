"""Real coco8 trainings steered from the shell: stop (at the epoch's end, or after the batch), extend and patience
(against the same run left alone), save (a verified copy mid-run), and what a finished run says."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest

import yolo_hooks
from tests.conftest import train
from tests.control.support import answers, in_background
from yolo_hooks.control import hook as control_hook
from yolo_hooks.control.cli import control_command
from yolo_hooks.control.schedule import Schedule
from yolo_hooks.mirror.hook import BestMirror
from yolo_hooks.notify import Notify
from yolo_hooks.plateau.early_stop import EarlyStopping

pytestmark = pytest.mark.training
SGD = dict(optimizer="SGD", lr0=0.01, lrf=0.01, warmup_epochs=0, imgsz=64)  # lr/pg0 of epoch x is 0.01 * lf(x)


def rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "results.csv", newline="") as f:
        return [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]


def on_epoch(model, epoch: int, action):
    """Run ``action(trainer)`` at the start of 0-based ``epoch``."""
    model.add_callback("on_train_epoch_start", lambda trainer: action(trainer) if trainer.epoch == epoch else None)


def model_with(*hooks):
    from ultralytics import YOLO

    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, *hooks)
    return model


def test_stop_ends_the_run_at_the_end_of_the_epoch_with_its_end_of_run_work(tmp_path, endpoint):
    notify = Notify(format="json", url=endpoint.url, events="all")
    mirror = BestMirror(to=str(tmp_path / "mirror"))
    model = model_with(notify, mirror, yolo_hooks.FitnessReport(plot=False))
    cli = {}
    on_epoch(model, 1, lambda t: in_background(cli, "stop", str(t.save_dir), "--reason", "val loss diverging"))
    train(tmp_path, model=model, epochs=5, imgsz=64)
    run_dir = tmp_path / "run"
    assert cli["done"].wait(30) and cli["rc"] == 0
    assert len(rows(run_dir)) == 2  # stopped at the end of epoch 2 of 5
    (command, result, text), = answers(run_dir)
    assert (command, result) == ("stop", "done") and text.startswith("stopping at the end of epoch 2/5")
    end = next(m for m in endpoint.received() if m["event"] == "train_end")
    assert end["data"]["status"] == "stopped_early" and end["data"]["epoch"] == 2
    assert end["data"]["stopped_by"].startswith("stop requested by ") and end["data"]["stopped_by"].endswith(
        "(yolo-hooks): val loss diverging")
    assert "val loss diverging" in end["text"]
    control = next(m for m in endpoint.received() if m["event"] == "control")
    assert control["data"]["command"] == "stop" and control["severity"] == "warning"
    summary = json.loads((run_dir / "fitness_summary.json").read_text())
    assert summary["status"] == "stopped_early"
    final = json.loads((tmp_path / "mirror" / "best.json").read_text())  # the final best.pt, mirrored and verified
    assert final["final"] is True and final["sha256"] == hashlib.sha256((tmp_path / "mirror" / "best.pt").read_bytes()
                                                                       ).hexdigest()
    assert json.loads((run_dir / "yolo_hooks_run.json").read_text())["status"] == "stopped_early"


def test_stop_now_ends_the_run_after_the_batch_it_arrived_in(tmp_path, monkeypatch):
    monkeypatch.setattr(control_hook, "POLL_SECONDS", 0.0)  # look at the inbox after every batch
    model = model_with()
    trained: list[tuple[int, int]] = []
    batch = {"n": 0}

    def count(trainer):
        batch["n"] += 1
        trained.append((trainer.epoch + 1, batch["n"]))
        if (trainer.epoch, batch["n"]) == (1, 2):  # written during batch 2 of epoch 2: a shell in another window
            from yolo_hooks.control.commands import from_request, new_id
            from yolo_hooks.control.inbox import post

            post(trainer.save_dir, from_request({"command": "stop", "now": True}, id=new_id(), sender="test"))

    model.add_callback("on_train_epoch_start", lambda t: batch.update(n=0))
    model.add_callback("on_train_batch_start", count)
    train(tmp_path, model=model, epochs=3, imgsz=64, batch=1)  # 4 batches an epoch
    assert trained[-1] == (2, 2) and [e for e, _ in trained].count(2) == 2  # batches 3 and 4 of epoch 2 never ran
    (command, result, text), = answers(tmp_path / "run")
    assert result == "done" and text.startswith("stopping after the current batch of epoch 2/3")
    assert model.trainer.stop and len(rows(tmp_path / "run")) == 2


def test_extend_trains_more_epochs_with_the_schedule_stretched_to_the_new_end(tmp_path):
    alone = train(tmp_path / "alone", epochs=3, **SGD)
    model = model_with()
    cli = {}
    on_epoch(model, 1, lambda t: in_background(cli, "extend", str(t.save_dir), "--epochs", "2"))
    train(tmp_path / "extended", model=model, epochs=3, **SGD)
    assert cli["done"].wait(30) and cli["rc"] == 0
    before, after = rows(tmp_path / "alone" / "run"), rows(tmp_path / "extended" / "run")
    assert len(before) == 3 and len(after) == 5
    lr = [float(r["lr/pg0"]) for r in after]
    assert lr[:2] == [float(r["lr/pg0"]) for r in before[:2]]  # the epochs before the extension: untouched
    stretched = Schedule(False, 0.01, 3).extended(1, 5)  # taken in epoch 2: applied at its end (x = 1)
    assert lr == pytest.approx([0.01 * stretched(x) for x in range(5)])
    assert lr[2] < lr[1] and lr[2] > float(before[2]["lr/pg0"])  # still falling, more slowly: no jump up
    assert alone.trainer.epochs == 3 and model.trainer.epochs == model.trainer.args.epochs == 5
    assert json.loads((tmp_path / "extended" / "run" / "yolo_hooks_run.json").read_text())["epochs"] == 5


def test_patience_changes_when_early_stop_stops(tmp_path):
    def early_stop():  # nothing counts as an improvement after epoch 1
        return EarlyStopping(patience=3, min_delta=1e9)

    train(tmp_path / "alone", early_stop(), epochs=4, imgsz=64)
    model = model_with(early_stop())
    cli = {}
    on_epoch(model, 1, lambda t: in_background(cli, "extend", str(t.save_dir), "--patience", "1"))
    train(tmp_path / "patient", model=model, epochs=4, imgsz=64)
    assert cli["done"].wait(30) and cli["rc"] == 0
    assert len(rows(tmp_path / "alone" / "run")) == 4 and len(rows(tmp_path / "patient" / "run")) == 2
    report = json.loads((tmp_path / "patient" / "run" / "early_stop.json").read_text())
    assert report["stopped"] and report["reason"] == "patience" and report["patience"] == 1 and report["epoch"] == 2
    (command, result, text), = answers(tmp_path / "patient" / "run")
    assert (command, result, text) == ("patience", "done", "early_stop patience 3 -> 1 (wait 0/1)")


def test_save_mirrors_last_and_best_now_verified(tmp_path):
    mirror = BestMirror(to=str(tmp_path / "mirror"), keep=0)  # last_every 0: last.pt is never mirrored otherwise
    model = model_with(mirror)
    cli, seen = {}, {}

    def save(trainer):  # epoch 2 starts: last.pt holds epoch 1
        seen["local"] = hashlib.sha256(Path(trainer.last).read_bytes()).hexdigest()
        in_background(cli, "save", str(trainer.save_dir))

    def look(trainer):  # epoch 3 starts: the copies were made during epoch 2
        assert cli["done"].wait(60)
        # last.pt goes as the resume set of its epoch: the manifest, made visible last, names its sha256
        seen["last"] = json.loads((tmp_path / "mirror" / "resume" / "epoch0001.json").read_text())
        seen["copy"] = hashlib.sha256((tmp_path / "mirror" / "resume" / "epoch0001" / "last.pt").read_bytes()).hexdigest()

    on_epoch(model, 1, save)
    on_epoch(model, 2, look)
    train(tmp_path, model=model, epochs=3, imgsz=64)
    assert cli["rc"] == 0
    assert seen["last"]["epoch"] == 1 and seen["last"]["sha256"] == seen["copy"] == seen["local"]
    results = [(c, r) for c, r, _ in answers(tmp_path / "run")]
    assert results == [("save", "accepted"), ("save", "done")]
    done = answers(tmp_path / "run")[1][2]
    assert "last.pt (epoch 1) verified in" in done and "best.pt (epoch" in done and "sha256" in done


def test_save_without_a_mirror_and_commands_to_a_finished_run_are_refused(tmp_path, capsys):
    model = model_with()
    cli = {}
    on_epoch(model, 1, lambda t: in_background(cli, "save", str(t.save_dir)))
    train(tmp_path, model=model, epochs=2, imgsz=64)
    assert cli["done"].wait(30) and cli["rc"] == 1
    assert answers(tmp_path / "run")[0][1:] == ("refused", "refused: no best_mirror in this run: there is nowhere to "
                                                           "copy last.pt and best.pt to")
    capsys.readouterr()
    assert control_command("stop", [str(tmp_path / "run")]) == 1
    assert "refused: run takes no commands: ended: finished at" in capsys.readouterr().err
    assert control_command("status", [str(tmp_path / "run")]) == 0
    assert capsys.readouterr().out.startswith("run: ended: finished at")


@pytest.mark.floor
def test_extend_and_stop_now_on_every_supported_release(tmp_path, monkeypatch):
    """8.3.253 (the floor) checks trainer.stop only between epochs: there a `stop --now` lands at the epoch's end
    and says so; every release takes the extension."""
    from yolo_hooks.control.commands import from_request, new_id
    from yolo_hooks.control.inbox import post
    from yolo_hooks.core import compat

    monkeypatch.setattr(control_hook, "POLL_SECONDS", 0.0)
    model = model_with()
    batches: list[int] = []
    asked = {(0, 1): {"command": "extend", "epochs": 1}, (1, 1): {"command": "stop", "now": True}}

    def count(trainer):
        batches.append(trainer.epoch + 1)
        body = asked.get((trainer.epoch, batches.count(trainer.epoch + 1)))
        if body:
            post(trainer.save_dir, from_request(body, id=new_id(), sender="test"))

    model.add_callback("on_train_batch_start", count)
    train(tmp_path, model=model, epochs=2, imgsz=64, batch=1)  # 4 batches an epoch
    assert len(rows(tmp_path / "run")) == 2 and model.trainer.epochs == 3  # extended to 3, stopped in epoch 2
    assert answers(tmp_path / "run")[0][2].startswith("epochs 2 -> 3")
    stop = answers(tmp_path / "run")[1][2]
    if compat.STOP_BETWEEN_BATCHES:
        assert batches.count(2) == 1 and stop.startswith("stopping after the current batch of epoch 2/3")
    else:
        assert batches.count(2) == 4 and "(this Ultralytics checks a stop only between epochs)" in stop
