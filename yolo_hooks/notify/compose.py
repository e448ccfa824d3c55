"""What is worth telling, as :class:`Message` s: pure functions over snapshots, outcomes and bus records.

Nothing here sends, sleeps or touches the trainer beyond reading a few attributes once: the :class:`Notify` hook
calls these on the training thread (each costs microseconds) and hands the result to its background delivery.

Examples:
    >>> from yolo_hooks.core.run import RunOutcome
    >>> m = crash_message(RunOutcome("crashed", "RuntimeError", "CUDA out of memory", 3, 10), {"name": "train7"})
    >>> m.event, m.severity, m.title
    ('crash', 'critical', '💥 Training crashed — train7')
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ..core.bus import Published
from ..core.numbers import format_duration
from ..core.run import EpochSnapshot, RunOutcome
from ..core.run_info import HOST
from .message import EVENTS as MESSAGE_EVENTS
from .message import SEVERITY_RANK, Message, message_id

# Events a destination can choose (``test`` is only sent by ``yolo-hooks notify-test``).
EVENTS = tuple(e for e in MESSAGE_EVENTS if e != "test")
# Reports of model.val() / predict() / export(): sent only to a destination that names them (a video loop calls
# predict once per frame; nobody wants that in a chat unless they asked for it).
REPORT_EVENTS = ("val_report", "predict_report", "export_report")
# `events: all`: every training event.
ALL_EVENTS = tuple(e for e in EVENTS if e not in REPORT_EVENTS)
# Without `events:` a destination gets everything but the chatty ones: per-epoch progress is switched on by
# `progress_every` / `progress_minutes`, a mirrored best.pt is news only when it fails, and the end of a detection
# event is for a receiver that asks for it (to update the alert it showed). A run-control command is news to whoever
# chose to follow `control` (the chat that sent it gets the answer anyway).
DEFAULT_EVENTS = tuple(e for e in ALL_EVENTS if e not in {"epoch", "mirror_done", "detection_end", "control"})
# Bus kinds published by the other hooks that become a message of their own.
BUS_EVENTS = frozenset(EVENTS) & {
    "alert", "alert_recovered", "early_stop", "lr_reduced", "mirror_done", "mirror_failed",
    "val_report", "predict_report", "export_report", "detection", "detection_end", "nan_recovered", "stalled",
    "progress_resumed", "control",
}  # fmt: skip
BUS_ICONS = {
    "alert": "⚠️",
    "alert_recovered": "✅",
    "early_stop": "⏹️",
    "lr_reduced": "📉",
    "mirror_done": "💾",
    "mirror_failed": "❌",
    "val_report": "📊",
    "predict_report": "🔎",
    "export_report": "📦",
    "detection": "📸",
    "detection_end": "🏁",
    "nan_recovered": "🩹",
    "stalled": "🐌",
    "progress_resumed": "▶️",
    "control": "🎛️",
}
BUS_TITLES = {
    "alert": "Validation-loss alert",
    "alert_recovered": "Validation loss recovered",
    "early_stop": "Stopping early",
    "lr_reduced": "Learning rate reduced",
    "mirror_done": "{file} mirrored",  # the file it is about: best.pt, last.pt, an export
    "mirror_failed": "Mirroring {file} failed",
    "val_report": "Validation results",
    "predict_report": "Prediction results",
    "export_report": "Export finished",
    "detection": "Detection alert",
    "detection_end": "Detection event over",
    "nan_recovered": "NaN loss: reloaded last.pt",
    "stalled": "Training stalled",
    "progress_resumed": "Training progressing again",
    "control": "Run control",
}


def _bus_title(event: Published) -> str:
    """The title of another hook's record; a mirror's names its file (``last.pt mirrored``)."""
    title = BUS_TITLES.get(event.kind, event.kind.replace("_", " ").capitalize())
    return title.format(file=event.data.get("file") or "a file") if "{file}" in title else title


def severity_at_least(severity: str, minimum: str) -> bool:
    """True when ``severity`` ranks at or above ``minimum`` (info < warning < critical)."""
    return SEVERITY_RANK.get(severity, 0) >= SEVERITY_RANK.get(minimum, 0)


def _name(run: Mapping[str, str]) -> str:
    tune = f" ({run['tune']})" if run.get("tune") else ""
    return f" — {run['name']}{tune}" if run.get("name") else tune


def _number(value: Any, digits: int = 4) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    return f"{value:.6g}" if abs(value) >= 1000 else f"{value:.{digits}f}"


def _metric_fields(metrics: Mapping[str, float]) -> dict[str, str]:
    """``metrics/mAP50-95(B)`` -> ``mAP50-95(B)``: the validation metrics as short labels."""
    return {key.split("/", 1)[-1]: _number(value) for key, value in metrics.items()}


def train_start_message(trainer: Any, run: dict[str, str]) -> Message:
    """Training started: model, data, device, epochs (and where it resumes from)."""
    args = trainer.args
    epochs, start = int(getattr(trainer, "epochs", 0) or 0), int(getattr(trainer, "start_epoch", 0) or 0)
    fields = {"Model": run.get("model", ""), "Data": run.get("data", ""), "Epochs": str(epochs)}
    if start:
        fields["Resumed at epoch"] = f"{start + 1}/{epochs}"
    fields.update({"Device": run.get("device", ""), "Image size": str(getattr(args, "imgsz", "")),
                   "Batch": str(getattr(args, "batch", "")), "Host": run.get("host", "")})
    text = f"{run.get('model', 'model')} on {run.get('data', 'data')}: {epochs} epochs on {run.get('device', '?')}"
    text += f", resuming at epoch {start + 1}" if start else ""
    return Message(
        id=message_id(run, "train_start", start),
        event="train_start",
        severity="info",
        title=f"🚀 Training {'resumed' if start else 'started'}{_name(run)}",
        text=text + f" ({run.get('host', '')}).",
        fields={k: v for k, v in fields.items() if v},
        run=run,
        data={"epochs": epochs, "start_epoch": start + 1, "imgsz": getattr(args, "imgsz", None),
              "batch": getattr(args, "batch", None), "task": getattr(args, "task", None)},
    )


def epoch_message(snap: EpochSnapshot, run: dict[str, str]) -> Message:
    """Progress after a training epoch: fitness, metrics, losses, time left."""
    done = max(1, snap.epoch - snap.start_epoch)
    eta = snap.elapsed / done * (snap.epochs - snap.epoch)
    fields = {"Epoch": f"{snap.epoch}/{snap.epochs}", "Fitness": _number(snap.fitness),
              "Best": f"{_number(snap.best_fitness)} (epoch {snap.best_epoch})" if snap.best_epoch
              else _number(snap.best_fitness)}
    fields.update(_metric_fields(snap.metrics))
    if snap.val_loss_total is not None:
        fields["Val loss"] = _number(snap.val_loss_total)
    fields["Elapsed"], fields["Time left"] = format_duration(snap.elapsed, missing=""), format_duration(eta, missing="")
    return Message(
        id=message_id(run, "epoch", snap.epoch),
        event="epoch",
        severity="info",
        title=f"📈 Epoch {snap.epoch}/{snap.epochs}{_name(run)}",
        text=f"Fitness {_number(snap.fitness)}, {format_duration(eta, missing='')} left.",
        fields={k: v for k, v in fields.items() if v},
        run=run,
        data={"epoch": snap.epoch, "epochs": snap.epochs, "fitness": snap.fitness, "best_fitness": snap.best_fitness,
              "metrics": snap.metrics, "val_losses": snap.val_losses, "train_losses": snap.train_losses,
              "lr": snap.lr, "elapsed": snap.elapsed, "eta": eta},
    )


def new_best_message(snap: EpochSnapshot, previous: float | None, run: dict[str, str]) -> Message:
    """A new best fitness (best.pt was just rewritten)."""
    fields = {"Epoch": f"{snap.epoch}/{snap.epochs}", "Fitness": _number(snap.fitness)}
    if previous is not None:
        fields["Previous best"] = _number(previous)
    fields.update(_metric_fields(snap.metrics))
    change = f"up from {_number(previous)}" if previous is not None else "first best"
    return Message(
        id=message_id(run, "new_best", snap.epoch),
        event="new_best",
        severity="info",
        title=f"🏆 New best fitness {_number(snap.fitness)}{_name(run)}",
        text=f"Epoch {snap.epoch}/{snap.epochs}: fitness {_number(snap.fitness)} ({change}); best.pt updated.",
        fields=fields,
        run=run,
        data={"epoch": snap.epoch, "epochs": snap.epochs, "fitness": snap.fitness, "previous_best": previous,
              "metrics": snap.metrics, "best_path": str(snap.best_path)},
    )


def published_message(event: Published, run: dict[str, str]) -> Message:
    """A record from another hook (alert, early stop, LR reduction, mirror, val/predict/export report)."""
    if event.kind in ("detection", "detection_end"):
        return detection_message(event, run)
    icon = "🚨" if event.kind == "alert" and event.severity == "critical" else BUS_ICONS.get(event.kind, "🔔")
    title = _bus_title(event)
    fields = {}
    for key, value in event.data.items():
        if isinstance(value, (str, int, float, bool)) and value != "":
            fields[key.replace("_", " ").capitalize()] = _number(value)
    return Message(
        id=message_id(run, "published", event.id),
        event=event.kind,
        severity=event.severity,
        title=f"{icon} {title}{_name(run)}",
        text=event.message,
        fields=dict(list(fields.items())[:12]),
        run=run,
        data={**event.data, "source": event.source, "published_id": event.id},
    )


def train_end_message(
    outcome: RunOutcome, final: EpochSnapshot | None, summary: Mapping[str, Any] | None, run: dict[str, str],
) -> Message:
    """Training finished or stopped early: best fitness and epoch, final metrics of best.pt, the run's duration."""
    early, duration = outcome.status == "stopped_early", outcome.duration
    epochs = f"{outcome.epoch}/{outcome.epochs}" if outcome.epoch is not None else ""
    fields = {"Epochs": epochs}
    text = "Stopped early" if early else "Finished"
    text += f" after {epochs} epochs" if epochs else ""
    text += f" ({outcome.stopped_by})" if outcome.stopped_by else ""
    text += f" in {format_duration(duration, missing='')}" if duration else ""
    data: dict[str, Any] = {"status": outcome.status, "epoch": outcome.epoch, "epochs": outcome.epochs,
                            "duration": duration}
    if outcome.stopped_by:
        fields["Stopped by"] = outcome.stopped_by
        data["stopped_by"] = outcome.stopped_by
    if final is not None:
        best_epoch = final.best_epoch or None  # 1-based, as Ultralytics' stopper counts
        fields["Best fitness"] = _number(final.best_fitness)
        if best_epoch is not None:
            fields["Best epoch"] = str(best_epoch)
        fields.update(_metric_fields(final.metrics))
        fields["Weights"] = str(final.best_path)
        text += f"; best fitness {_number(final.best_fitness)}" + (f" at epoch {best_epoch}" if best_epoch else "")
        data.update({"best_fitness": final.best_fitness, "best_epoch": best_epoch, "metrics": final.metrics,
                     "best_path": str(final.best_path)})
    fields["Duration"] = format_duration(duration, missing="")
    if summary:
        data["summary"] = dict(summary)
    return Message(
        id=message_id(run, "train_end", outcome.status, outcome.epoch),
        event="train_end",
        severity="info",
        title=f"{'⏹️ Training stopped early' if early else '✅ Training finished'}{_name(run)}",
        text=text + ".",
        fields={k: v for k, v in fields.items() if v},
        run=run,
        data=data,
    )


def crash_message(outcome: RunOutcome, run: dict[str, str], facts: Mapping[str, Any] | None = None) -> Message:
    """Training crashed (exception type and message) or was interrupted (Ctrl-C, SIGTERM, preemption).

    ``facts`` (:func:`yolo_hooks.recovery.forensics.crash_facts`) adds the last traceback lines, versions, device, best
    fitness and epoch, where last.pt / best.pt are (locally and mirrored), NaN recoveries and the resume command.
    """
    from ..recovery.forensics import fact_lines

    facts = dict(facts or {})
    interrupted = outcome.status == "interrupted"
    where = f" at epoch {outcome.epoch}/{outcome.epochs}" if outcome.epoch is not None else " before the first epoch"
    error = f"{outcome.exc_type}: {outcome.message}" if outcome.message else str(outcome.exc_type)
    text = f"{'Interrupted' if interrupted else 'Crashed'}{where}: {error}"
    if facts.get("nan_recoveries"):
        text += f" (the loss stayed NaN/Inf: last.pt was reloaded {min(facts['nan_recoveries'], 3)} of 3 times)"
    if facts.get("resume"):
        text += f"\nResume: {facts['resume']}"
    fields = {"Epoch": f"{outcome.epoch}/{outcome.epochs}" if outcome.epoch is not None else "",
              "Error": error, "Duration": format_duration(outcome.duration, missing=""), "Host": run.get("host", "")}
    fields.update(fact_lines(facts))
    if facts.get("traceback"):
        fields["Traceback"] = "\n".join(facts["traceback"][-4:])
    return Message(
        id=message_id(run, outcome.status, outcome.epoch, outcome.exc_type),
        event="interrupt" if interrupted else "crash",
        severity="warning" if interrupted else "critical",
        title=f"{'⏹️ Training interrupted' if interrupted else '💥 Training crashed'}{_name(run)}",
        text=text,
        fields={k: v for k, v in fields.items() if v},
        run=run,
        data={"status": outcome.status, "exc_type": outcome.exc_type, "message": outcome.message,
              "epoch": outcome.epoch, "epochs": outcome.epochs, "duration": outcome.duration, "forensics": facts},
    )


def killed_message(facts: Mapping[str, Any], run: dict[str, str], message_id: str) -> Message:
    """A run found killed (SIGKILL, OOM killer, lost machine) by ``yolo-hooks recover`` or a later run.

    ``message_id`` is derived from the run: a second recovery, or a replay, sends the same id.
    """
    from ..recovery.forensics import fact_lines

    epoch, epochs = facts.get("last_completed_epoch"), facts.get("epochs")
    seen = f"after epoch {epoch}/{epochs}" if epoch is not None else "before its first epoch ended"
    text = f"The training process was killed {seen}, during {facts.get('killed_during', '?')}."
    if facts.get("training_done"):
        text += " Every epoch had finished: weights/best.pt is the final model."
    if facts.get("resume"):
        text += f"\nGo on with: {facts['resume']}"
    return Message(
        event="killed",
        severity="critical",
        title=f"💀 Training killed{_name(run)}",
        text=text,
        fields={"Host": str(facts.get("host") or ""), **fact_lines(dict(facts))},
        run=run,
        data={"status": "killed", "epoch": epoch, "epochs": epochs, "forensics": dict(facts)},
        id=message_id,
    )


def probe_message(destination: str) -> Message:
    """What ``yolo-hooks notify-test`` sends."""
    return Message(
        event="test",
        severity="info",
        title="🔔 yolo_hooks test message",
        text=f"If you can read this, notifications to {destination} work.",
        fields={"Destination": destination, "Host": HOST},
        run={"host": HOST},
        data={"destination": destination},
    )


def detection_message(event: Published, run: dict[str, str]) -> Message:
    """A detection alert (``detection``) or the end of its event (``detection_end``): what was seen, by which
    camera, where and when, under the event's id (a receiver updates the alert it showed instead of adding one);
    ``data["image"]`` is the image's path (the alert's frame; an end's best frame): the formats that can upload
    files attach it when sending, the others name it, with its mirrored URL when there is one."""
    data = event.data
    rule = str(data.get("rule") or event.source)
    ended = event.kind == "detection_end"
    icon = BUS_ICONS["detection_end"] if ended else "🚨" if event.severity == "critical" else BUS_ICONS["detection"]
    camera = str(data.get("camera") or "")
    fields = {"Rule": rule, "Camera": camera, "Source": Path(str(data.get("source") or "")).name}
    if ended:
        fields["Duration"] = format_duration(float(data.get("duration") or 0.0))
        fields["Frames"] = f"{data.get('start_frame')}-{data.get('end_frame')} ({data.get('frames')} seen)"
        fields["Best confidence"] = f"{data.get('best_conf')} (frame {data.get('best_frame')})"
    elif data.get("video_time") is not None:
        fields["Video time"] = f"{float(data['video_time']):.1f} s (frame {data.get('frame_index')})"
    else:
        fields["Frame"] = str(data.get("frame_index", ""))
    counts = data.get("counts") or {}
    if counts:
        fields["Seen"] = ", ".join(f"{n} {c}" for c, n in counts.items())
    if data.get("track_ids"):
        fields["Tracks"] = ", ".join(str(t) for t in data["track_ids"][:20])
    for key, label in (("image_url", "Image"), ("sheet_url", "Contact sheet"), ("clip_url", "Clip")):
        if data.get(key):
            fields[label] = str(data[key])
    if "Image" not in fields and data.get("image"):
        fields["Image"] = Path(str(data["image"])).name
    if data.get("event_id"):
        fields["Event"] = str(data["event_id"]) + (f" (update {data['update']})" if (data.get("update") or 1) > 1 else "")
    if data.get("note"):
        fields["Note"] = str(data["note"])
    where = f" — {camera}" if camera else ""
    return Message(
        event=event.kind,
        severity=event.severity,
        title=f"{icon} {rule}{where}{' (over)' if ended else ''}{_name(run)}",
        text=event.message,
        fields={k: v for k, v in fields.items() if v},
        run=run,
        data={**data, "source_hook": event.source, "published_id": event.id},
    )
