"""What the folder of a killed run tells: how far it got, where its weights are, and its summary.

:func:`killed_facts` reads the run folder (results.csv, fitness.jsonl, the checkpoints, the marker) into the same
facts a crash gives in ``teardown`` (:func:`yolo_hooks.recovery.forensics.crash_facts`); :func:`write_summary`
writes ``fitness_summary.json`` with status ``killed`` from them, unless the run (or an earlier recovery) did.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..core.files import atomic_write_json, read_json
from ..core.recorded import results_rows
from ..core.run import RunOutcome, to_float
from ..core.run_info import versions
from .forensics import resume_command


def _checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        import torch

        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:
        return None
    return {"epoch": ckpt.get("epoch"), "best_fitness": to_float(ckpt.get("best_fitness")),
            "stripped": ckpt.get("optimizer") is None}


def killed_facts(run_dir: Path, marker: dict[str, Any]) -> dict[str, Any]:
    """What the folder tells about a killed run: last epoch, best fitness and epoch, where the weights are."""
    from ..fitness.files import JSONL_NAME, read_epoch_records

    records = [r for r in read_epoch_records(run_dir / JSONL_NAME) if r.get("phase", "train") == "train"]
    rows = results_rows(run_dir)
    last_epoch = max([*rows, *(r["epoch"] for r in records)], default=None)
    args = _args(run_dir)
    epochs = marker.get("epochs") or args.get("epochs")
    last, best = run_dir / "weights" / "last.pt", run_dir / "weights" / "best.pt"
    last_ckpt = _checkpoint(last)
    after_training = bool(last_ckpt and last_ckpt["stripped"])  # Ultralytics strips last.pt in its final evaluation
    best_record = next((r for r in reversed(records) if r.get("epoch") == (records[-1].get("best_epoch"))), None) \
        if records else None
    best_ckpt = None if best_record else _checkpoint(best)
    resumable = bool(last_ckpt and not last_ckpt["stripped"])
    outcome = marker.get("outcome")  # the marker said `ending`: killed during the end-of-run work
    if outcome:
        killed_during = f"the end of the run (training {outcome.replace('_', ' ')}; its uploads and deliveries were " \
                        f"under way)"
    elif after_training:
        killed_during = "the end of the run (final validation of best.pt or on_train_end)"
    else:
        killed_during = f"epoch {(last_epoch or 0) + 1}"
    after_training = after_training or outcome in {"finished", "stopped_early"}
    return {
        "exc_type": "SIGKILL",
        "message": "the process was killed (no exception reached Python: SIGKILL, OOM killer, lost machine)",
        "traceback": [],
        **{k: v for k, v in versions().items() if k == "yolo_hooks"},
        "host": marker.get("host"),
        "pid": marker.get("pid"),
        "device": str(args.get("device") or ""),
        "duration": _duration(run_dir, marker),
        "last_completed_epoch": last_epoch,
        "epochs": epochs,
        "killed_during": killed_during,
        "best_fitness": best_record.get("best_fitness") if best_record else (best_ckpt or {}).get("best_fitness"),
        "best_epoch": best_record.get("epoch") if best_record else None,
        "last_pt": str(last) if last.is_file() else None,
        "best_pt": str(best) if best.is_file() else None,
        "training_done": after_training,
        "resumable": resumable,
        "resume": None if after_training else resume_command(last, resumable, None, run_dir),
    }


def _duration(run_dir: Path, marker: dict[str, Any]) -> float | None:
    """The run's duration (as :func:`yolo_hooks.core.run.run_duration` measures it) up to the last file its training
    wrote: results.csv, last.pt, best.pt or the fitness records."""
    start = marker.get("train_start") or marker.get("started")
    traces = [run_dir / "results.csv", run_dir / "weights" / "last.pt", run_dir / "weights" / "best.pt",
              run_dir / "fitness.jsonl"]
    ends = [p.stat().st_mtime for p in traces if p.is_file()]
    if not isinstance(start, (int, float)) or not ends:
        return None
    return float(marker.get("time_before") or 0.0) + max(0.0, max(ends) - start)


def _args(run_dir: Path) -> dict[str, Any]:
    try:
        import yaml

        args = yaml.safe_load((run_dir / "args.yaml").read_text(encoding="utf-8"))
    except Exception:
        return {}
    return args if isinstance(args, dict) else {}


def write_summary(run_dir: Path, marker: dict[str, Any], facts: dict[str, Any]) -> str:
    """``fitness_summary.json`` with status ``killed``, unless the run wrote its own before it died."""
    from ..fitness.files import JSONL_NAME, SUMMARY_NAME, read_epoch_records
    from ..fitness.record import build_summary

    path = run_dir / SUMMARY_NAME
    existing = read_json(path)
    if isinstance(existing, dict) and path.stat().st_mtime >= float(marker.get("started") or 0):
        if existing.get("recovered"):  # an earlier recovery, itself killed before it recorded its work
            return f"{SUMMARY_NAME} was written by an earlier recovery (status {existing.get('status')}): kept"
        return f"{SUMMARY_NAME} was written by the run itself (status {existing.get('status')}): kept"
    every = read_epoch_records(run_dir / JSONL_NAME)
    records = [r for r in every if r.get("phase", "train") == "train"]
    final = next((r for r in reversed(every) if r.get("phase") == "final"), None)
    outcome = RunOutcome("killed", "SIGKILL", facts["message"], facts["last_completed_epoch"], facts["epochs"],
                         facts["duration"])
    summary = build_summary(records, final, outcome, save_dir=str(run_dir), files={"summary": str(path)})
    if not records:  # no fitness_report in the run: the numbers results.csv and best.pt give
        summary.update(last_epoch=facts["last_completed_epoch"], best_fitness=facts["best_fitness"],
                       best_epoch=facts["best_epoch"], epochs_run=facts["last_completed_epoch"] or 0)
    if facts["last_completed_epoch"]:  # results.csv is written before last.pt; the fitness record after it
        summary["last_epoch"] = max(summary.get("last_epoch") or 0, facts["last_completed_epoch"])
    summary["forensics"] = facts
    summary["recovered"] = time.time()
    atomic_write_json(path, summary)
    return f"{SUMMARY_NAME} written: status killed, last epoch {summary['last_epoch']}/{summary['epochs']}"
