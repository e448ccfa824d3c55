"""Where a run stands, from its folder alone: alive or not, epoch and total, fitness and best, ETA, active val-loss
alerts, early stop's wait counter, the last verified mirror copies, messages waiting in the outbox, the last
commands. ``yolo-hooks status``, Telegram's ``/status`` and a signed ``status`` request all answer with it, for a
live, finished or killed run alike (it reads files only: the marker, fitness.jsonl or results.csv, the hooks'
state files, control.jsonl, the outbox).

Examples:
    >>> print(status_text(read_status("runs/detect/train7")))  # doctest: +SKIP
    train7: running (pid 4242 on gpu1), epoch 4/15 (extended from 10)
      fitness 0.4123, best 0.4301 at epoch 3; about 12m00s left
      ...
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..core import marker as run_marker
from ..core.files import read_json, read_jsonl
from ..core.numbers import finite, format_duration
from ..core.recorded import results_rows
from ..core.run_info import HOST, process_alive
from .inbox import read_audit

STATE = "weights/control.state.json"  # the control hook's state (its name is ``control``)
FITNESS = "fitness.jsonl"
OUTBOX = "notify_outbox.jsonl"


def liveness(marker: dict[str, Any] | None) -> tuple[str, bool]:
    """(what the marker says, whether the run can still take commands): running here (pid alive), running on another
    host (cannot be checked from here: it may take them), killed, ended, or no marker."""
    if not marker:
        return "no yolo_hooks marker (not a run with hooks attached, or it never started)", False
    status, pid, host = marker.get("status"), marker.get("pid"), marker.get("host")
    if status == "running":
        if host != HOST:
            return f"running on {host} (pid {pid}; not checkable from {HOST})", True
        if process_alive(pid):
            return f"running (pid {pid} on {host})", True
        return f"killed (pid {pid} on {host} is gone; `yolo-hooks recover` finishes it, resume=True goes on)", False
    if status == "killed":
        return "killed (recovered)", False
    ended = marker.get("ended")
    when = time.strftime(" at %Y-%m-%d %H:%M", time.localtime(ended)) if finite(ended) else ""
    return f"ended: {status}{when}", False


def _control_state(run_dir: Path) -> dict[str, Any]:
    saved = read_json(run_dir / STATE)
    return saved.get("state") or {} if isinstance(saved, dict) else {}


def _hook_state(run_dir: Path, name: str) -> dict[str, Any]:
    saved = read_json(run_dir / "weights" / f"{name}.state.json")
    return saved.get("state") or {} if isinstance(saved, dict) else {}


def _epochs(run_dir: Path, marker: dict[str, Any], control: dict[str, Any], records: list[dict]) -> int | None:
    schedule = control.get("schedule") or {}
    knots = schedule.get("knots") or []
    if knots:
        return int(knots[-1][1])
    if records and records[-1].get("epochs"):
        return int(records[-1]["epochs"])
    if marker.get("epochs"):
        return int(marker["epochs"])
    try:
        import yaml

        args = yaml.safe_load((run_dir / "args.yaml").read_text(encoding="utf-8")) or {}
        return int(args.get("epochs")) if isinstance(args, dict) and args.get("epochs") else None
    except (OSError, ValueError, TypeError, yaml.YAMLError):
        return None


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """Everything the run's folder tells about it, as plain data (see :func:`status_text`)."""
    run_dir = Path(run_dir)
    marker = run_marker.read(run_dir) or {}
    said, takes_commands = liveness(marker or None)
    control = _control_state(run_dir)
    records = [r for r in read_jsonl(run_dir / FITNESS) if r.get("phase", "train") == "train"]
    rows = results_rows(run_dir)
    last = records[-1] if records else None
    epoch = last["epoch"] if last else (max(rows) if rows else None)
    status: dict[str, Any] = {
        "run": run_dir.name, "folder": str(run_dir), "state": said, "takes_commands": takes_commands,
        "status": marker.get("status"), "pid": marker.get("pid"), "host": marker.get("host"),
        "epoch": epoch, "epochs": _epochs(run_dir, marker, control, records),
        "extended_from": (control.get("schedule") or {}).get("epochs") if (control.get("schedule") or {}).get("knots")
        else None,
    }
    if last:
        status.update(fitness=last.get("fitness"), best_fitness=last.get("best_fitness"),
                      best_epoch=last.get("best_epoch"))
        eta = last.get("eta")
        stamp = (run_dir / FITNESS).stat().st_mtime if (run_dir / FITNESS).exists() else time.time()
        if finite(eta) and takes_commands:
            status["eta"] = max(0.0, eta - (time.time() - stamp))
    elif rows:
        row = rows[max(rows)]
        status["metrics"] = {k: v for k, v in row.items() if k.startswith("metrics/")}
        eta = _eta_from_results(run_dir, rows, status["epochs"])
        if eta is not None and takes_commands:
            status["eta"] = eta
    alerts = _hook_state(run_dir, "val_loss_alert").get("active") or {}
    status["alerts"] = [{"rule": key.split("|", 1)[0], "loss": key.split("|", 1)[-1], "since": value.get("since")}
                        for key, value in alerts.items() if isinstance(value, dict)]
    early = _hook_state(run_dir, "early_stop")
    if early:
        tracker = early.get("tracker") or {}
        patience = (control.get("patience") or {}).get("early_stop", early.get("patience"))
        status["early_stop"] = {"wait": tracker.get("wait_count"), "patience": patience,
                                "best": tracker.get("best"), "best_epoch": tracker.get("best_epoch")}
    status["mirrored"] = control.get("mirrored") or {}
    status["outbox"] = _outbox_count(run_dir)
    status["stop"] = control.get("stop")
    status["commands"] = read_audit(run_dir)[-3:]
    return status


def _eta_from_results(run_dir: Path, rows: dict[int, dict[str, str]], epochs: int | None) -> float | None:
    """Seconds left, from results.csv's ``time`` column (seconds since the process' training start) when there is
    no fitness report: the last epoch's duration times the epochs left, less the time since it was written."""
    last = max(rows)
    try:
        now, before = float(rows[last]["time"]), float(rows[last - 1]["time"]) if last - 1 in rows else 0.0
    except (KeyError, TypeError, ValueError):
        return None
    if not epochs or now <= before:
        return None
    since = time.time() - (run_dir / "results.csv").stat().st_mtime
    return max(0.0, (now - before) * (epochs - last) - since)


def _outbox_count(run_dir: Path) -> int:
    try:
        from ..notify.outbox import read

        records, _ = read(run_dir / OUTBOX)
        return len(records)
    except (OSError, ValueError):
        return 0


def _number(value: Any) -> str:
    return f"{value:.4f}" if finite(value) else "-"


def status_text(status: dict[str, Any]) -> str:
    """The status as a few lines of plain text (the CLI prints it; Telegram sends it)."""
    total = status.get("epochs")
    epoch = status.get("epoch")
    where = f"epoch {epoch if epoch is not None else 0}/{total if total else '?'}"
    if status.get("extended_from"):
        where += f" (extended from {status['extended_from']})"
    lines = [f"{status['run']}: {status['state']}, {where}"]
    if "fitness" in status:
        line = f"fitness {_number(status.get('fitness'))}, best {_number(status.get('best_fitness'))}"
        line += f" at epoch {status['best_epoch']}" if status.get("best_epoch") else ""
        if status.get("eta") is not None:
            line += f"; about {format_duration(status['eta'])} left"
        lines.append(line)
    elif status.get("metrics"):
        line = ", ".join(f"{k.split('/', 1)[-1]} {_number(float(v) if v else None)}"
                         for k, v in status["metrics"].items())
        lines.append(line + (f"; about {format_duration(status['eta'])} left" if status.get("eta") is not None else ""))
    alerts = status.get("alerts") or []
    lines.append("val-loss alerts: " + (", ".join(f"{a['loss']} {a['rule']} since epoch {a['since']}" for a in alerts)
                                        if alerts else "none active"))
    early = status.get("early_stop")
    if early:
        best = f", best {_number(early.get('best'))} at epoch {early.get('best_epoch')}" if early.get("best_epoch") else ""
        lines.append(f"early_stop: wait {early.get('wait')}/{early.get('patience') or '?'}{best}")
    for _, copy in sorted((status.get("mirrored") or {}).items()):
        when = time.strftime("%H:%M:%S", time.localtime(copy.get("time", 0)))
        lines.append(f"mirror: {copy.get('file')} (epoch {copy.get('epoch')}) verified in {copy.get('store')} at "
                     f"{when}, sha256 {str(copy.get('sha256'))[:12]}")
    if status.get("outbox"):
        lines.append(f"outbox: {status['outbox']} message(s) waiting (yolo-hooks outbox replay dir={status['folder']})")
    if status.get("stop"):
        stop = status["stop"]
        lines.append(f"stop requested by {stop.get('from')}" + (f": {stop.get('reason')}" if stop.get("reason") else ""))
    for record in status.get("commands") or []:
        when = time.strftime("%H:%M:%S", time.localtime(record.get("time", 0)))
        lines.append(f"{when} {record.get('command')} from {record.get('from')}: {record.get('text')}")
    return "\n".join(lines)


def status_plot(run_dir: str | Path) -> bytes | None:
    """The fitness plot of the run so far as PNG bytes (from fitness.jsonl), or None when there is nothing to plot."""
    import tempfile

    run_dir = Path(run_dir)
    records = [r for r in read_jsonl(run_dir / FITNESS) if r.get("phase", "train") == "train"]
    if not records:
        return None
    from ..fitness.plot import plot_fitness

    with tempfile.TemporaryDirectory(prefix="yolo_hooks_status_") as tmp:
        path = plot_fitness(records, Path(tmp) / "fitness.png", title=f"{run_dir.name}: epoch {records[-1]['epoch']}")
        return path.read_bytes()
