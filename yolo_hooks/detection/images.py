"""Capture files of a detection alert, made on the background worker (never on the frame loop).

- the annotated frame: Ultralytics' own ``Results.plot()``, every zone outlined, the objects that fired the alert
  boxed again in red with their track id, encoded as JPEG with OpenCV;
- a contact sheet (``before`` frames, the alert frame, ``after`` frames, downscaled and tiled) and/or a short MP4
  clip of the same frames (OpenCV ``VideoWriter``, ``mp4v``);
- one JSON line per alert in ``alerts.jsonl``.

Examples:
    >>> img = annotate(result, alert, zones)  # doctest: +SKIP
    >>> write_jpeg(Path("alerts/a.jpg"), img, quality=90)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .rules import Alert, Zone

ZONE_COLOUR = (0, 215, 255)  # BGR yellow
FIRED_COLOUR = (0, 0, 255)  # BGR red
THUMB_WIDTH = 320  # contact sheet / clip frames are downscaled to this width
ALERTS_LOG = "alerts.jsonl"


def annotate(result, alert: Alert, zones: Sequence[Zone], conf_shown: bool = True) -> np.ndarray:
    """The alert frame: Ultralytics' plot, zones outlined, the alert's objects highlighted (BGR uint8)."""
    import cv2

    image = result.plot(conf=conf_shown)
    height, width = image.shape[:2]
    thickness = max(2, round((height + width) / 400))
    for zone in zones:
        pts = np.array(zone.pixels(width, height), dtype=np.int32).reshape(-1, 1, 2)
        cv2.polylines(image, [pts], isClosed=True, color=ZONE_COLOUR, thickness=thickness)
    for det in alert.detections:
        if det.box is None:
            continue
        x1, y1, x2, y2 = (int(round(v)) for v in det.box)
        cv2.rectangle(image, (x1, y1), (x2, y2), FIRED_COLOUR, thickness * 2)
        label = det.cls if det.track_id is None else f"{det.cls} #{det.track_id}"
        cv2.putText(image, label, (x1, max(12, y1 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, FIRED_COLOUR, 2, cv2.LINE_AA)
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


def append_record(folder: Path, record: dict[str, Any]) -> Path:
    """Append one JSON line to ``<folder>/alerts.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ALERTS_LOG
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return path


def alert_record(alert: Alert, meta: dict[str, Any], task: str) -> dict[str, Any]:
    """The ``alerts.jsonl`` line of ``alert`` (``meta``: wall_time, source, mode, video_frame from the frame loop),
    with its file fields still empty."""
    when = datetime.fromtimestamp(meta["wall_time"], timezone.utc).isoformat(timespec="milliseconds")
    details = alert.as_dict()
    del details["time"]  # the rule's clock (video time or wall clock): given below as video_time or time
    return {
        "time": when.replace("+00:00", "Z"), "source": meta["source"], "mode": meta["mode"],
        "frame_index": alert.frame_index, "video_frame": meta["video_frame"],
        "video_time": None if meta["video_frame"] is None else round(alert.time, 3), "task": task,
        **details, "image": None, "sheet": None, "clip": None,
    }  # fmt: skip


def write_files(record: dict[str, Any], result, alert: Alert, zones: Sequence[Zone], folder: Path, stem: str,
                before: list, after: list, fps: float, quality: int, sheet: bool, clip: bool) -> list[str]:  # fmt: skip
    """Write ``<stem>.jpg``, the annotated frame (and the sheet / clip of ``before`` + it + ``after``); fill
    ``record``'s paths. Returns notes on what could not be made: a failed image never loses the alert itself."""
    try:
        annotated = annotate(result, alert, zones)
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
