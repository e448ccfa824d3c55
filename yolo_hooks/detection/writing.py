"""The image worker's side of a detection alert: one capture in, its files, its ``alerts.jsonl`` line, the review
page, retention and the bus event out (never on the frame loop).

An alert (``detection``) gets its annotated frame, contact sheet and clip; an event's end (``detection_end``)
gets its best frame, unless its first frame was its best (then its ``image`` is the first one). A failed image
never loses the record: a note says what is missing.

Examples:
    >>> write_capture(weakref.ref(hook), capture)  # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from pathlib import Path

from . import images
from .folder import folder_of
from .handover import Capture
from .rules import Alert


def write_capture(ref: weakref.ref, capture: Capture) -> None:
    """Draw, encode, write the files and the record, then publish (on the worker thread)."""
    hook = ref()
    if hook is None:
        return
    meta = capture.record
    about = meta.pop("about", None)  # the call the event began in, though the next may have started since
    folder = Path(meta["folder"])
    alerts = folder_of(folder)
    is_alert = isinstance(capture.alert, Alert)
    if is_alert:
        record = images.alert_record(capture.alert, meta, hook._task)
    else:
        record = images.end_record(capture.alert, meta, alerts.first_record(meta["event_id"]))
    notes = [capture.note] if capture.note else []
    if capture.result is not None:
        result = capture.result.cpu()  # boxes, masks, keypoints, probs: the same tensors when already on the CPU
        result.orig_img = capture.image
        rule = hook.cameras.for_camera(meta["camera"]) or hook.rule
        highlight = capture.alert.detections if is_alert else capture.highlight
        notes += images.write_files(record, result, highlight, rule.zones, rule.line, folder, meta["stem"],
                                    capture.before, capture.after, capture.fps, hook.jpeg_quality,
                                    hook.sheet, hook.clip)  # fmt: skip
        if is_alert and record.get("sheet"):
            record["sheet_tiles"] = len(capture.before) + 1 + len(capture.after)
    elif not is_alert:
        record["image"] = record["first_image"]  # its first frame was its best
    if hook.mirror is not None and (is_alert or record["image"] != record["first_image"]):
        notes += images.mirror_files(record, hook.mirror, hook.mirror_url)
    if notes:
        record["note"] = "; ".join(notes)
    notes = alerts.add(record, hook.keep, hook.review)
    for note in notes:
        hook.log(note, "warning")
    hook.records.append(record)
    hook._handover.done(capture)
    data = {k: v for k, v in record.items() if k != "message"}
    if is_alert:
        hook.log(f"{meta['camera']}: {capture.alert.message}" + (f" -> {record['image']}" if record["image"] else ""),
                 "warning")
        hook.publish("detection", capture.alert.message, capture.alert.severity, about=about, **data)
    else:
        # with its start's filters
        hook.publish("detection_end", capture.alert.message, capture.alert.severity, about=about, **data)
