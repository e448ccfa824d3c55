"""What the trackers are told, as plain data: events in, MLflow tags, W&B alerts and summary fields out (tables).

Examples:
    >>> event = {"kind": "early_stop", "source": "early_stop", "severity": "warning", "time": 0.0,
    ...          "message": "val/loss did not improve for 3 epochs", "data": {"epoch": 7}}
    >>> event_tags(event)
    {'yolo_hooks.early_stop': 'epoch 7: val/loss did not improve for 3 epochs'}
    >>> fields = outcome_fields({"status": "stopped_early", "epoch": 7, "epochs": 30}, [event], (4, 0.52), None)
    >>> fields["outcome_reason"]
    'stopped early at epoch 7/30: val/loss did not improve for 3 epochs'
"""

from __future__ import annotations

import json
from typing import Any

from ..notify.formats.render import truncate
from ..notify.message import SEVERITY_RANK

PREFIX = "yolo_hooks"
TAG_LIMIT = 5000  # characters of an MLflow tag value (its server refuses longer ones)
W_LEVELS = {"info": "INFO", "warning": "WARN", "critical": "ERROR"}  # our severities -> wandb.AlertLevel
NOT_NEWS = ("fitness_summary", "val_report", "predict_report", "export_report", "mirror_done")  # no alert, no tag
BEST_KINDS = ("best", "final")  # mirror copies of best.pt (not last.pt, not exports)


def _text(value: Any, limit: int = TAG_LIMIT) -> str:
    return truncate("" if value is None else str(value), limit)


def _at(event: dict[str, Any]) -> str:
    epoch = (event.get("data") or {}).get("epoch")
    return f"epoch {epoch}: " if epoch is not None else ""


def event_tags(event: dict[str, Any]) -> dict[str, str]:
    """MLflow tags for one event, set when it happens: the latest of its kind (``yolo_hooks.<kind>``); a verified
    mirror copy of best.pt as its location and sha256."""
    kind, data = event["kind"], event.get("data") or {}
    if kind == "mirror_done":
        if data.get("kind") not in BEST_KINDS:
            return {}
        return {f"{PREFIX}.mirror": _text(f"{data.get('store')}/{data.get('file')}"),
                f"{PREFIX}.mirror_sha256": _text(data.get("sha256")),
                f"{PREFIX}.mirror_epoch": _text(data.get("epoch"))}
    if kind in NOT_NEWS:
        return {}
    return {f"{PREFIX}.{kind}": _text(_at(event) + str(event.get("message", "")))}


def wants_alert(event: dict[str, Any], minimum: str | None) -> bool:
    """Is ``event`` a W&B alert (severity at least ``minimum``; None: no alerts)?"""
    if minimum is None or event["kind"] in NOT_NEWS:
        return False
    return SEVERITY_RANK.get(event.get("severity", "info"), 0) >= SEVERITY_RANK[minimum]


def alert_args(event: dict[str, Any], wait: float | None = None) -> dict[str, Any]:
    """``wandb.alert`` keywords for ``event``: title (its kind and source), text, level from its severity, and
    ``wait_duration`` (W&B drops an alert of the same title sent sooner) from the hook's ``repeat_every``."""
    data = event.get("data") or {}
    what = " ".join(str(data[k]) for k in ("rule", "loss", "monitor", "store") if data.get(k) is not None)
    title = f"{event['source']}: {what or event['kind'].replace('_', ' ')}"  # W&B holds back a repeated title
    args = {"title": _text(title, 64), "text": _text(_at(event) + str(event.get("message", "")), 1000),
            "level": W_LEVELS.get(event.get("severity", "info"), "INFO")}
    if wait is not None:
        args["wait_duration"] = max(1.0, round(wait, 1))
    return args


def repeat_wait(repeat_every: int | None, epoch: int | None, elapsed: float) -> float | None:
    """Seconds W&B should hold an alert of the same title: a little less than ``repeat_every`` epochs (at the mean
    epoch time so far), so that each repeat of ours gets through and nothing sooner; None: W&B's default."""
    if not repeat_every or not epoch or elapsed <= 0:
        return None
    return 0.9 * repeat_every * elapsed / epoch


def outcome_fields(outcome: dict[str, Any], events: list[dict[str, Any]], best: tuple[int, float] | None,
                   summary: dict[str, Any] | None) -> dict[str, Any]:
    """How the run ended, for MLflow tags and W&B summary fields: status, a sentence saying why, the epoch it
    stopped at, the best epoch and fitness, the verified mirror copy of best.pt."""
    status, epoch, epochs = outcome.get("status"), outcome.get("epoch"), outcome.get("epochs")
    stops = [e for e in events if e["kind"] == "early_stop"]
    at = f" at epoch {epoch}/{epochs}" if epoch is not None and epochs else ""
    if status == "stopped_early":
        why = stops[-1]["message"] if stops else (outcome.get("message") or "Ultralytics' patience")
        reason = f"stopped early{at}: {why}"
    elif status == "crashed":
        reason = f"crashed{at}: {outcome.get('exc_type')}: {outcome.get('message')}"
    elif status == "interrupted":
        reason = f"interrupted{at}"
    else:
        reason = f"finished all {epochs} epochs" if epochs else "finished"
    fields: dict[str, Any] = {"outcome": status, "outcome_reason": _text(reason), "stopped_epoch": epoch,
                              "alerts": sum(e["kind"] == "alert" for e in events)}
    if summary:  # fitness_report's summary, when attached: its best, counted as it counts
        best = (summary.get("best_epoch"), summary.get("best_fitness")) if summary.get("best_epoch") else best
    if best:
        fields.update(best_epoch=best[0], best_fitness=best[1])
    mirrored = [e["data"] for e in events
                if e["kind"] == "mirror_done" and (e.get("data") or {}).get("kind") in BEST_KINDS]
    if mirrored:
        fields.update(mirror=f"{mirrored[-1].get('store')}/{mirrored[-1].get('file')}",
                      mirror_sha256=mirrored[-1].get("sha256"))
    return {k: v for k, v in fields.items() if v is not None}


def as_tags(fields: dict[str, Any]) -> dict[str, str]:
    """``outcome_fields`` as MLflow tags (``yolo_hooks.outcome``...)."""
    return {f"{PREFIX}.{k}": _text(v) for k, v in fields.items()}


def as_summary(fields: dict[str, Any]) -> dict[str, Any]:
    """``outcome_fields`` as W&B summary keys (``yolo_hooks/outcome``...)."""
    return {f"{PREFIX}/{k}": v for k, v in fields.items()}


def events_jsonl(events: list[dict[str, Any]]) -> str:
    """Every event of the run, one JSON object a line (the ``yolo_hooks/events.jsonl`` artifact)."""
    from ..notify.message import json_ready  # a diverging loss is NaN: strict JSON says "nan"

    return "".join(json.dumps(json_ready(e), allow_nan=False) + "\n" for e in events)


def alerts_text(events: list[dict[str, Any]]) -> str:
    """One line per event that is not plain information (the ``yolo_hooks/alerts.txt`` artifact)."""
    lines = [f"{e['severity'].upper():8} {e['kind']:16} {_at(e)}{e.get('message', '')}  [{e['source']}]"
             for e in events if e.get("severity") != "info" and e["kind"] not in NOT_NEWS]
    return "\n".join(lines) + "\n" if lines else "no alerts\n"
