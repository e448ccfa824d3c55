"""Score detection alerts and tracks against a scene's ground truth (``datasets/make_scene.py``): pure functions.

Plain data in, plain data out: no numpy, no files, no Ultralytics, so the test suite can call these on scripted
tables as well as on a real tracking run.

- :func:`gt_frames` turns a scene's ``scene_<seed>.boxes.json`` into one ``{subject: (box, visible)}`` per frame;
- :func:`match_frame` pairs one frame's predicted boxes with ground-truth boxes (greedy, highest IoU first);
- :func:`map_tracks` names each track id after the ground-truth subject it covered most often;
- :func:`track_quality` counts, per subject, missed frames and track-id switches, and the false boxes;
- :func:`score_alerts` computes precision and recall per rule with a frame tolerance.

Boxes are ``(x1, y1, x2, y2)`` in pixels. A track frame is a sequence of ``(track_id, box, ...)`` (anything after
the box, e.g. class and confidence, is ignored); ``track_frames[i]`` is frame ``i``.

Example:
    >>> events = [{"rule": "enter", "subject": "obj1", "frame": 10}, {"rule": "enter", "subject": "obj2", "frame": 30}]
    >>> alerts = [{"rule": "enter", "track_id": 4, "frame": 12}, {"rule": "enter", "track_id": 5, "frame": 31},
    ...           {"rule": "enter", "track_id": 4, "frame": 50}]
    >>> s = score_alerts(events, alerts, track_map={4: "obj1", 5: "obj9"}, tolerance=3)["enter"]
    >>> s["tp"], s["fp"], s["fn"], round(s["precision"], 3), s["recall"]
    (1, 2, 1, 0.333, 0.5)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence

Box = Sequence[float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two ``(x1, y1, x2, y2)`` boxes.

    >>> iou((0, 0, 10, 10), (5, 0, 15, 10))
    0.3333333333333333
    """
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def gt_frames(boxes_json: Mapping) -> list[dict[str, tuple[tuple[float, float, float, float], float]]]:
    """``[{subject: (box, visible), ...} per frame]`` from a scene's boxes JSON (``visible`` in 0-1)."""
    frames: list[dict] = [{} for _ in range(int(boxes_json["frames"]))]
    for subject, obj in boxes_json["objects"].items():
        for i, row in enumerate(obj["boxes"]):
            frames[obj["first"] + i][subject] = (tuple(row[:4]), float(row[4]) if len(row) > 4 else 1.0)
    return frames


def _box_of(gt_value) -> Box:
    """A ground-truth value is a box, or ``(box, visible)``."""
    return gt_value[0] if len(gt_value) == 2 and isinstance(gt_value[0], Sequence) else gt_value


def match_frame(gt: Mapping[str, object], preds: Iterable, min_iou: float = 0.3, keep: Mapping | None = None) -> dict:
    """``{track_id: subject}`` for one frame: pairs by IoU, highest first, each side used once, IoU >= ``min_iou``.

    ``gt`` maps subject to a box or to ``(box, visible)``; ``preds`` are ``(track_id, box, ...)``. ``keep``, the
    previous frame's ``{track_id: subject}``, is kept first wherever its pair still overlaps by ``min_iou`` (the
    CLEAR-MOT rule: two boxes on top of each other do not swap ids back and forth in the count;
    :func:`track_quality` passes each id's latest subject).

    >>> match_frame({"a": (0, 0, 10, 10), "b": (20, 0, 30, 10)}, [(7, (1, 0, 11, 10)), (8, (50, 0, 60, 10))])
    {7: 'a'}
    >>> match_frame({"a": (0, 0, 10, 10), "b": (1, 0, 11, 10)}, [(7, (1, 0, 11, 10))], keep={7: "a"})
    {7: 'a'}
    """
    pairs = []
    for pred in preds:
        tid, box = pred[0], pred[1]
        for subject, value in gt.items():
            overlap = iou(box, _box_of(value))
            if overlap >= min_iou:
                kept = keep is not None and keep.get(tid) == subject
                pairs.append((not kept, -overlap, str(subject), tid))
    pairs.sort(key=lambda p: (p[0], p[1], p[2], str(p[3])))
    pairs = [(o, s, t) for _, o, s, t in pairs]
    used_gt, out = set(), {}
    for _, subject, tid in pairs:
        if subject not in used_gt and tid not in out:
            used_gt.add(subject)
            out[tid] = subject
    return out


def map_tracks(gt: Sequence[Mapping], track_frames: Sequence[Iterable], min_iou: float = 0.3) -> dict:
    """``{track_id: subject}``: each track id is the subject it was matched to in most frames (ties: the subject
    matched first). A track that never overlaps a ground-truth box by ``min_iou`` is left out (a false track).

    >>> gt = [{"a": (0, 0, 10, 10)}, {"a": (1, 0, 11, 10)}, {"a": (2, 0, 12, 10)}]
    >>> map_tracks(gt, [[(1, (0, 0, 10, 10))], [(1, (1, 0, 11, 10))], [(2, (2, 0, 12, 10)), (3, (40, 40, 50, 50))]])
    {1: 'a', 2: 'a'}
    """
    votes: dict = defaultdict(Counter)
    first: dict = {}
    for f, preds in enumerate(track_frames):
        gt_f = gt[f] if f < len(gt) else {}
        for tid, subject in match_frame(gt_f, list(preds), min_iou).items():
            votes[tid][subject] += 1
            first.setdefault((tid, subject), f)
    order = sorted(votes, key=lambda t: (type(t).__name__, t))
    return {tid: max(votes[tid], key=lambda s: (votes[tid][s], -first[(tid, s)])) for tid in order}


def track_quality(gt: Sequence[Mapping], track_frames: Sequence[Iterable], min_iou: float = 0.3, min_visible: float = 0.5) -> dict:
    """How well tracks follow the ground truth, frame by frame.

    Returns ``{"subjects": {subject: {"expected", "matched", "missed", "id_switches", "ids"}}, "false_boxes": n,
    "boxes": n, "id_switches": n, "missed": n, "expected": n}``:

    - ``expected``: frames where the subject is at least ``min_visible`` visible (a shape mostly off-frame or
      hidden is not expected, but a box on it is not false either);
    - ``missed``: expected frames with no track box matched to it;
    - ``id_switches``: how often the id matched to the subject changes from one matched frame to the next (gaps
      in between do not count; coming back under a new id does); an id keeps its latest subject while their
      boxes overlap by ``min_iou`` (see :func:`match_frame`);
    - ``ids``: every track id matched to it, in order of first match;
    - ``false_boxes``: track boxes matched to no subject.

    >>> gt = [{"a": ((0, 0, 10, 10), 1.0)}] * 4
    >>> q = track_quality(gt, [[(1, (0, 0, 10, 10))], [], [(2, (0, 0, 10, 10)), (3, (30, 30, 40, 40))], [(2, (0, 0, 10, 10))]])
    >>> q["subjects"]["a"], q["false_boxes"]
    ({'expected': 4, 'matched': 3, 'missed': 1, 'id_switches': 1, 'ids': [1, 2]}, 1)
    """
    subjects: dict[str, dict] = {}
    last_id: dict[str, object] = {}
    false_boxes = boxes = 0
    memory: dict = {}  # each track id's latest subject, across the frames it was missing
    for f, preds in enumerate(track_frames):
        preds = list(preds)
        gt_f = gt[f] if f < len(gt) else {}
        matched = match_frame(gt_f, preds, min_iou, keep=memory)
        memory.update(matched)
        boxes += len(preds)
        false_boxes += len(preds) - len(matched)
        by_subject = {s: tid for tid, s in matched.items()}
        for subject, value in gt_f.items():
            rec = subjects.setdefault(subject, {"expected": 0, "matched": 0, "missed": 0, "id_switches": 0, "ids": []})
            visible = value[1] if len(value) == 2 and isinstance(value[0], Sequence) else 1.0
            tid = by_subject.get(subject)
            if visible >= min_visible:
                rec["expected"] += 1
                rec["missed"] += tid is None
            if tid is not None:
                rec["matched"] += 1
                if subject in last_id and last_id[subject] != tid:
                    rec["id_switches"] += 1
                last_id[subject] = tid
                if tid not in rec["ids"]:
                    rec["ids"].append(tid)
    for f in range(len(track_frames), len(gt)):  # frames the tracker never produced
        for subject, value in gt[f].items():
            rec = subjects.setdefault(subject, {"expected": 0, "matched": 0, "missed": 0, "id_switches": 0, "ids": []})
            if (value[1] if len(value) == 2 and isinstance(value[0], Sequence) else 1.0) >= min_visible:
                rec["expected"] += 1
                rec["missed"] += 1
    total = lambda key: sum(r[key] for r in subjects.values())  # noqa: E731
    return {"subjects": subjects, "false_boxes": false_boxes, "boxes": boxes, "id_switches": total("id_switches"),
            "missed": total("missed"), "expected": total("expected")}  # fmt: skip


def _subject_of(alert: Mapping, track_map: Mapping | None):
    if alert.get("subject") is not None:
        return alert["subject"]
    if track_map is not None and alert.get("track_id") is not None:
        return track_map.get(alert["track_id"])
    return None


def score_alerts(events: Iterable[Mapping], alerts: Iterable[Mapping], track_map: Mapping | None = None,
                 tolerance: int = 3, rules: Iterable[str] | None = None) -> dict[str, dict]:  # fmt: skip
    """Precision and recall of ``alerts`` against ground-truth ``events``, per rule.

    An event is ``{rule, subject, frame}``; an alert is ``{rule, frame}`` plus ``subject`` or ``track_id`` (turned
    into a subject through ``track_map``, e.g. from :func:`map_tracks`; an unmapped track names no subject). An alert
    is right when it has the event's rule and subject and ``|alert frame - event frame| <= tolerance``. Each event
    and each alert is matched at most once, and as many as possible are matched (per rule and subject, events and
    alerts in frame order, each event takes the earliest alert still free in its window: optimal for windows of
    equal width).

    Returns ``{rule: {"tp", "fp", "fn", "precision", "recall", "delays", "missed", "false"}}`` for every rule in
    ``rules`` (default: every rule of the events or the alerts), and ``"all"`` over them; ``delays`` are alert
    frame minus event frame of the matches, ``missed`` the unmatched events, ``false`` the unmatched alerts.
    Precision is 1.0 when nothing was alerted, recall 1.0 when nothing was expected.
    """
    events, alerts = list(events), list(alerts)
    wanted = list(rules) if rules is not None else sorted({e["rule"] for e in events} | {a["rule"] for a in alerts})
    out: dict[str, dict] = {}
    for rule in wanted:
        ev = defaultdict(list)
        al = defaultdict(list)
        for e in events:
            if e["rule"] == rule:
                ev[e["subject"]].append(e)
        for a in alerts:
            if a["rule"] == rule:
                al[_subject_of(a, track_map)].append(a)
        delays, missed, false = [], [], []
        for subject in set(ev) | set(al):
            es = sorted(ev.get(subject, []), key=lambda e: e["frame"])
            as_ = sorted(al.get(subject, []), key=lambda a: a["frame"]) if subject is not None else []
            used = [False] * len(as_)
            for e in es:
                for i, a in enumerate(as_):
                    if not used[i] and e["frame"] - tolerance <= a["frame"] <= e["frame"] + tolerance:
                        used[i] = True
                        delays.append(a["frame"] - e["frame"])
                        break
                else:
                    missed.append(e)
            false.extend(a for i, a in enumerate(as_) if not used[i])
            if subject is None:
                false.extend(al.get(None, []))
        tp = len(delays)
        out[rule] = _rates(tp, len(false), len(missed))
        out[rule].update(delays=sorted(delays), missed=sorted(missed, key=lambda e: e["frame"]),
                         false=sorted(false, key=lambda a: a["frame"]))  # fmt: skip
    tp, fp, fn = (sum(r[k] for r in out.values()) for k in ("tp", "fp", "fn"))
    out["all"] = _rates(tp, fp, fn)
    return out


def _rates(tp: int, fp: int, fn: int) -> dict:
    return {"tp": tp, "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0}  # fmt: skip
