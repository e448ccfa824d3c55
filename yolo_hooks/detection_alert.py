"""``DetectionAlert``: tell someone — with a picture — when a rule about the detections of predict/track holds.

Works with ``model.predict(...)``, ``model.predict(stream=True)``, ``model(frame)`` in a loop, ``model.track(...)``
and ``yolo-hooks predict`` / ``yolo-hooks track``, on every task with boxes (detect, segment, pose, obb) and on the
top-1 class of classify. The frame loop only turns the frame's boxes into plain data, applies the pure rule
(:mod:`yolo_hooks.detection_rules`) and, when it fires, hands a copy of the frame to a background worker; drawing,
JPEG encoding, contact sheet, MP4 clip, ``alerts.jsonl`` and the bus event (which ``notify`` turns into a message
with the image) all happen there.

Examples:
    >>> import yolo_hooks
    >>> yolo_hooks.attach(model, yolo_hooks.DetectionAlert(classes=["person"], zone=[[0, 0.5], [1, 0.5], [1, 1], [0, 1]],
    ...                                                    min_duration="2s", cooldown=60, before=4, after=4))  # doctest: +SKIP
    >>> for r in model.track("cam.mp4", stream=True): ...  # doctest: +SKIP

or in hooks.yaml (several allowed)::

    detection_alert:
      - {name: person_in_zone, classes: [person], zone: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], min_duration: 2s}
      - {name: few_helmets, classes: [helmet], max_count: 1, min_duration: 30 frames}
"""

from __future__ import annotations

import collections
import functools
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from .core.deadline import at_exit
from .core.errors import ConfigError
from .core.hook import Hook
from .core.validate import check_bool, check_choice, check_number, check_str
from .detection_options import (
    check_anchor,
    check_class_names,
    check_counts,
    parse_classes,
    parse_duration,
    parse_zones,  # fmt: skip
)
from .detection_rules import COUNTS, TRIGGERS, Alert, Detection, Frame, Rule, RuleState, evaluate

HOOK = "detection_alert"
SEVERITIES = ("info", "warning", "critical")
MAX_SOURCES = 16  # rule state kept for this many sources (videos, stream slots) at once
MAX_QUEUED = 8  # snapshots waiting for the worker; beyond this an alert is recorded without its image
ALERTS_FOLDER = "alerts"


@dataclass
class _Source:
    """One video / stream slot / image sequence: its rule state, frame counter and recent frames."""

    state: RuleState
    ring: collections.deque
    frames: int = 0


@dataclass
class _Snapshot:
    """What the worker needs to make the files of one alert (frames are references or copies, never encoded)."""

    alert: Alert
    record: dict[str, Any]  # where and when (the rest of the alerts.jsonl line is made on the worker)
    result: Any = None  # a Results with a private copy of the frame; None: recorded without an image
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    fps: float = 10.0
    note: str | None = None


class DetectionAlert(Hook):
    """One detection rule with snapshots (see :mod:`yolo_hooks.detection_rules` for what the words mean).

    Args:
        classes: class name(s) to watch (default: every class); checked against ``model.names`` at the first batch.
        min_conf: lowest confidence that counts.
        min_count, max_count: fire while the number of objects is within these bounds (``max_count: 1`` alone:
            "fewer than 2", none included); ``count``: ``per_class`` (default) or ``total``.
        zone: a polygon ``[[x, y], ...]`` or a list of them, in pixels or 0-1 fractions of the frame.
        anchor: the box point that must be inside a zone: ``bottom_center`` (feet), ``center``, ``top_center``,
            ``bottom_left``, ``bottom_right``, ``top_left``, ``top_right``.
        trigger: ``inside`` (fires while inside) or ``enter`` (only objects seen outside first).
        min_duration: seconds (``2``, ``"2s"``) or frames (``"15 frames"``) the condition must hold first.
        cooldown: after firing, the same (rule, track id or class) does not fire again for this long (default 60 s).
        max_per_minute: at most this many alerts of this rule per minute.
        severity: ``info``, ``warning`` (default) or ``critical``.
        snapshot: write the annotated frame as JPEG (and send it with notifications).
        before, after: frames kept from before / collected after the alert for a contact sheet and/or clip.
        sheet, clip: write a contact sheet JPEG / an MP4 clip of before + alert + after frames.
        jpeg_quality: 1-100. folder: where files go (default ``<predict save_dir>/alerts``).
        mirror: also copy the files (verified by size and sha256) to this destination, as ``best_mirror`` does: a
            folder, an fsspec URL (``s3://bucket/alerts``) or ``{url, storage_options}``.
        mirror_url: the public base URL of ``mirror`` (``https://bucket.s3.amazonaws.com/alerts``): links to the
            mirrored files go into the record and the notifications (Slack, Teams, DingTalk, Feishu show them).
        flush_timeout: at most this many seconds of the interpreter's exit deadline are spent on snapshot files
            still being written (nothing waits for them on the predict thread; :meth:`close` waits on request).
    """

    config_name = HOOK
    allow_multiple = True
    _transient = ("_worker", "_sources", "_pending")

    def __init__(
        self,
        *,
        classes: str | list[str] | None = None,
        min_conf: float = 0.25,
        min_count: int | None = None,
        max_count: int | None = None,
        count: str = "per_class",
        zone: list | None = None,
        anchor: str = "bottom_center",
        trigger: str = "inside",
        min_duration: float | str = 0,
        cooldown: float | str = 60,
        max_per_minute: int | None = None,
        severity: str = "warning",
        snapshot: bool = True,
        before: int = 0,
        after: int = 0,
        sheet: bool = True,
        clip: bool = False,
        jpeg_quality: int = 90,
        folder: str | None = None,
        mirror: Any = None,
        mirror_url: str | None = None,
        flush_timeout: float = 10,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name or HOOK)
        min_count, max_count = check_counts(HOOK, min_count, max_count)
        zones = parse_zones(HOOK, zone)
        trigger = check_choice(HOOK, "trigger", trigger, TRIGGERS)
        self.rule = Rule(
            name=self.name, classes=parse_classes(HOOK, classes),
            min_conf=float(check_number(HOOK, "min_conf", min_conf, minimum=0, maximum=1)),
            min_count=min_count, max_count=max_count, count=check_choice(HOOK, "count", count, COUNTS),
            zones=zones, anchor=check_anchor(HOOK, anchor), trigger=trigger,
            min_duration=parse_duration(HOOK, "min_duration", min_duration),
            cooldown=parse_duration(HOOK, "cooldown", cooldown),
            max_per_minute=check_number(HOOK, "max_per_minute", max_per_minute, minimum=1, integer=True,
                                        allow_none=True),
            severity=check_choice(HOOK, "severity", severity, SEVERITIES),
        )  # fmt: skip
        self.snapshot = check_bool(HOOK, "snapshot", snapshot)
        self.before = check_number(HOOK, "before", before, minimum=0, maximum=300, integer=True)
        self.after = check_number(HOOK, "after", after, minimum=0, maximum=300, integer=True)
        self.sheet = check_bool(HOOK, "sheet", sheet)
        self.clip = check_bool(HOOK, "clip", clip)
        self.jpeg_quality = check_number(HOOK, "jpeg_quality", jpeg_quality, minimum=1, maximum=100, integer=True)
        self.folder = check_str(HOOK, "folder", folder, allow_none=True)
        self.mirror = None
        if mirror is not None:
            from .mirror.destinations import make_destination

            self.mirror = make_destination(HOOK, mirror)
        self.mirror_url = check_str(HOOK, "mirror_url", mirror_url, allow_none=True)
        if self.mirror_url is not None and self.mirror is None:
            raise ConfigError(f"{HOOK}: `mirror_url` is the public address of `mirror`; set `mirror` too")
        self.flush_timeout = check_number(HOOK, "flush_timeout", flush_timeout, minimum=0)
        self.fired = 0  # alerts fired so far (all runs of this hook)
        self.records: collections.deque = collections.deque(maxlen=100)  # the latest alerts.jsonl records
        self._names: dict[int, str] = {}
        self._class_mask: np.ndarray | None = None
        self._task = "detect"
        self._save_dir: Path | None = None
        self._run_frames = 0
        self._main = True
        self._worker = None
        self._sources: collections.OrderedDict[Any, _Source] | None = None
        self._pending: list[_Snapshot] | None = None

    def bind(self, bus) -> None:
        """Join the bus; the rule takes the (made unique) hook name."""
        super().bind(bus)
        if self.rule.name != self.name:
            import dataclasses

            self.rule = dataclasses.replace(self.rule, name=self.name)

    def secrets(self) -> list[str]:
        """The mirror's full URL and secret storage options: logged only redacted."""
        return [] if self.mirror is None else self.mirror.secrets()

    # --- the frame loop ---------------------------------------------------------------------------------------
    def on_predict_start(self, predictor):
        """Check the classes against the model's names (did-you-mean) and the task; note the run's folder."""
        names = dict(getattr(predictor.model, "names", None) or {})
        if names != self._names:
            check_class_names(self.name, self.rule.classes, names)
            self._names = names
            self._class_mask = None
            if self.rule.classes is not None:
                size = max(names) + 2 if names else 1  # the last slot is False: ids beyond the names clip to it
                self._class_mask = np.array([names.get(i) in self.rule.classes for i in range(size)], dtype=bool)
        self._task = str(getattr(predictor.args, "task", "detect"))
        if self._task == "classify" and self.rule.zones:
            raise ConfigError(f"{self.name}: `zone` needs boxes; a classify model only has a top-1 class")
        self._save_dir = Path(self.folder) if self.folder else Path(predictor.save_dir) / ALERTS_FOLDER
        self._run_frames = 0
        self._main = self.is_main_process  # read once per run, not per frame

    def on_predict_batch_end(self, predictor):
        """Per frame: boxes -> plain data -> rule; on an alert, hand the frame over. Microseconds when quiet."""
        if not self._main:
            return
        results = predictor.results or ()
        dataset = predictor.dataset
        mode = getattr(dataset, "mode", "image")
        n = len(results)
        for i, result in enumerate(results):
            key = str(result.path) if mode == "video" else (i if mode == "stream" else "images")
            source = self._source(key)
            index = source.frames
            source.frames += 1
            self._run_frames += 1
            video_frame, fps = None, None
            if mode == "video":
                fps = float(getattr(dataset, "fps", 0) or 30)
                video_frame = int(getattr(dataset, "frame", index + 1)) - (n - 1 - i)
                now = (video_frame - 1) / fps
            else:
                now = time.time()
            frame = self.observe(result, index, now)
            source.state, alert = evaluate(self.rule, source.state, frame)
            self._feed_after(result.orig_img)
            if alert is not None:
                self._fire(result, alert, source, mode, video_frame, fps)
            if self.before:
                source.ring.append(result.orig_img)  # a reference: loaders give every frame its own array

    def on_predict_end(self, predictor):
        """A finished run (several frames): hand what is collected to the worker, never waiting for it here (the
        user's thread goes on; :meth:`close` waits when a script wants the files now, and the interpreter's exit
        waits within its one deadline). A one-frame run — ``model(frame)`` in a loop — keeps its snapshots open:
        their after-frames come with the next calls."""
        if self._run_frames > 1:
            self.close(timeout=0.0)

    def close(self, timeout: float | None = None) -> bool:
        """Finish every pending snapshot (with the after-frames it has) and wait for the files; True when done."""
        for snap in self._pending or ():
            self._submit(snap)
        self._pending = []
        if self._worker is None:
            return True
        return self._worker.flush(self.flush_timeout if timeout is None else timeout)

    # --- plain data -------------------------------------------------------------------------------------------
    def _source(self, key: Any) -> _Source:
        if self._sources is None:
            self._sources = collections.OrderedDict()
        source = self._sources.get(key)
        if source is not None:
            self._sources.move_to_end(key)  # the least recently seen source is the one forgotten
        else:
            source = self._sources[key] = _Source(RuleState(), collections.deque(maxlen=max(1, self.before)))
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
        return source

    def observe(self, result, index: int, now: float) -> Frame:
        """The frame's detections that can matter (confidence, then class, filtered first) as plain data.

        The confidence column alone becomes a Python list and is filtered there: on a tensor fresh from inference
        that is a few times cheaper than numpy's comparison and ``flatnonzero`` (25 vs 115 µs for 300 boxes, measured
        in the predict loop); only the rows that pass are converted whole."""
        height, width = result.orig_shape[:2]
        boxes = result.boxes if result.boxes is not None else getattr(result, "obb", None)
        detections: tuple[Detection, ...] = ()
        if boxes is not None and len(boxes):
            data = boxes.data
            min_conf = self.rule.min_conf
            rows = [i for i, p in enumerate(data[:, -2].tolist()) if p >= min_conf]
            if rows:
                picked = data[rows].tolist()  # [..., (track id,) conf, class] per row
                mask = self._class_mask
                if mask is not None:
                    last = len(mask) - 1  # ids beyond the names clip to the last slot, which is False
                    keep = [k for k, row in enumerate(picked) if mask[min(max(int(row[-1]), 0), last)]]
                    rows, picked = [rows[k] for k in keep], [picked[k] for k in keep]
            if rows:
                xyxy = [row[:4] for row in picked] if result.boxes is not None else _obb_xyxy(boxes)[rows].tolist()
                track = boxes.is_track
                names = self._names
                detections = tuple(
                    Detection(names.get(int(row[-1]), str(int(row[-1]))), row[-2], tuple(box),
                              int(row[-3]) if track else None)
                    for row, box in zip(picked, xyxy)
                )
        elif getattr(result, "probs", None) is not None:
            probs = result.probs
            top1, top1conf = int(probs.top1), float(probs.top1conf)
            detections = (Detection(self._names.get(top1, str(top1)), top1conf),)
        return Frame(index, now, int(width), int(height), detections)

    # --- hand-over --------------------------------------------------------------------------------------------
    def _fire(self, result, alert: Alert, source: _Source, mode: str, video_frame: int | None, fps: float | None):
        """Record the alert and give the worker what it needs; only a copy of the frame is made here."""
        self.fired += 1
        stem = f"{self.name}_{self.fired:05d}_frame{alert.frame_index}"
        record = {"wall_time": time.time(), "source": str(result.path), "mode": mode, "video_frame": video_frame,
                  "stem": stem}  # completed (alert details, time as text) on the worker
        snap = _Snapshot(alert, record, fps=fps or 10.0)
        queued = 0 if self._worker is None else self._worker.pending()
        if not self.snapshot:
            pass
        elif queued >= MAX_QUEUED:
            snap.note = f"snapshot skipped: {queued} snapshots still being written"
        else:
            copy = result.cpu()  # boxes, masks, keypoints, probs: the same tensors when already on the CPU
            copy.orig_img = np.array(result.orig_img, copy=True)  # the user may draw on their frame afterwards
            snap.result, snap.before = copy, list(source.ring) if self.before else []
        if snap.result is not None and self.after:
            if self._pending is None:
                self._pending = []
            self._pending.append(snap)
        else:
            self._submit(snap)

    def _feed_after(self, image) -> None:
        if not self._pending:
            return
        still = []
        for snap in self._pending:
            snap.after.append(image)
            (self._submit if len(snap.after) >= self.after else still.append)(snap)
        self._pending = still

    def _submit(self, snap: _Snapshot) -> None:
        if self._worker is None:
            from .core.worker import BackgroundWorker

            self._worker = BackgroundWorker(f"{self.name}-snapshots")
            at_exit(functools.partial(_close_at_exit, weakref.ref(self)))
        folder = self._save_dir or Path.cwd() / ALERTS_FOLDER
        self._worker.submit(lambda: self._write(snap, folder))

    # --- the worker thread --------------------------------------------------------------------------------------
    def _write(self, snap: _Snapshot, folder: Path) -> None:
        """Draw, encode, write the files and the record, then publish (on the worker thread)."""
        from . import snapshots

        alert, meta = snap.alert, snap.record
        when = datetime.fromtimestamp(meta["wall_time"], timezone.utc).isoformat(timespec="milliseconds")
        details = alert.as_dict()
        del details["time"]  # the rule's clock (video time or wall clock): given below as video_time or time
        record = {
            "time": when.replace("+00:00", "Z"), "source": meta["source"], "mode": meta["mode"],
            "frame_index": alert.frame_index, "video_frame": meta["video_frame"],
            "video_time": None if meta["video_frame"] is None else round(alert.time, 3), "task": self._task,
            **details, "image": None, "sheet": None, "clip": None,
        }  # fmt: skip
        notes = [snap.note] if snap.note else []
        if snap.result is not None:
            try:
                annotated = snapshots.annotate(snap.result, snap.alert, self.rule.zones)
                record["image"] = str(snapshots.write_jpeg(folder / f"{meta['stem']}.jpg", annotated,
                                                           self.jpeg_quality))
                time.sleep(0)  # let the frame loop take the GIL between the stages of this work
                frames = [*snap.before, annotated, *snap.after]
                if len(frames) > 1 and self.sheet:
                    sheet = snapshots.contact_sheet(frames, len(snap.before))
                    record["sheet"] = str(snapshots.write_jpeg(folder / f"{meta['stem']}_sheet.jpg", sheet,
                                                               self.jpeg_quality))
                if len(frames) > 1 and self.clip:
                    record["clip"] = str(snapshots.write_clip(folder / f"{meta['stem']}.mp4", frames, snap.fps))
            except Exception as e:  # a snapshot that cannot be made must not lose the alert itself
                notes.append(f"snapshot failed: {type(e).__name__}: {e}")
        if self.mirror is not None:
            notes += self._mirror_files(record)
        if notes:
            record["note"] = "; ".join(notes)
        try:
            snapshots.append_record(folder, record)
        except OSError as e:
            self.log(f"could not append to {folder / snapshots.ALERTS_LOG}: {e}", "warning")
        self.records.append(record)
        self.log(snap.alert.message + (f" -> {record['image']}" if record["image"] else ""), "warning")
        data = {k: v for k, v in record.items() if k != "message"}
        self.publish("detection", snap.alert.message, snap.alert.severity, **data)

    def _mirror_files(self, record: dict[str, Any]) -> list[str]:
        """Copy the alert's files to ``mirror`` (verified); add ``<kind>_url`` links. Returns notes on failures."""
        try:
            self.mirror.prepare()
        except Exception as e:
            return [_mirror_note(e)]
        for key in ("image", "sheet", "clip"):
            if record.get(key):
                path = Path(record[key])
                try:
                    self.mirror.put_file(path, path.name)
                except Exception as e:  # the alert and its local files stand; the note says what is missing
                    return [_mirror_note(e)]
                if self.mirror_url:
                    record[f"{key}_url"] = f"{self.mirror_url.rstrip('/')}/{path.name}"
        return []


def _mirror_note(error: Exception) -> str:
    return f"mirror failed: {type(error).__name__}: {error}"


def _obb_xyxy(obb) -> np.ndarray:
    xyxy = obb.xyxy
    return xyxy.cpu().numpy() if hasattr(xyxy, "cpu") else np.asarray(xyxy)


def _close_at_exit(ref: weakref.ref, deadline) -> None:
    hook = ref()
    if hook is not None:
        hook.close(deadline.left(hook.flush_timeout))
