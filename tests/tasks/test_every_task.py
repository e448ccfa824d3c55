"""Every task Ultralytics trains — segment, pose, classify, obb — with every hook attached, end to end.

One tiny training per task (datasets made from coco8 by datasets/make_tasks.py), then ``model.val()``,
``model.predict()`` and ``model.export(format="torchscript")`` on the same model. Each test below reads one
promise off those runs. (detect is the task of the rest of the suite.)
"""

from __future__ import annotations

import hashlib
import json

import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.fitness.helpers import captured_log, read_jsonl, read_rows
from yolo_hooks.notify.receiver import WebhookReceiver

pytestmark = [pytest.mark.training, pytest.mark.floor]

EPOCHS = 3
STOP_EPOCH = 2  # early_stop: patience 1 and a min_delta no metric can beat
TRAIN = dict(epochs=EPOCHS, imgsz=64, batch=4, workers=0, device="cpu", plots=False, amp=False, seed=0,
             deterministic=True, verbose=False)

# task -> (model yaml, a loss only this task reports, the metric early_stop watches, labels its report lines show)
TASKS = {
    "segment": ("yolo11n-seg.yaml", "val/seg_loss", "metrics/mAP50-95(M)", ("mAP50-95(B)", "mAP50-95(M)")),
    "pose": ("yolo11n-pose.yaml", "val/pose_loss", "metrics/mAP50-95(P)", ("mAP50-95(B)", "mAP50-95(P)")),
    "classify": ("yolo11n-cls.yaml", "val/loss", "metrics/accuracy_top1", ("top1", "top5")),
    "obb": ("yolo11n-obb.yaml", "val/box_loss", "metrics/mAP50-95(B)", ("mAP50", "mAP50-95")),
}


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module", params=list(TASKS))
def run(request, task_data, tmp_path_factory):
    """One training per task with every hook attached, then val, predict and export of the trained model."""
    task = request.param
    model_yaml, loss_key, monitor, _ = TASKS[task]
    tmp = tmp_path_factory.mktemp(task)
    data = task_data[task]
    with WebhookReceiver() as receiver, captured_log() as lines:
        model = YOLO(model_yaml)
        hooks = yolo_hooks.attach(model, {
            "fitness_report": True,
            "val_loss_alert": {"above": {loss_key: 0.0}, "warmup": 0},
            "early_stop": {"monitor": monitor, "patience": 1, "min_delta": 1.0},
            "lr_on_plateau": {"patience": 1},
            "notify": [{"format": "json", "url": receiver.url, "events": None, "flush_timeout": 10}],
            "best_mirror": {"to": str(tmp / "mirror"), "flush_timeout": 60},
        })
        model.train(data=str(data), project=str(tmp), name="run", exist_ok=True, **TRAIN)
        trainer = model.trainer
        model.val(data=str(data), imgsz=64, batch=4, device="cpu", plots=False, verbose=False)
        model.predict(source=str(_val_images(data)), imgsz=64, device="cpu", verbose=False)
        model.export(format="torchscript", imgsz=64, device="cpu")
        delivered = receiver.delivered()
    return dict(task=task, data=data, mirror_dir=tmp / "mirror", model=model, trainer=trainer, save_dir=trainer.save_dir, hooks=hooks,
                lines=lines, delivered=delivered, loss_key=loss_key, monitor=monitor, labels=TASKS[task][3],
                report=next(h for h in hooks if h.config_name == "fitness_report"))


def _val_images(data):
    """The val images as a predict source (classify keeps them in class folders: a glob)."""
    return data / "val" / "*" / "*.jpg" if data.is_dir() else data.parent / data.stem / "images" / "val"


def test_no_hook_failed(run):
    assert {h.name: h.error_total for h in run["hooks"]} == {h.name: 0 for h in run["hooks"]}
    assert run["trainer"].args.task == run["task"]


def test_each_epoch_line_shows_the_task_metrics_with_their_labels(run):
    epoch_lines = [line for line in run["lines"] if line.startswith("fitness_report: epoch ")]
    assert [line.split()[2] for line in epoch_lines] == [f"{e}/{EPOCHS}" for e in range(1, STOP_EPOCH + 1)]
    for line in epoch_lines:
        for label in run["labels"]:
            assert f" {label} " in line, (label, line)


def test_the_summary_shows_the_task_metrics_with_their_labels(run):
    summary = [line for line in run["lines"] if line.startswith("fitness_report: best epoch ")]
    assert len(summary) == 1
    for label in run["labels"]:
        assert f" {label} " in summary[0], (label, summary[0])
    written = json.loads((run["save_dir"] / "fitness_summary.json").read_text())
    assert run["monitor"] in written["best_metrics"]


def test_fitness_csv_equals_results_csv(run):
    results, rows = read_rows(run["save_dir"] / "results.csv"), read_rows(run["save_dir"] / "fitness.csv")
    assert [int(r["epoch"]) for r in rows] == [int(r["epoch"]) for r in results] == list(range(1, STOP_EPOCH + 1))
    assert any(key.startswith(run["loss_key"].split("/")[0]) for key in results[0])
    for res, row in zip(results, rows):
        for key, value in res.items():
            if key not in ("epoch", "time"):
                assert float(row[key]) == pytest.approx(float(value), rel=1e-5, abs=1e-9), key
    final = [r for r in read_jsonl(run["save_dir"] / "fitness.jsonl") if r["phase"] == "final"]
    assert len(final) == 1  # the validation of best.pt is one final record, not an epoch


def test_alerts_name_the_task_own_loss(run):
    alerts = [json.loads(line) for line in (run["save_dir"] / "alerts.jsonl").read_text().splitlines()]
    assert alerts and {a["loss"] for a in alerts} == {run["loss_key"]}
    assert {a["rule"] for a in alerts} == {"above"}
    assert "alert" in {m.get("event") for m in run["delivered"]}


def test_early_stop_watches_a_task_specific_metric(run):
    early = next(h for h in run["hooks"] if h.config_name == "early_stop")
    assert early.stopped_epoch == STOP_EPOCH
    record = json.loads((run["save_dir"] / "early_stop.json").read_text())
    assert (record["monitor"], record["stopped"], record["epoch"]) == (run["monitor"], True, STOP_EPOCH)
    assert record["value"] is not None  # the key was found in the task's metrics


def test_the_mirror_holds_the_final_best_pt(run):
    copy = run["mirror_dir"] / "best.pt"
    assert sha256(copy) == sha256(run["trainer"].best)


def test_val_report_counts_the_val_images(run, make_tasks):
    rep = run["report"].reports.last_val_report
    assert rep is not None and rep["images"] == make_tasks.count_images(run["data"])


def test_predict_and_export_are_reported(run, make_tasks):
    predict, export = run["report"].reports.last_predict_report, run["report"].reports.last_export_report
    assert predict["images"] == make_tasks.count_images(run["data"])
    assert export["format"] == "torchscript" and str(export["file"]).endswith(".torchscript")
