"""``DetectionAlert``: tell someone — with a picture — when a rule about the detections of predict/track holds.

Works with ``model.predict(...)``, ``model.predict(stream=True)``, ``model(frame)`` in a loop, ``model.track(...)``
and ``yolo-hooks predict`` / ``yolo-hooks track``, on every task with boxes (detect, segment, pose, obb) and on the
top-1 class of classify, from one source or many (a ``.streams`` file: one camera per stream). The frame loop
only turns the frame's boxes into plain data, applies the pure rule (:mod:`yolo_hooks.detection.rules`) and, when
an alert is raised or an event ends, hands a copy of the frame to a background worker; drawing, JPEG encoding,
contact sheet, MP4 clip, ``alerts.jsonl``, the review page, retention and the bus events (which ``notify`` turns
into messages with the image) all happen there (:mod:`yolo_hooks.detection.writing`).

Examples:
    >>> import yolo_hooks
    >>> yolo_hooks.attach(model, yolo_hooks.DetectionAlert(classes=["person"], line=[[0.5, 0], [0.5, 1]],
    ...                                                    direction="in", cooldown=10))  # doctest: +SKIP
    >>> for r in model.track("cam.mp4", stream=True): ...  # doctest: +SKIP

or in hooks.yaml (several allowed)::

    detection_alert:
      - {name: person_in_zone, classes: [person], zone: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], min_duration: 2s}
      - {name: loitering, classes: [person], zone: {gate: [[0, 0.5], [1, 0.5], [1, 1]]}, dwell: 30s}
"""

from __future__ import annotations

import collections
import functools
import secrets
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.deadline import at_exit
from ..core.errors import ConfigError
from ..core.hook import Hook
from ..core.run_info import run_info
from ..core.validate import check_bool, check_number, check_str
from .cameras import CameraRules, camera_name, image_camera, safe_name, shown_source, stream_cameras
from .frames import class_ids, detections_of
from .handover import Capture, Handover
from .options import build_rule, check_class_names, parse_camera_names, parse_keep, parse_names
from .rules import NOTHING, Alert, EventEnd, Frame, Rule, RuleState, evaluate, finish, is_idle

HOOK = "detection_alert"
MAX_SOURCES = 16  # rule state kept for this many sources (videos, stream slots) at once
ALERTS_FOLDER = "alerts"


@dataclass
class _Open:
    """What the frame loop keeps of an open event: its id, its files' stem, its best frame so far (a reference)."""

    event_id: str
    stem: str
    start_index: int
    best: tuple[Any, tuple] | None = None  # (Results, detections) of the most confident frame
    about: dict[str, str] | None = None  # the predict / track call it began in (what its messages name)


@dataclass
class _Source:
    """One video / stream / image sequence: its camera, its rule, its state, frame counter and recent frames."""

    camera: str
    rule: Rule | None  # None: this rule does not watch this camera
    state: RuleState
    ring: collections.deque
    frames: int = 0
    idle: float | None = None  # while the rule is idle on this source: the confidence that wakes it
    events: dict[int, _Open] = field(default_factory=dict)


class DetectionAlert(Hook):
    """One detection rule with images and events (see :mod:`yolo_hooks.detection.rules` for what the words mean;
    docs/hooks/detection_alert.md has every option with its default)."""

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
        zone: list | dict | None = None,
        anchor: str = "bottom_center",
        trigger: str = "inside",
        line: list | dict | None = None,
        direction: str = "any",
        dwell: float | str | None = None,
        ignore_stationary: float | str | None = None,
        stationary_radius: float = 0.025,
        min_area: float | None = None,
        max_area: float | None = None,
        hysteresis: float = 0.015,
        min_duration: float | str = 0,
        cooldown: float | str = 60,
        max_per_minute: int | None = None,
        end_after: float | str = 2,
        severity: str = "warning",
        cameras: str | list[str] | None = None,
        camera_names: dict | None = None,
        image: bool = True,
        before: int = 0,
        after: int = 0,
        sheet: bool = True,
        clip: bool = False,
        jpeg_quality: int = 90,
        folder: str | None = None,
        keep: dict | None = None,
        review: bool = True,
        mirror: Any = None,
        mirror_url: str | None = None,
        flush_timeout: float = 10,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name or HOOK)
        label = name if isinstance(name, str) and name.strip() else HOOK
        rule, zones, lines = build_rule(
            label, self.name, classes=classes, min_conf=min_conf, min_count=min_count, max_count=max_count,
            count=count, zone=zone, anchor=anchor, trigger=trigger, line=line, direction=direction, dwell=dwell,
            ignore_stationary=ignore_stationary, stationary_radius=stationary_radius, min_area=min_area,
            max_area=max_area, hysteresis=hysteresis, min_duration=min_duration, cooldown=cooldown,
            max_per_minute=max_per_minute, severity=severity, end_after=end_after)  # fmt: skip
        limit = parse_names(label, "cameras", cameras, "camera")
        for key, mapping in (("zone", zones), ("line", lines)):
            unknown = sorted(set(mapping or ()) - set(limit or mapping or ()))
            if unknown:
                raise ConfigError(f"{label}: `{key}` names camera(s) {', '.join(unknown)} that `cameras` leaves out")
        self.cameras = CameraRules(rule, limit, zones, lines)
        self.camera_names = parse_camera_names(label, camera_names)
        self.image = check_bool(label, "image", image)
        self.before = check_number(label, "before", before, minimum=0, maximum=300, integer=True)
        self.after = check_number(label, "after", after, minimum=0, maximum=300, integer=True)
        self.sheet = check_bool(label, "sheet", sheet)
        self.clip = check_bool(label, "clip", clip)
        self.jpeg_quality = check_number(label, "jpeg_quality", jpeg_quality, minimum=1, maximum=100, integer=True)
        self.folder = check_str(label, "folder", folder, allow_none=True)
        self.keep = parse_keep(label, keep)
        self.review = check_bool(label, "review", review)
        self.mirror = None
        if mirror is not None:
            from ..mirror.stores import make_store

            self.mirror = make_store(label, mirror)
        self.mirror_url = check_str(label, "mirror_url", mirror_url, allow_none=True)
        if self.mirror_url is not None and self.mirror is None:
            raise ConfigError(f"{label}: `mirror_url` is the public address of `mirror`; set `mirror` too")
        self.flush_timeout = check_number(label, "flush_timeout", flush_timeout, minimum=0)
        self.fired = 0  # alerts raised so far (all runs of this hook)
        self.records: collections.deque = collections.deque(maxlen=100)  # the latest alerts.jsonl records
        self._names: dict[int, str] = {}
        self._class_ids: frozenset[int] | None = None  # the ids of `classes` in the model's names (None: every class)
        self._silent: str | None = None  # why the rule says nothing on this model (a class it does not know)
        self._untracked_said = False
        self._task = "detect"
        self._save_dir: Path | None = None
        self._about: dict[str, str] | None = None  # run_info of the current predict / track call
        self._stream_cameras: list[str] = []
        self._run_frames = 0
        self._loop = False  # this run's source is arrays (``model(frame)`` in a loop): its state goes on
        self._main = True
        self._handover: Handover | None = None  # made on the first alert
        self._sources: collections.OrderedDict[Any, _Source] | None = None
        self._last: tuple[Any, _Source] | None = None

    @property
    def rule(self) -> Rule:
        """The rule (with its zones or line when they are the same for every camera)."""
        return self.cameras.rule

    def bind(self, bus) -> None:
        """Join the bus; the rule takes the (made unique) hook name."""
        super().bind(bus)
        if self.rule.name != self.name:
            self.cameras = self.cameras.renamed(self.name)

    def secrets(self) -> list[str]:
        """The mirror's full URL and secret storage options: logged only redacted."""
        return [] if self.mirror is None else self.mirror.secrets()

    # --- runs and sources -------------------------------------------------------------------------------------
    def on_predict_start(self, predictor):
        """Check the classes against the model's names (a mismatch: said once, and the rule stays silent); start
        the sources of files afresh (a second call on the same video is a new video; a stream or a ``model(frame)``
        loop goes on); name the cameras; note the run's folder."""
        names = dict(getattr(predictor.model, "names", None) or {})
        if names != self._names:
            self._names, self._silent = names, None
            try:
                check_class_names(self.name, self.rule.classes, names)
            except ConfigError as e:
                if self.strict:
                    raise
                self._silent = str(e)
                self.log(f"{e}: this rule stays silent on this model's predictions (training and predictions go on)",
                         "warning")
            self._class_ids = class_ids(self.rule.classes, names)
        self._task = str(getattr(predictor.args, "task", "detect"))
        if self._task == "classify" and (self.rule.zones or self.cameras.zones or self.rule.line or self.cameras.lines):
            raise ConfigError(f"{self.name}: `zone` and `line` need boxes; a classify model only has a top-1 class")
        self._save_dir = Path(self.folder) if self.folder else Path(predictor.save_dir) / ALERTS_FOLDER
        self._about = run_info(predictor)  # what its alerts' messages name, though published after the call returns
        self._run_frames = 0
        self._main = self.is_main_process  # read once per run, not per frame
        self._last = None  # (key, source) of the latest frame: the same source frame after frame, looked up once
        dataset = getattr(predictor, "dataset", None)
        self._stream_cameras = stream_cameras(list(getattr(dataset, "sources", None) or []), self.camera_names) \
            if getattr(dataset, "mode", None) == "stream" else []  # fmt: skip
        arrays = getattr(predictor, "source_type", None)
        self._loop = arrays is not None and (getattr(arrays, "from_img", False) or getattr(arrays, "tensor", False))
        for key in [k for k in self._sources or () if k[0] == "video" or (k[0] == "images" and not self._loop)]:
            self._drop(key)

    def on_predict_end(self, predictor):
        """A finished run: the events of its videos and streams end (a ``model(frame)`` loop's go on with the next
        call); what is collected goes to the worker, never waited for here (the user's thread goes on;
        :meth:`close` waits when a script wants the files now, and the interpreter's exit waits within its one
        deadline). A one-frame run keeps its images open: their after-frames come with the next calls."""
        for key in [k for k in self._sources or () if k[0] in ("video", "stream") or not self._loop]:
            self._end_all(self._sources[key])
        if self._run_frames > 1:
            self.close(timeout=0.0)

    def close(self, timeout: float | None = None) -> bool:
        """Finish every pending image (with the after-frames it has) and wait for the files; True when done."""
        if self._handover is None:
            return True
        return self._handover.close(self.flush_timeout if timeout is None else timeout)

    def end_events(self) -> None:
        """End every open event now (at its last frame where its condition held), as the end of a source does."""
        for source in list((self._sources or {}).values()):
            self._end_all(source)

    def _source(self, key: tuple, result) -> _Source:
        if self._sources is None:
            self._sources = collections.OrderedDict()
        source = self._sources.get(key)
        if source is not None:
            self._sources.move_to_end(key)  # the least recently seen source is the one forgotten
        else:
            if key[0] == "stream":
                cameras = self._stream_cameras
                camera = cameras[key[1]] if key[1] < len(cameras) else stream_cameras([key[2]], self.camera_names)[0]
            elif key[0] == "video":
                camera = camera_name(key[1], self.camera_names)
            else:
                camera = image_camera(result.path, self.camera_names)
            rule, state = self.cameras.for_camera(camera), RuleState()
            source = self._sources[key] = _Source(camera, rule, state, collections.deque(maxlen=max(1, self.before)))
            source.idle = self._idle_below(source)
            while len(self._sources) > MAX_SOURCES:
                self._drop(next(iter(self._sources)))
        self._last = (key, source)
        return source

    def _drop(self, key: tuple) -> None:
        self._end_all(self._sources.pop(key))
        if self._last is not None and self._last[0] == key:
            self._last = None

    def _end_all(self, source: _Source) -> None:
        if source.rule is not None and source.state.events:
            source.state, ends = finish(source.rule, source.state)
            for end in ends:
                self._end(end, source)
        source.idle = self._idle_below(source)

    def _idle_below(self, source: _Source) -> float | None:
        """``min_conf`` while a frame without detections at it changes nothing (:func:`is_idle`), else None.

        A confidence of 0 is a real threshold (every box wakes the rule); None means every frame is evaluated."""
        return source.rule.min_conf if source.rule is not None and is_idle(source.rule, source.state) else None

    # --- the frame loop ---------------------------------------------------------------------------------------
    def on_predict_batch_end(self, predictor):
        """Per frame: boxes -> plain data -> rule; on an alert or an event's end, hand the frame over. Microseconds
        when quiet.

        The quiet frame (nothing at ``min_conf``, a presence rule with nothing under way, no alert collecting
        after-frames) is the one to make cheap: it runs right after inference, whose work has evicted the caches, so
        every attribute read costs several times what it does warm. It reads the confidence column and is counted.
        """
        results = predictor.results
        if not results or not self._main or self._silent is not None:
            return
        self._run_frames += len(results)
        mode = getattr(predictor.dataset, "mode", "image")
        for i, result in enumerate(results):
            key = ("video", result.path) if mode == "video" else (("stream", i, result.path) if mode == "stream"
                                                                   else ("images",))  # fmt: skip
            last = self._last
            source = last[1] if last is not None and last[0] == key else self._source(key, result)
            index = source.frames
            source.frames = index + 1
            if source.rule is None:  # a camera this rule does not watch
                continue
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
        detections = detections_of(result, source.rule.min_conf, self._class_ids, self._names)
        if self._handover is not None and self._handover.waiting:
            self._handover.feed(result.orig_img)
        if detections or source.idle is None:
            self._evaluate(result, detections, source, index, mode, predictor.dataset, later)
        if self.before:
            source.ring.append(result.orig_img)

    def _evaluate(self, result, detections, source: _Source, index: int, mode: str, dataset, later: int) -> None:
        """Apply the rule to a frame that has detections (or a rule under way); hand over what it raised."""
        fps = None
        if mode == "video":  # the video's own clock and frame numbers: they hold when decoding runs late
            fps = float(getattr(dataset, "fps", 0) or 30)
            stride = int(getattr(dataset, "vid_stride", 1) or 1)
            index = (int(getattr(dataset, "frame", index + 1)) - later) * stride - 1
            now = index / fps
        else:
            now = time.time()
        height, width = result.orig_shape[:2]
        rule = source.rule
        source.state, step = evaluate(rule, source.state, Frame(index, now, width, height, detections))
        source.idle = self._idle_below(source)
        if step is NOTHING:
            if rule.needs_tracks and detections and detections[0].track_id is None and not self._untracked_said:
                self._untracked_said = True
                self.log(f"{', '.join(f'`{k}`' for k in rule.needs_tracks)} need(s) track ids (model.track, "
                         "yolo-hooks track): this rule stays silent on untracked predictions", "warning")
            return
        for alert in step.alerts:
            self._fire(result, alert, source, mode, fps)
        for number in step.best:
            if number in source.events:
                source.events[number].best = (result, detections)
        for end in step.ends:
            self._end(end, source)

    # --- hand-over --------------------------------------------------------------------------------------------
    def _handover_now(self) -> Handover:
        if self._handover is None:
            from .writing import write_capture

            self._handover = Handover(self.name, self.after, functools.partial(write_capture, weakref.ref(self)),
                                      functools.partial(at_exit, functools.partial(_close_at_exit, weakref.ref(self))))
        return self._handover

    def _fire(self, result, alert: Alert, source: _Source, mode: str, fps: float | None):
        """Record the alert and give the worker what it needs; only a copy of the frame is made here."""
        self.fired += 1
        opened = source.events.get(alert.event)
        if opened is None:
            event_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
            stem = f"{safe_name(self.name)}_{source.camera}_{event_id}"
            opened = source.events[alert.event] = _Open(event_id, stem, alert.frame_index, about=self._about)
        record = self._meta(result.path, source, mode, opened, f"{opened.stem}_frame{alert.frame_index}")
        before = list(source.ring) if self.before else []
        self._handover_now().give(Capture(alert, record, fps=fps or 10.0), result if self.image else None, before)

    def _end(self, end: EventEnd, source: _Source) -> None:
        """An event ended: its best frame (a reference kept since it was seen) goes to the worker."""
        opened = source.events.pop(end.event, None)
        if opened is None:
            return
        record = self._meta(None, source, None, opened, f"{opened.stem}_best")
        result, detections = opened.best or (None, ())
        capture = Capture(end, record, highlight=tuple(d for d in detections if _names(d, end.subject)))
        fresh = self.image and result is not None and end.best_index != opened.start_index
        self._handover_now().give(capture, result if fresh else None, [])

    def _meta(self, path, source: _Source, mode: str | None, opened: _Open, stem: str) -> dict[str, Any]:
        """Where and when (the rest of the alerts.jsonl line is made on the worker)."""
        return {"wall_time": time.time(), "source": None if path is None else shown_source(path), "mode": mode,
                "camera": source.camera, "event_id": opened.event_id, "stem": stem,
                "folder": self._save_dir or Path.cwd() / ALERTS_FOLDER, "about": opened.about}  # fmt: skip


def _names(detection, subject: str) -> bool:
    """Is ``detection`` the subject's (its track, its class, or any for ``total``)?"""
    kind, _, rest = subject.partition(":")
    if kind == "track":
        return detection.track_id is not None and str(detection.track_id) == rest
    return kind == "total" or detection.cls == rest


def _close_at_exit(ref: weakref.ref, deadline) -> None:
    hook = ref()
    if hook is not None:
        hook.end_events()
        hook.close(deadline.left(hook.flush_timeout))
