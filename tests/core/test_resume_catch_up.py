"""A hook state one epoch behind last.pt (killed between the two writes) catches up from what the run recorded."""

from __future__ import annotations

import csv
import json

import pytest
from ultralytics import YOLO

import yolo_hooks
from tests.conftest import _InterruptAt, train
from yolo_hooks import Hook

pytestmark = pytest.mark.training


class Counter(Hook):
    config_name = "counter"

    def __init__(self):
        super().__init__(strict=True)
        self.epochs_seen: list[int] = []
        self.caught_up: list[tuple[int, dict]] = []

    def on_fit_epoch_end(self, trainer):
        snap = self.snapshot(trainer)
        if not snap.is_final_eval:
            self.epochs_seen.append(snap.epoch)
            self.save_state(trainer, snap.epoch)

    def catch_up(self, trainer, epoch, values):
        self.caught_up.append((epoch, values))
        self.epochs_seen.append(epoch)

    def state_dict(self):
        return {"epochs_seen": self.epochs_seen}

    def load_state_dict(self, state):
        self.epochs_seen = list(state["epochs_seen"])


def test_a_state_one_epoch_behind_last_pt_is_caught_up_on_resume(tmp_path, device):
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, Counter())
    model.add_callback("on_train_epoch_start", _InterruptAt(2))
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, model=model, device=device, epochs=4)

    # as if the process had died after last.pt of epoch 2 was written but before the hook saved its state
    state_file = tmp_path / "run" / "weights" / "counter.state.json"
    state_file.write_text(json.dumps({"epoch": 1, "state": {"epochs_seen": [1]}}))

    resumed_hook = Counter()
    resumed = YOLO(tmp_path / "run" / "weights" / "last.pt")
    yolo_hooks.attach(resumed, resumed_hook)
    resumed.train(resume=True)

    assert resumed_hook.epochs_seen == [1, 2, 3, 4]  # nothing lost, nothing twice
    (epoch, values), = resumed_hook.caught_up
    rows = list(csv.DictReader(open(tmp_path / "run" / "results.csv")))
    assert epoch == 2 and int(rows[1]["epoch"]) == 2
    for key in ("metrics/mAP50-95(B)", "val/box_loss", "train/cls_loss"):
        assert values[key] == pytest.approx(float(rows[1][key]))
    assert values["val/loss"] == pytest.approx(sum(float(rows[1][k]) for k in rows[1] if k.startswith("val/")))
    assert values["fitness"] is not None  # from last.pt, which holds epoch 2
