"""One text model for every notification service.

A :class:`Message` is what the notifier decided to say (an event, a severity, a short title, a few lines of text,
ordered key/value facts and the run it is about). Each service module in :mod:`yolo_hooks.notify.formats` turns it
into that service's payload; none of them needs anything but the message and its own options.

Examples:
    >>> m = Message(event="new_best", severity="info", title="New best — train7", text="Fitness rose.",
    ...             fields={"Epoch": "3/10", "Fitness": "0.5123"}, run={"name": "train7"})
    >>> Message.from_dict(m.as_dict()) == m
    True
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from pathlib import PurePath
from typing import Any, Mapping

from ..core.bus import SEVERITIES  # one list of severities for the bus and the messages
from ..core.redact import has_secret, scrub

EVENTS = (
    "train_start",
    "epoch",
    "new_best",
    "alert",
    "alert_recovered",
    "early_stop",
    "lr_reduced",
    "mirror_done",
    "mirror_failed",
    "detection",
    "detection_end",
    "train_end",
    "crash",
    "interrupt",
    "tune_start",  # model.tune() under YOLO_HOOKS (yolo_hooks.env.tune)
    "tune_new_best",
    "tune_end",
    "killed",
    "nan_recovered",
    "stalled",
    "progress_resumed",
    "control",  # a run-control command (stop, extend, patience, save) and what became of it (yolo_hooks.control)
    "val_report",
    "predict_report",
    "export_report",
    "test",
)
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
# One symbol per severity so a glance at a phone's lock screen tells good news from bad.
SEVERITY_ICON = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}


def clean_text(value: Any) -> str:
    """``str(value)`` that encodes as UTF-8: a lone surrogate becomes U+FFFD; a whitespace-only text becomes "".

    A run folder whose name is not valid UTF-8 comes back from ``Path.name`` with lone surrogates (``'\\udce9'``)
    that no JSON body or e-mail can encode; bytes that were valid UTF-8 after all are decoded back. Services
    trim what they receive, so a whitespace-only title, text or value would arrive empty and be rejected.

    Examples:
        >>> clean_text("run\\udce9"), clean_text("caf\\udcc3\\udca9"), clean_text("  \\n ")
        ('run\ufffd', 'café', '')
    """
    text = value if type(value) is str else str(value)
    if not text.isascii():  # ASCII (most texts) always encodes: no trial encoding, no copy
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            try:
                text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            except UnicodeEncodeError:  # a surrogate that is not an escaped byte
                text = text.encode("utf-8", "replace").decode("utf-8")
    return text if text.strip() else ""


def json_ready(value: Any) -> Any:
    """``value`` made safe for strict JSON: non-finite floats become ``"nan"`` / ``"inf"`` / ``"-inf"``.

    A diverging loss is exactly when an alert fires, and ``json.dumps(float("nan"))`` gives ``NaN``, which is not
    JSON: receivers would reject the very message that matters. Tuples and sets become lists, paths and unknown
    objects strings, numpy / torch scalars plain numbers.

    Examples:
        >>> json_ready({"loss": float("nan"), "epochs": (1, 2)})
        {'loss': 'nan', 'epochs': [1, 2]}
    """
    kind = type(value)  # the common exact types first: this runs over every message's data on the training thread
    if kind is float:
        return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))
    if kind is dict:
        return {_encodable(str(k)): json_ready(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, float):
        return json_ready(float(value))
    if isinstance(value, Mapping):
        return {_encodable(str(k)): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_ready(v) for v in value]
    if isinstance(value, PurePath):
        return _encodable(str(value))
    item = getattr(value, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return json_ready(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    return _encodable(str(value))


def _encodable(text: str) -> str:
    """Raw data keeps its whitespace; only what cannot be encoded is replaced."""
    return clean_text(text) if text.strip() else text


def message_id(run: Mapping[str, str], *what: Any) -> str:
    """The id of a message about ``what`` (event, epoch, rule...) in the run ``run["run_id"]``: the same every time
    it is announced; random when the message is not about a training run (a val / predict / export job).

    Examples:
        >>> message_id({"run_id": "r1"}, "epoch", 3) == message_id({"run_id": "r1"}, "epoch", 3)
        True
        >>> message_id({"run_id": "r1"}, "epoch", 3) == message_id({"run_id": "r2"}, "epoch", 3)
        False
    """
    run_id = run.get("run_id")
    if not run_id:
        return uuid.uuid4().hex
    return hashlib.sha256("\0".join([str(run_id), *map(str, what)]).encode()).hexdigest()[:32]


def _scrubbed(value: Any) -> Any:
    """JSON-ready ``value`` with every string (keys too) scrubbed of the secrets this process knows."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(k): _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


def _collect_strings(value: Any, out: list[str]) -> None:
    """Append every string of JSON-ready ``value`` (keys too) to ``out``: the strings :func:`_scrubbed` scrubs."""
    if isinstance(value, dict):
        for k, v in value.items():
            out.append(k)
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, (dict, list)):
                _collect_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, (dict, list)):
                _collect_strings(v, out)
    elif isinstance(value, str):
        out.append(value)


def _strings(mapping: Mapping[str, Any] | None) -> dict[str, str]:
    return {clean_text(k): "" if v is None else clean_text(v) for k, v in (mapping or {}).items()}


@dataclass(frozen=True)
class Message:
    """One notification, independent of where it is sent.

    Attributes:
        event: what happened (one of :data:`EVENTS`, e.g. ``new_best``).
        severity: ``info``, ``warning`` or ``critical``.
        title: one short line, e.g. ``"✅ Training finished — train7"``.
        text: plain text, a few lines at most.
        fields: ordered facts shown as key/value, e.g. ``{"Epoch": "3/10"}`` (values are kept as strings).
        run: the run it is about: name, save_dir, model, data, device, host (strings).
        data: raw JSON-ready details (the ``json`` format sends them as they are).
        id: sent as the idempotency key (``webhook-id``) so receivers can drop duplicates: derived from what the
            message announces (:func:`message_id`), so a re-send (live, caught up after a resume, replayed) keeps it.
        time: creation time (UNIX seconds).
    """

    event: str
    severity: str
    title: str
    text: str = ""
    fields: dict[str, str] = field(default_factory=dict)
    run: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    time: float = field(default_factory=time.time)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"Message severity must be one of {', '.join(SEVERITIES)}, got {self.severity!r}")
        # Normalise once so every format can rely on str values and JSON-safe data, and scrub every part of it of
        # every secret this process knows: an exception that quotes a webhook URL or a password becomes a crash
        # message's text, its "Error" field and its data (the one scrub of core/redact, as for logs and files).
        parts = {"title": clean_text(self.title), "text": "" if self.text is None else clean_text(self.text),
                 "fields": _strings(self.fields), "run": _strings(self.run), "data": json_ready(dict(self.data or {}))}
        # One look for any secret over all of its strings joined (a string holds a secret only if the join does);
        # only then is each string scrubbed on its own: two thirds of an epoch message's build was that scrub.
        strings = [parts["title"], parts["text"], *parts["fields"], *parts["fields"].values(), *parts["run"],
                   *parts["run"].values()]  # _strings made both str to str
        _collect_strings(parts["data"], strings)
        if has_secret("\0".join(strings)):
            parts = {name: _scrubbed(value) for name, value in parts.items()}
        for name, value in parts.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "time", float(self.time))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the outbox line); :meth:`from_dict` is the inverse."""
        return {
            "id": self.id,
            "event": self.event,
            "severity": self.severity,
            "title": self.title,
            "text": self.text,
            "fields": dict(self.fields),
            "run": dict(self.run),
            "data": dict(self.data),  # made JSON-ready once, in __post_init__
            "time": self.time,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Message:
        """Rebuild a message from :meth:`as_dict` output; unknown keys (a newer writer) are ignored."""
        known = {f.name for f in dataclass_fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in known})
