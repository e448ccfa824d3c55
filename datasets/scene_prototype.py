"""PROTOTYPE (scratch, not part of yolo_hooks): zone / line / dwell / stationary / area rules on tracked boxes,
scored against a synthetic scene's ground truth, to find out what it takes to reach precision and recall >= 0.95.

Not an API: a sanity check of the chain generator -> detector -> tracker -> rules -> ``scene_score``. The rules are
plain functions over plain data (one ``step`` per track and frame), so the real implementation can lift them.

Rules (per track id, on the anchor point of its box; see ``Params``):

- **area**: a box whose area is outside ``[min_area, max_area]`` is ignored, and the track's state forgotten: a
  big object half out of the frame has a small box, and a state kept from its entry to its exit would see its
  anchor jump across the line;
- **stationary**: a track whose anchor stayed within ``stationary_px`` of its current place for ``stationary_s``
  stops counting (no zone, line or dwell alerts, its dwell clock stops); once it moves again it counts again,
  starting over (its zone side is taken as it is then, without an enter);
- **enter / leave**: the anchor is inside the zone polygon; with a hysteresis band ``zone_band_px``: a side
  changes only once the anchor is that far past the edge (an object first seen inside does not "enter");
- **line_in / line_out**: the signed distance to the line, towards ``in_normal``; a side is only taken at
  ``line_band_px`` or more from the line, and only where the anchor's projection falls on the segment; a
  change of side is a crossing (``line_in`` towards the normal);
- **dwell**: inside (the zone state above) without a break for ``dwell_s``: one alert per stay.

Alerts are ``{"rule", "track_id", "frame"}`` at the frame the rule decides (a live system could not report sooner).

Usage::

    python datasets/scene_prototype.py WORK_DIR [--seeds 0 1 2] [--tracker bytetrack.yaml] [--set match_thresh=0.9]

What it found (default scenes, the default detector of ``scene_train.py``, seeds 0-2 and 10-19, tolerance 3):

- ByteTrack (defaults, or ``match_thresh: 0.9``) and BoT-SORT with ``gmc_method: none``: precision and recall 1.0
  on every rule and seed. BoT-SORT's default ``sparseOptFlow`` on this still camera: one dwell late (0.5/0.5 on
  one seed of three); OC-SORT / Deep OC-SORT hand a lost id to a new object nearby (0.88 overall); FastTrack
  0.96; TrackTrack misses dwells;
- tolerance: the hysteresis bands delay alerts by 1 frame (sometimes 2): tolerance 2 is the least that passes,
  1 gives 0.76; without bands tolerance 1 passes (anchors here jitter by ~1 px);
- bands matter once anchors jitter: with 2 px of noise added to every box edge, no bands gives 0.67 and bands of
  3/4 px 1.0; bands of 6/8 px delay alerts past tolerance 3; ``stationary_px`` must exceed the jitter too;
- without the stationary rule, dwell precision drops to 0.67 (the stationary object); without the area filter,
  the big object's crossings cost 0.75-0.83 precision; the area filter must forget the track's state;
- objects twice as fast (7-10 px a frame): default ByteTrack splits a dweller's track in the zone (its dwell
  comes late: 0.0 on two seeds); ``match_thresh: 0.9`` fixes it. 5 fps and 15 fps: 1.0 (15 fps: more id switches
  in the crossing, none of them in an alert). Centre anchor: 1.0 too, and jitters less (0.7 vs 0.9 px).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


@dataclass(frozen=True)
class Params:
    zone: tuple
    line: tuple
    in_normal: tuple
    fps: float = 10.0
    anchor: str = "bottom_center"
    dwell_s: float = 4.0
    stationary_s: float = 2.0
    stationary_px: float = 6.0
    zone_band_px: float = 3.0
    line_band_px: float = 4.0
    min_area: float = 0.0
    max_area: float = math.inf


@dataclass
class TrackState:
    zone: bool | None = None  # inside the zone (None: not known yet)
    side: int | None = None  # +1 on the normal's side of the line, -1 the other, None: not known yet
    since: int | None = None  # first frame of the current stay inside
    dwelt: bool = False  # the current stay has fired its dwell alert
    still: bool = False  # stationary (not counting)
    history: deque = field(default_factory=deque)  # (frame, x, y) over the last stationary_s


# ---------------------------------------------------------------------------------------------------- geometry


def anchor_point(box, anchor: str) -> tuple[float, float]:
    x1, y1, x2, y2 = box[:4]
    return (x1 + x2) / 2, (y2 if anchor == "bottom_center" else (y1 + y2) / 2)


def inside_polygon(x: float, y: float, polygon) -> bool:
    inside, j = False, len(polygon) - 1
    for i in range(len(polygon)):
        (xi, yi), (xj, yj) = polygon[i], polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def edge_distance(x: float, y: float, polygon) -> float:
    best = math.inf
    for i in range(len(polygon)):
        (ax, ay), (bx, by) = polygon[i - 1], polygon[i]
        dx, dy = bx - ax, by - ay
        t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
        best = min(best, math.hypot(x - ax - t * dx, y - ay - t * dy))
    return best


def line_position(x: float, y: float, line, normal) -> tuple[float, float]:
    """``(signed distance towards normal, position along the segment 0..1)``."""
    (ax, ay), (bx, by) = line
    dx, dy = bx - ax, by - ay
    return (x - ax) * normal[0] + (y - ay) * normal[1], ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)


# ---------------------------------------------------------------------------------------------------- rules


def step_stationary(state: TrackState, frame: int, x: float, y: float, p: Params) -> bool:
    """Update the track's history; is it stationary now (observed for stationary_s, never farther than
    stationary_px from here)?"""
    state.history.append((frame, x, y))
    window = p.stationary_s * p.fps
    while state.history and frame - state.history[0][0] > window:
        state.history.popleft()
    if frame - state.history[0][0] < window - 0.5:
        return False
    return all(math.hypot(x - hx, y - hy) <= p.stationary_px for _, hx, hy in state.history)


def step_zone(state: TrackState, frame: int, x: float, y: float, p: Params) -> list[str]:
    inside = inside_polygon(x, y, p.zone)
    if state.zone is not None and inside != state.zone and edge_distance(x, y, p.zone) < p.zone_band_px:
        inside = state.zone  # in the band: keep the side it had
    fired = []
    if state.zone is not None and inside != state.zone:
        fired.append("enter" if inside else "leave")
    if inside and not state.zone:
        state.since, state.dwelt = frame, False
    state.zone = inside
    if inside and not state.dwelt and frame - state.since >= p.dwell_s * p.fps - 1e-9:
        state.dwelt = True
        fired.append("dwell")
    if not inside:
        state.since = None
    return fired


def step_line(state: TrackState, x: float, y: float, p: Params) -> list[str]:
    dist, along = line_position(x, y, p.line, p.in_normal)
    if not 0.0 <= along <= 1.0:
        state.side = None  # beyond an end: going round it is no crossing
        return []
    if abs(dist) < p.line_band_px:
        return []
    side = 1 if dist > 0 else -1
    fired = [] if state.side in (None, side) else ["line_in" if side > 0 else "line_out"]
    state.side = side
    return fired


def alerts_from_tracks(frames, p: Params) -> list[dict]:
    """Every alert of every track: ``[{"rule", "track_id", "frame"}]`` from ``[[(track_id, box, ...)] per frame]``."""
    states: dict = {}
    alerts = []
    for frame, rows in enumerate(frames):
        for row in rows:
            tid, box = row[0], row[1]
            area = (box[2] - box[0]) * (box[3] - box[1])
            if not p.min_area <= area <= p.max_area:
                states.pop(tid, None)  # out of the area range: as if unseen (no crossing across the gap)
                continue
            s = states.setdefault(tid, TrackState())
            x, y = anchor_point(box, p.anchor)
            still = step_stationary(s, frame, x, y, p)
            if still:
                s.still, s.since = True, None
                continue
            if s.still:  # moving again: start over, no enter for where it is now
                s.still, s.zone, s.side = False, None, None
            fired = step_zone(s, frame, x, y, p) + step_line(s, x, y, p)
            alerts.extend({"rule": r, "track_id": tid, "frame": frame} for r in fired)
    return alerts


def params_for(truth: dict, **overrides) -> Params:
    """The rule parameters for a scene's ground truth (its geometry, fps, dwell and area filter)."""
    return replace(Params(zone=tuple(map(tuple, truth["zone"])), line=tuple(map(tuple, truth["line"])),
                          in_normal=tuple(truth["in_normal"]), fps=truth["fps"], anchor=truth["anchor"],
                          dwell_s=truth["dwell_s"], stationary_s=truth["stationary_s"],
                          min_area=truth["area_filter"]["min_area"], max_area=truth["area_filter"]["max_area"]),
                   **overrides)  # fmt: skip


def score_scene(truth_json, frames, tolerance: int = 3, **overrides) -> dict:
    """Alerts from tracked ``frames`` on a scene, scored per rule (``scene_score.score_alerts``)."""
    import make_scene
    import scene_score

    truth, boxes = make_scene.load_scene(truth_json)
    track_map = scene_score.map_tracks(scene_score.gt_frames(boxes), frames)
    alerts = alerts_from_tracks(frames, params_for(truth, **overrides))
    return scene_score.score_alerts(truth["events"], alerts, track_map, tolerance, rules=make_scene.RULES)


def table(results: dict[int, dict]) -> str:
    """Markdown: one row per rule, ``P/R (tp fp fn)`` per seed."""
    seeds = sorted(results)
    rules = [r for r in next(iter(results.values())) if r != "all"] + ["all"]
    lines = ["| rule | " + " | ".join(f"seed {s}" for s in seeds) + " |", "|---" * (len(seeds) + 1) + "|"]
    for rule in rules:
        cells = [f"{results[s][rule]['precision']:.2f}/{results[s][rule]['recall']:.2f} "
                 f"({results[s][rule]['tp']} {results[s][rule]['fp']} {results[s][rule]['fn']})" for s in seeds]  # fmt: skip
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import make_scene
    import scene_train

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--tracker", default="bytetrack.yaml")
    ap.add_argument("--set", nargs="*", default=[], help="tracker settings, key=value (YAML values)")
    ap.add_argument("--rule", nargs="*", default=[], help="Params overrides, key=value (numbers)")
    ap.add_argument("--tolerance", type=int, default=3)
    args = ap.parse_args(argv)
    import yaml

    settings = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    overrides = {k: float(v) for k, v in (s.split("=", 1) for s in args.rule)}
    weights = args.work / "train" / "weights" / "best.pt"
    if not weights.exists():
        weights = scene_train.train_scene_model(args.work)
    results = {}
    for seed in args.seeds:
        truth = args.work / "videos" / f"scene_{seed}.json"
        if not truth.exists():
            start = time.perf_counter()
            make_scene.make_scene(truth.parent, seed)
            print(f"seed {seed}: scene drawn in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        frames = scene_train.track_video(weights, truth.with_suffix(".mp4"), args.tracker, **settings)
        wall = time.perf_counter() - start
        q = scene_train.evaluate_tracks(truth, frames)
        print(f"seed {seed}: tracked in {wall:.1f} s; missed {q['missed']}/{q['expected']}, id switches "
              f"{q['id_switches']}, false boxes {q['false_boxes']}")  # fmt: skip
        results[seed] = score_scene(truth, frames, args.tolerance, **overrides)
    print(table(results))
    print(json.dumps({s: {r: v for r, v in res.items() if r != "all" and (v["missed"] or v["false"])}
                      for s, res in results.items()}, default=str)[:3000])  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
