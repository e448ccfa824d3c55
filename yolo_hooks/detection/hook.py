"""``DetectionAlert``: tell someone — with a picture — when a rule about the detections of predict/track holds.

Works with ``model.predict(...)``, ``model.predict(stream=True)``, ``model(frame)`` in a loop, ``model.track(...)``
and ``yolo-hooks predict`` / ``yolo-hooks track``, on every task with boxes (detect, segment, pose, obb) and on the
top-1 class of classify. The frame loop only turns the frame's boxes into plain data, applies the pure rule
(:mod:`yolo_hooks.detection.rules`) and, when it fires, hands a copy of the frame to a background worker; drawing,
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.bus import SEVERITIES
from ..core.deadline import at_exit
from ..core.errors import ConfigError
from ..core.hook import Hook
from ..core.run_info import run_info
from ..core.validate import check_bool, check_choice, check_number, check_str
from .frames import class_ids, detections_of
from .handover import Capture, Handover
from .options import check_anchor, check_class_names, check_counts, parse_classes, parse_duration, parse_zones
from .rules import COUNTS, TRIGGERS, Alert, Frame, Rule, RuleState, evaluate, is_idle

HOOK = "detection_alert"
MAX_SOURCES = 16  # rule state kept for this many sources (videos, stream slots) at once
ALERTS_FOLDER = "alerts"


@dataclass
class _Source:
    """One video / stream slot / image sequence: its rule state, frame counter and recent frames."""

    state: RuleState
    ring: collections.deque
    frames: int = 0
    idle: float | None = None  # while the rule is idle on this source: the confidence that wakes it


class DetectionAlert(Hook):
    """One detection rule with images (see :mod:`yolo_hooks.detection.rules` for what the words mean).

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
        image: write the annotated frame as JPEG (and send it with notifications).
        before, after: frames kept from before / collected after the alert for a contact sheet and/or clip.
        sheet, clip: write a contact sheet JPEG / an MP4 clip of before + alert + after frames.
        jpeg_quality: 1-100. folder: where files go (default ``<predict save_dir>/alerts``).
        mirror: also copy the files (verified by size and sha256) to this store, as ``best_mirror`` does: a
            folder, an fsspec URL (``s3://bucket/alerts``) or ``{url, storage_options}``.
        mirror_url: the public base URL of ``mirror`` (``https://bucket.s3.amazonaws.com/alerts``): links to the
            mirrored files go into the record and the notifications (Slack, Teams, DingTalk, Feishu show them).
        flush_timeout: at most this many seconds of the interpreter's exit deadline are spent on image files
            still being written (nothing waits for them on the predict thread; :meth:`close` waits on request).
    """

    allow_multiple = True
    renamed_options = {"snapshot": "`image`"}  # one word per idea: a snapshot is an epoch's reading
    _transient = ("_handover", "_sources", "_last")

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
        image: bool = True,
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
        self.image = check_bool(HOOK, "image", image)
        self.before = check_number(HOOK, "before", before, minimum=0, maximum=300, integer=True)
        self.after = check_number(HOOK, "after", after, minimum=0, maximum=300, integer=True)
        self.sheet = check_bool(HOOK, "sheet", sheet)
        self.clip = check_bool(HOOK, "clip", clip)
        self.jpeg_quality = check_number(HOOK, "jpeg_quality", jpeg_quality, minimum=1, maximum=100, integer=True)
        self.folder = check_str(HOOK, "folder", folder, allow_none=True)
        self.mirror = None
        if mirror is not None:
            from ..mirror.stores import make_store

            self.mirror = make_store(HOOK, mirror)
        self.mirror_url = check_str(HOOK, "mirror_url", mirror_url, allow_none=True)
        if self.mirror_url is not None and self.mirror is None:
            raise ConfigError(f"{HOOK}: `mirror_url` is the public address of `mirror`; set `mirror` too")
        self.flush_timeout = check_number(HOOK, "flush_timeout", flush_timeout, minimum=0)
        self.fired = 0  # alerts fired so far (all runs of this hook)
        self.records: collections.deque = collections.deque(maxlen=100)  # the latest alerts.jsonl records
        self._names: dict[int, str] = {}
        self._class_ids: frozenset[int] | None = None  # the ids of `classes` in the model's names (None: every class)
        self._task = "detect"
        self._save_dir: Path | None = None
        self._about: dict[str, str] | None = None  # run_info of the current predict / track call
        self._run_frames = 0
        self._main = True
        self._handover: Handover | None = None  # made on the first alert
        self._sources: collections.OrderedDict[Any, _Source] | None = None
        self._last: tuple[Any, _Source] | None = None

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
            self._class_ids = class_ids(self.rule.classes, names)
        self._task = str(getattr(predictor.args, "task", "detect"))
        if self._task == "classify" and self.rule.zones:
            raise ConfigError(f"{self.name}: `zone` needs boxes; a classify model only has a top-1 class")
        self._save_dir = Path(self.folder) if self.folder else Path(predictor.save_dir) / ALERTS_FOLDER
        self._about = run_info(predictor)  # what its alerts' messages name, though published after the call returns
        self._run_frames = 0
        self._main = self.is_main_process  # read once per run, not per frame
        self._last = None  # (key, source) of the latest frame: the same source frame after frame, looked up once

    def on_predict_batch_end(self, predictor):
        """Per frame: boxes -> plain data -> rule; on an alert, hand the frame over. Microseconds when quiet.

        The quiet frame (nothing at ``min_conf``, a presence rule with nothing under way, no alert collecting
        after-frames) is the one to make cheap: it runs right after inference, whose work has evicted the caches, so
        every attribute read costs several times what it does warm. It reads the confidence column and is counted.
        """
        results = predictor.results
        if not results or not self._main:
            return
        self._run_frames += len(results)
        mode = getattr(predictor.dataset, "mode", "image")
        for i, result in enumerate(results):
            key = result.path if mode == "video" else (i if mode == "stream" else "images")
            last = self._last
            source = last[1] if last is not None and last[0] == key else self._source(key)
            index = source.frames
            source.frames = index + 1
            if source.idle is not None and (self._handover is None or not self._handover.waiting):
                boxes = result.boxes
                if boxes is not None:  # obb and classify take the whole path
                    confs = boxes.data.select(1, -2).tolist()
                    if not confs or max(confs) < source.idle:  # the quiet frame
                        if self.before:
                            source.ring.append(result.orig_img)  # a reference: loaders give every frame its own array
                        continue
            self._frame(predictor, result, source, index, mode, len(results) - 1 - i)

    def _frame(self, predictor, result, source: _Source, index: int, mode: str, later: int) -> None:
        """A frame that is not quiet: its detections as plain data, an after-frame for waiting alerts, the rule."""
        detections = detections_of(result, self.rule.min_conf, self._class_ids, self._names)
        if self._handover is not None and self._handover.waiting:
            self._handover.feed(result.orig_img)
        if detections or not is_idle(self.rule, source.state):
            self._evaluate(result, detections, source, index, mode, predictor.dataset, later)
        if self.before:
            source.ring.append(result.orig_img)

    def _evaluate(self, result, detections, source: _Source, index: int, mode: str, dataset, later: int) -> None:
        """Apply the rule to a frame that has detections (or a rule under way); fire when it says so."""
        video_frame = fps = None
        if mode == "video":  # the video's own clock: durations and cooldowns hold when decoding runs late
            fps = float(getattr(dataset, "fps", 0) or 30)
            video_frame = int(getattr(dataset, "frame", index + 1)) - later
            now = (video_frame - 1) / fps
        else:
            now = time.time()
        height, width = result.orig_shape[:2]
        source.state, alert = evaluate(self.rule, source.state, Frame(index, now, width, height, detections))
        source.idle = self._idle_below(source.state)
        if alert is not None:
            self._fire(result, alert, source, mode, video_frame, fps)

    def on_predict_end(self, predictor):
        """A finished run (several frames): hand what is collected to the worker, never waiting for it here (the
        user's thread goes on; :meth:`close` waits when a script wants the files now, and the interpreter's exit
        waits within its one deadline). A one-frame run — ``model(frame)`` in a loop — keeps its images open:
        their after-frames come with the next calls."""
        if self._run_frames > 1:
            self.close(timeout=0.0)

    def close(self, timeout: float | None = None) -> bool:
        """Finish every pending image (with the after-frames it has) and wait for the files; True when done."""
        if self._handover is None:
            return True
        return self._handover.close(self.flush_timeout if timeout is None else timeout)

    # --- plain data -------------------------------------------------------------------------------------------
    def _source(self, key: Any) -> _Source:
        if self._sources is None:
            self._sources = collections.OrderedDict()
        source = self._sources.get(key)
        if source is not None:
            self._sources.move_to_end(key)  # the least recently seen source is the one forgotten
        else:
            state = RuleState()
            source = self._sources[key] = _Source(state, collections.deque(maxlen=max(1, self.before)),
                                                  idle=self._idle_below(state))
            while len(self._sources) > MAX_SOURCES:
                self._sources.popitem(last=False)
        self._last = (key, source)
        return source

    def _idle_below(self, state: RuleState) -> float | None:
        """``min_conf`` while a frame without detections at it changes nothing (:func:`is_idle`), else None.

        A confidence of 0 is a real threshold (every box wakes the rule); None means every frame is evaluated."""
        return self.rule.min_conf if is_idle(self.rule, state) else None

    # --- hand-over --------------------------------------------------------------------------------------------
    def _fire(self, result, alert: Alert, source: _Source, mode: str, video_frame: int | None, fps: float | None):
        """Record the alert and give the worker what it needs; only a copy of the frame is made here."""
        self.fired += 1
        stem = f"{self.name}_{self.fired:05d}_frame{alert.frame_index}"
        record = {"wall_time": time.time(), "source": str(result.path), "mode": mode, "video_frame": video_frame,
                  "stem": stem, "folder": self._save_dir or Path.cwd() / ALERTS_FOLDER,
                  "about": self._about}  # completed on the worker
        if self._handover is None:
            self._handover = Handover(self.name, self.after, lambda capture: self._write(capture, capture.record["folder"]),
                                      functools.partial(at_exit, functools.partial(_close_at_exit, weakref.ref(self))))
        before = list(source.ring) if self.before else []
        self._handover.give(Capture(alert, record, fps=fps or 10.0), result if self.image else None, before)

    # --- the worker thread --------------------------------------------------------------------------------------
    def _write(self, capture: Capture, folder: Path) -> None:
        """Draw, encode, write the files and the record, then publish (on the worker thread)."""
        from . import images

        about = capture.record.pop("about", None)
        record = images.alert_record(capture.alert, capture.record, self._task)
        notes = [capture.note] if capture.note else []
        if capture.result is not None:
            result = capture.result.cpu()  # boxes, masks, keypoints, probs: the same tensors when already on the CPU
            result.orig_img = capture.image
            notes += images.write_files(record, result, capture.alert, self.rule.zones, folder,
                                           capture.record["stem"], capture.before,
                                           capture.after, capture.fps, self.jpeg_quality, self.sheet, self.clip)
        if self.mirror is not None:
            notes += images.mirror_files(record, self.mirror, self.mirror_url)
        if notes:
            record["note"] = "; ".join(notes)
        try:
            images.append_record(folder, record)
        except OSError as e:
            self.log(f"could not append to {folder / images.ALERTS_LOG}: {e}", "warning")
        self.records.append(record)
        self._handover.done(capture)
        self.log(capture.alert.message + (f" -> {record['image']}" if record["image"] else ""), "warning")
        data = {k: v for k, v in record.items() if k != "message"}
        self.publish("detection", capture.alert.message, capture.alert.severity, about=about, **data)


def _close_at_exit(ref: weakref.ref, deadline) -> None:
    hook = ref()
    if hook is not None:
        hook.close(deadline.left(hook.flush_timeout))
