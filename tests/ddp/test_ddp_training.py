"""A real 2-rank DDP training on CPU (gloo) with every hook attached, run by Ultralytics' own multi-GPU path.

Each run is ``model.train(trainer=CpuDDPTrainer, ...)`` in a process of its own: Ultralytics pickles the callbacks
with cloudpickle, starts ``torch.distributed.run`` with 2 ranks and each rank runs ``_do_train`` (see
tests/ddp/harness.py for the few lines that differ from a GPU run). A probe hook on every rank writes what that
rank saw. A run that does not end within ``TIMEOUT`` is killed with its ranks and fails the test as a hang.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from yolo_hooks.core import compat

if not compat.DDP_WORKERS_GET_CALLBACKS:  # before 8.4.140 DDP ranks get no callbacks: the hooks run on no rank
    pytest.skip("this Ultralytics gives DDP workers no callbacks (8.4.140+ does)", allow_module_level=True)

from tests.conftest import COCO8, _InterruptAt, train  # noqa: E402
from tests.ddp.harness import RANKS, launch  # noqa: E402
from tests.ddp.probes import PROBE_DIR  # noqa: E402
from tests.helpers import KeepStateOfEpoch  # noqa: E402
from yolo_hooks.notify.receiver import WebhookReceiver  # noqa: E402

pytestmark = [pytest.mark.training, pytest.mark.ddp]

TIMEOUT = 420  # seconds for one run on a loaded 2-core machine; a healthy run takes a fraction of it
# batch 2 over 2 ranks: 2 batches per rank and epoch, so a stop flag seen by one rank only after a batch shows
TRAIN = dict(data=str(COCO8), imgsz=64, batch=2, workers=0, plots=False, amp=False, seed=0, deterministic=True,
             verbose=False, device="cpu", name="run", exist_ok=True)
# tests/ddp/probes.py faulty_hooks(): which hooks raise on which rank
FAILING = ({"faulty_early_stop", "faulty_lr_on_plateau", "raises_on_rank_0"}, {"faulty_val_loss_alert", "raises_on_rank_1"})


def ranks_seen(save_dir: Path) -> list[dict]:
    """What each rank's probe recorded, by rank."""
    return [json.loads((save_dir / PROBE_DIR / f"rank{r}.json").read_text()) for r in range(RANKS)]


def training_epochs(probe: dict) -> list[dict]:
    return [e for e in probe["epochs"] if not e["final_eval"]]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def every_hook(tmp_path_factory):
    """4 epochs with every hook, and hooks that raise on one rank only (in every event, or in their own code).

    early_stop stops after epoch 3 (nothing counts as an improvement after epoch 1); lr_on_plateau halves the rate
    after epoch 2; val_loss_alert alerts at epoch 1 (any loss is above 0); notify sends every event to a loopback
    receiver; best_mirror copies every best.pt to a folder.
    """
    tmp = tmp_path_factory.mktemp("ddp_every_hook")
    with WebhookReceiver() as receiver:
        config = tmp / "hooks.yaml"
        config.write_text(
            "fitness_report: {plot: false, console: false}\n"
            "val_loss_alert: {above: 0.0, rise: null, warmup: 0}\n"
            "early_stop: {patience: 2, min_delta: 1.0e+9}\n"
            "lr_on_plateau: {patience: 1, min_delta: 1.0e+9, factor: 0.5}\n"
            f"notify: [{{format: json, url: '{receiver.url}', events: all, progress_every: 1}}]\n"
            f"best_mirror: {{to: '{tmp / 'mirror'}', keep: null}}\n"
        )
        spec = {"hooks": str(config), "probes": {"faults": True, "probe": True},
                "train": dict(TRAIN, epochs=4, project=str(tmp))}
        output = launch(spec, tmp, timeout=TIMEOUT)
        messages = [r["json"] for r in receiver.requests]
    return {"save_dir": tmp / "run", "mirror": tmp / "mirror", "messages": messages, "output": output}


def test_both_ranks_ran_ultralytics_ddp_on_cpu_and_stopped_together_at_the_early_stop_epoch(every_hook):
    save_dir = every_hook["save_dir"]
    rank0, rank1 = ranks_seen(save_dir)
    for r, probe in enumerate((rank0, rank1)):
        assert probe["rank"] == r and probe["world_size"] == RANKS and probe["device"] == "cpu"
        assert probe["sampler"] == "DistributedSampler"
        assert probe["epochs_started"] == [1, 2, 3] and probe["ended_epoch"] == 3
        assert probe["outcome"] == "stopped_early" and probe["stop"] is True
    early_stop = json.loads((save_dir / "early_stop.json").read_text())
    assert early_stop["stopped"] is True and early_stop["epoch"] == 3 and early_stop["reason"] == "patience"


def test_lr_reduction_is_the_same_on_both_ranks(every_hook):
    rank0, rank1 = (training_epochs(p) for p in ranks_seen(every_hook["save_dir"]))
    assert [e["initial_lrs"] for e in rank0] == [e["initial_lrs"] for e in rank1]
    assert [e["base_lrs"] for e in rank0] == [e["base_lrs"] for e in rank1]
    assert [e["lrs"] for e in rank0] == [e["lrs"] for e in rank1]
    first, reduced = rank0[0]["initial_lrs"], rank0[1]["initial_lrs"]  # halved at the end of epoch 2
    assert reduced == [lr * 0.5 for lr in first] and rank0[1]["base_lrs"] == reduced


def test_each_notification_is_received_once(every_hook):
    messages = every_hook["messages"]
    assert len({m["id"] for m in messages}) == len(messages)
    counts = Counter(m["event"] for m in messages)
    reductions = json.loads((every_hook["save_dir"] / "weights" / "lr_on_plateau.state.json").read_text())
    assert counts["train_start"] == 1 and counts["train_end"] == 1 and counts["early_stop"] == 1
    alerts = (every_hook["save_dir"] / "alerts.jsonl").read_text().splitlines()
    assert counts["epoch"] == 3 and counts["alert"] == len(alerts) >= 1  # one per loss above 0 at epoch 1
    assert counts["lr_reduced"] == len(reductions["state"]["reductions"]) >= 1
    assert "crash" not in counts


def test_fitness_csv_has_one_row_per_epoch(every_hook):
    rows = read_csv(every_hook["save_dir"] / "fitness.csv")
    assert [int(float(r["epoch"])) for r in rows] == [1, 2, 3]


def test_mirror_holds_one_verified_copy_per_best(every_hook):
    save_dir, mirror = every_hook["save_dir"], every_hook["mirror"]
    assert sha256(mirror / "best.pt") == sha256(save_dir / "weights" / "best.pt")
    sidecar = json.loads((mirror / "best.json").read_text())
    assert sidecar["sha256"] == sha256(mirror / "best.pt") and sidecar["final"] is True
    done = [m["data"] for m in every_hook["messages"] if m["event"] == "mirror_done"]
    assert len(done) == len({(d["kind"], d["file"], d["epoch"], d["store"]) for d in done})
    versions = sorted(mirror.glob("best-epoch*.pt"))
    assert versions and len({p.name for p in versions}) == len(versions)
    verified = {(d["epoch"], d["sha256"]) for d in done if d["kind"] == "best"}
    assert {(int(p.stem[len("best-epoch"):]), sha256(p)) for p in versions} == verified  # each copy verified, once


def test_hooks_raising_on_one_rank_only_hang_no_rank_and_disturb_no_other_hook(every_hook):
    """The run above ended normally at early_stop's epoch on both ranks with these failures going on; each rank
    saw exactly the failures injected there."""
    rank0, rank1 = ranks_seen(every_hook["save_dir"])
    assert set(rank0["errors"]) == FAILING[0] and set(rank1["errors"]) == FAILING[1]
    real_hooks = {"yolo_hooks", "fitness_report", "val_loss_alert", "early_stop", "lr_on_plateau", "notify",
                  "best_mirror", "ddp_probe"}
    assert not real_hooks & (set(rank0["errors"]) | set(rank1["errors"]))
    # Ultralytics' logger shows only errors on ranks > 0: the failures are logged as errors there, with the rank
    assert "raises_on_rank_1.on_train_start failed on rank 1, training continues" in every_hook["output"]


def test_resume_whose_catch_up_stops_ends_both_ranks_after_the_same_batch(tmp_path):
    """Epochs 1-2 in last.pt, val_loss_alert's state of epoch 1 (as a kill right after last.pt leaves it): resumed
    on 2 ranks with ``action: stop``, its catch-up on epoch 2 (a loss above 0) stops before the first batch."""
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.val_loss.hook import ValLossAlert

    rules = dict(above=0.0, rise=None, warmup=1)  # nothing in warm-up epoch 1, an alert at epoch 2
    kept = tmp_path / "state_of_epoch_1"
    model = YOLO("yolo11n.yaml")
    yolo_hooks.attach(model, ValLossAlert(**rules, action="alert"), KeepStateOfEpoch(1, kept))
    model.add_callback("on_train_epoch_start", _InterruptAt(2))
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, model=model, **dict(TRAIN, epochs=4))
    weights = tmp_path / "run" / "weights"
    shutil.copy(kept / "val_loss_alert.state.json", weights / "val_loss_alert.state.json")

    config = tmp_path / "hooks.yaml"
    config.write_text("val_loss_alert: {above: 0.0, rise: null, warmup: 1, action: stop}\n")
    output = launch({"hooks": str(config), "probes": {"probe": True}, "resume": str(weights / "last.pt")},
                    tmp_path, timeout=TIMEOUT)
    for probe in ranks_seen(tmp_path / "run"):
        assert probe["epochs_started"] == [3] and probe["stop_at_epoch_start"] == [True]  # before the 1st batch
        assert probe["ended_epoch"] == 3 and probe["outcome"] == "stopped_early"
    assert "val_loss_alert caught up on epoch 2" in output and "stopping training after epoch 2" in output


def test_run_control_decisions_reach_both_ranks_together(tmp_path):
    """Rank 0 reads the commands: an extension taken in epoch 1 gives both ranks the new total and the same
    stretched rates; a ``stop --now`` taken after batch 1 of epoch 3 ends both ranks after that same batch."""
    commands = [(0, 1, {"command": "extend", "epochs": 2}), (2, 1, {"command": "stop", "now": True})]
    launch({"probes": {"probe": True, "commands": commands}, "train": dict(TRAIN, epochs=2, project=str(tmp_path))},
           tmp_path, timeout=TIMEOUT)
    rank0, rank1 = ranks_seen(tmp_path / "run")
    for probe in (rank0, rank1):
        assert probe["epochs_started"] == [1, 2, 3] and probe["batches"] == {"1": 2, "2": 2, "3": 1}
        assert [e["total"] for e in training_epochs(probe)] == [4, 4, 4]
        assert probe["outcome"] == "stopped_early" and probe["ended_epoch"] == 3
    assert [e["lrs"] for e in training_epochs(rank0)] == [e["lrs"] for e in training_epochs(rank1)]
    audit = [json.loads(line) for line in (tmp_path / "run" / "control.jsonl").read_text().splitlines()]
    assert [(r["command"], r["result"], r["epoch"]) for r in audit] == [("extend", "done", 1), ("stop", "done", 3)]
