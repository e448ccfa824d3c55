"""One Ultralytics ``Results`` as the plain data the detection rules read (:class:`~yolo_hooks.detection.rules.Frame`).

This runs on the frame loop, once per frame, so it is written for the common case: a frame where nothing reaches
the rule's confidence. Then the only work is the confidence column as a Python list and its ``max`` (one tensor
slice, one copy of a few hundred floats: measured cheaper in the live predict loop than numpy or torch reductions,
whose first call after inference pays cold caches). Only the rows that pass are converted, and they become
``Detection`` tuples (a named tuple is built several times faster than a frozen dataclass).

Examples:
    >>> frame_of(result, index=0, now=0.0, min_conf=0.5, ids=None, names={0: "person"})  # doctest: +SKIP
    Frame(index=0, time=0.0, width=640, height=480, detections=())
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .rules import Detection, Frame


def class_ids(wanted: tuple[str, ...] | None, names: dict[int, str]) -> frozenset[int] | None:
    """The ids of the ``wanted`` class names (None: every class). Looked up with the float ids of a tensor row:
    ``0.0 in {0}`` holds."""
    if wanted is None:
        return None
    return frozenset(i for i, name in names.items() if name in wanted)


def frame_of(result: Any, index: int, now: float, min_conf: float, ids: frozenset[int] | None,
             names: dict[int, str]) -> Frame:  # fmt: skip
    """The frame's detections that can matter (confidence, then class, filtered first) as plain data."""
    height, width = result.orig_shape[:2]
    return Frame(index, now, width, height, detections_of(result, min_conf, ids, names))


def detections_of(result: Any, min_conf: float, ids: frozenset[int] | None, names: dict[int, str]) -> tuple[Detection, ...]:
    """The detections of ``result`` at ``min_conf`` or more, of the classes ``ids``: boxes (detect, segment,
    pose), oriented boxes (their enclosing box), or classify's top-1 class."""
    boxes = result.boxes
    if boxes is None:
        boxes = getattr(result, "obb", None)
        if boxes is None:
            return _top1(result, names)
    data = boxes.data
    confs = data.select(1, -2).tolist()
    if not confs or max(confs) < min_conf:  # the quiet frame: nothing else is touched
        return ()
    return _picked(result, boxes, data, confs, min_conf, ids, names)


def _picked(result: Any, boxes: Any, data: Any, confs: list[float], min_conf: float, ids: frozenset[int] | None,
            names: dict[int, str]) -> tuple[Detection, ...]:  # fmt: skip
    if ids is None:
        rows = [i for i, p in enumerate(confs) if p >= min_conf]
    else:  # the class column too, filtered in Python: a set lookup per box, no numpy scalar per box
        rows = [i for i, (p, c) in enumerate(zip(confs, data.select(1, -1).tolist())) if p >= min_conf and c in ids]
        if not rows:
            return ()
    picked = (data if len(rows) == len(confs) else data[rows]).tolist()  # [x1, y1, x2, y2, (track id,) conf, class]
    xyxy = [row[:4] for row in picked] if result.boxes is not None else _obb_xyxy(boxes)[rows].tolist()
    get, new = names.get, tuple.__new__  # Detection(...) without its Python-level __new__: one per object per frame
    if boxes.is_track:
        return tuple(new(Detection, (get(int(r[-1])) or str(int(r[-1])), r[-2], tuple(b), int(r[-3])))
                     for r, b in zip(picked, xyxy))  # fmt: skip
    return tuple(new(Detection, (get(int(r[-1])) or str(int(r[-1])), r[-2], tuple(b), None)) for r, b in zip(picked, xyxy))


def _top1(result: Any, names: dict[int, str]) -> tuple[Detection, ...]:
    probs = getattr(result, "probs", None)
    if probs is None:
        return ()
    top1, top1conf = int(probs.top1), float(probs.top1conf)
    return (Detection(names.get(top1, str(top1)), top1conf),)


def _obb_xyxy(obb: Any) -> np.ndarray:
    xyxy = obb.xyxy
    return xyxy.cpu().numpy() if hasattr(xyxy, "cpu") else np.asarray(xyxy)
