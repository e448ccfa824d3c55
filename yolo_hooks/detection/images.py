"""Capture files of a detection alert, made on the background worker (never on the frame loop).

- the annotated frame: Ultralytics' own ``Results.plot()`` (one label per object: its class, its track id when
  tracking, its confidence), every zone and line outlined, the objects the alert is about outlined again in red
  (no second label), encoded as JPEG with OpenCV;
- a contact sheet (``before`` frames, the alert frame, ``after`` frames, downscaled and tiled) and/or a short MP4
  clip of the same frames (OpenCV ``VideoWriter``, ``mp4v``);
- an event's best frame (its most confident), annotated the same way, when its event ends;
- the ``alerts.jsonl`` line of each (:func:`alert_record`, :func:`end_record`).

Examples:
    >>> img = annotate(result, alert.detections, zones)  # doctest: +SKIP
    >>> write_jpeg(Path("alerts/a.jpg"), img, quality=90)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .rules import Alert, Detection, EventEnd, Line, Zone

ZONE_COLOUR = (0, 215, 255)  # BGR yellow
FIRED_COLOUR = (0, 0, 255)  # BGR red
THUMB_WIDTH = 320  # contact sheet / clip frames are downscaled to this width


def annotate(result, highlight: Sequence[Detection], zones: Sequence[Zone], line: Line | None = None,
             conf_shown: bool = True) -> np.ndarray:  # fmt: skip
    """The frame: Ultralytics' plot, zones and line outlined, ``highlight`` s boxes outlined in red (BGR uint8).

    Ultralytics' own label (``id:3 ball 0.78`` when tracking) stays the only label of each object: the red outline
    says which objects the alert is about without a second label over the first."""
    import cv2

    image = result.plot(conf=conf_shown)
    height, width = image.shape[:2]
    thickness = max(2, round((height + width) / 400))
    for zone in zones:
        pts = np.array(zone.pixels(width, height), dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [pts], isClosed=True, color=ZONE_COLOUR, thickness=thickness)
    if line is not None:
        (ax, ay), (bx, by) = line.pixels(width, height)
        cv2.line(image, (round(ax), round(ay)), (round(bx), round(by)), ZONE_COLOUR, thickness, cv2.LINE_AA)
    for det in highlight:
        if det.box is not None:
            x1, y1, x2, y2 = (int(round(v)) for v in det.box)
            cv2.rectangle(image, (x1, y1), (x2, y2), FIRED_COLOUR, thickness)
    return image


def write_jpeg(path: Path, image: np.ndarray, quality: int = 90) -> Path:
    """Encode with OpenCV and write ``path`` (folders created)."""
    import cv2

    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise OSError(f"OpenCV could not encode {path.name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())
    return path


def thumbnail(image: np.ndarray, width: int = THUMB_WIDTH) -> np.ndarray:
    """``image`` scaled to ``width`` (never up)."""
    import cv2

    h, w = image.shape[:2]
    if w <= width:
        return image
    return cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import cv2

    return image if image.shape[1::-1] == size else cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def contact_sheet(frames: list[np.ndarray], marked: int, width: int = THUMB_WIDTH) -> np.ndarray:
    """``frames`` tiled left to right, top to bottom; frame ``marked`` (the alert) framed in red."""
    import cv2

    thumbs = [thumbnail(f, width) for f in frames]
    h, w = thumbs[marked].shape[:2]
    thumbs = [_fit(t, (w, h)) for t in thumbs]
    thumbs[marked] = cv2.rectangle(thumbs[marked].copy(), (0, 0), (w - 1, h - 1), FIRED_COLOUR, 4)
    cols = min(len(thumbs), max(1, math.ceil(math.sqrt(len(thumbs)))))
    rows = math.ceil(len(thumbs) / cols)
    sheet = np.zeros((rows * h, cols * w, 3), dtype=np.uint8)
    for i, t in enumerate(thumbs):
        r, c = divmod(i, cols)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = t
    return sheet


def write_clip(path: Path, frames: list[np.ndarray], fps: float, width: int = 640) -> Path:
    """An MP4 (``mp4v``) of ``frames`` at ``fps``, scaled to ``width`` (even sizes, as codecs want)."""
    import cv2

    first = thumbnail(frames[0], width)
    h, w = first.shape[:2]
    size = (w - w % 2, h - h % 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
    if not writer.isOpened():
        raise OSError(f"OpenCV could not open a video writer for {path.name}")
    try:
        for frame in frames:
            writer.write(_fit(thumbnail(frame, width), size))
    finally:
        writer.release()
    return path


def _when(wall_time: float) -> str:
    return datetime.fromtimestamp(wall_time, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def alert_record(alert: Alert, meta: dict[str, Any], task: str) -> dict[str, Any]:
    """The ``alerts.jsonl`` line of ``alert`` (``meta``: wall_time, source, mode, camera, event_id from the frame
    loop), with its file fields still empty. ``frame_index`` is the frame's number in its source from 0 (a video's
    own frame number), the same number as in its file names and messages."""
    details = alert.as_dict()
    del details["time"]  # the rule's clock (video time or wall clock): given below as video_time
    return {
        "kind": "detection", "event_id": meta["event_id"], "update": alert.update, "time": _when(meta["wall_time"]),
        "camera": meta["camera"], "source": meta["source"], "mode": meta["mode"], "frame_index": alert.frame_index,
        "video_time": round(alert.time, 3) if meta["mode"] == "video" else None, "task": task,
        "class": alert.detections[0].cls if alert.detections else None,
        **details, "image": None, "sheet": None, "clip": None,
    }  # fmt: skip


def end_record(end: EventEnd, meta: dict[str, Any], first: dict[str, Any] | None) -> dict[str, Any]:
    """The ``alerts.jsonl`` line of an event's end: how long it lasted, over how many frames, its best confidence
    and frame; ``image`` is its best frame (its first image when that was the best), ``first_image`` its first."""
    first = first or {}
    return {
        "kind": "detection_end", "event_id": meta["event_id"], "time": _when(meta["wall_time"]),
        "camera": meta["camera"], "source": first.get("source"), "mode": first.get("mode"), "rule": end.rule,
        "severity": end.severity, "subject": end.subject, "zone": end.zone, "class": end.cls,
        "start_frame": end.start_index, "end_frame": end.end_index, "frames": end.frames,
        "duration": round(end.duration, 3), "best_conf": float(f"{end.best_conf:.4g}"), "best_frame": end.best_index,
        "alerts": end.alerts, "message": end.message, "started": first.get("time"), "image": None,
        "first_image": first.get("image"),
    }  # fmt: skip


def write_files(record: dict[str, Any], result, highlight: Sequence[Detection], zones: Sequence[Zone],
                line: Line | None, folder: Path, stem: str, before: list, after: list, fps: float, quality: int,
                sheet: bool, clip: bool) -> list[str]:  # fmt: skip
    """Write ``<stem>.jpg``, the annotated frame (and the sheet / clip of ``before`` + it + ``after``); fill
    ``record``'s paths. Returns notes on what could not be made: a failed image never loses the alert itself."""
    try:
        annotated = annotate(result, highlight, zones, line)
        record["image"] = str(write_jpeg(folder / f"{stem}.jpg", annotated, quality))
        time.sleep(0)  # let the frame loop take the GIL between the stages of this work
        frames = [*before, annotated, *after]
        if len(frames) > 1 and sheet:
            record["sheet"] = str(write_jpeg(folder / f"{stem}_sheet.jpg", contact_sheet(frames, len(before)), quality))
        if len(frames) > 1 and clip:
            record["clip"] = str(write_clip(folder / f"{stem}.mp4", frames, fps))
    except Exception as e:
        return [f"image failed: {type(e).__name__}: {e}"]
    return []


def mirror_files(record: dict[str, Any], mirror, mirror_url: str | None) -> list[str]:
    """Copy the alert's files to ``mirror`` (verified); add ``<kind>_url`` links. Returns notes on failures."""
    try:
        mirror.prepare()
    except Exception as e:
        return [_mirror_note(e)]
    for key in ("image", "sheet", "clip"):
        if record.get(key):
            path = Path(record[key])
            try:
                mirror.put_file(path, path.name)
            except Exception as e:  # the alert and its local files stand; the note says what is missing
                return [_mirror_note(e)]
            if mirror_url:
                record[f"{key}_url"] = f"{mirror_url.rstrip('/')}/{path.name}"
    return []


def _mirror_note(error: Exception) -> str:
    return f"mirror failed: {type(error).__name__}: {error}"
