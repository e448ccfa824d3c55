"""The scene's ground-truth rules as ``detection_alert`` rules, run through the product and scored.

A scene (``make_scene.py``) names five rules: ``enter`` / ``leave`` (its zone), ``line_in`` / ``line_out`` (its line,
``in_normal`` pointing in), ``dwell`` (its ``dwell_s``), with a parked object and a big one whose events must not
fire. :func:`rules_for` writes them as ``yolo_hooks.DetectionAlert`` options (with ``ignore_stationary`` and the
scene's area bounds, everything else at its default); :func:`run_scene` attaches them to ``model.track(...)`` on
the scene's video (ByteTrack, ``match_thresh: 0.9``) and reads the alerts back from ``alerts.jsonl``;
:func:`score` compares them with the ground truth (``scene_score.score_alerts``: right rule, right subject, within
``tolerance`` frames). The suite runs this on three scenes (``tests/scene/test_ground_truth.py``);
``benchmarks/bench_scene.py`` writes the table to ``benchmarks/RESULTS.md``.

Usage::

    python datasets/scene_rules.py WORK_DIR [SEED ...]    # train (cached in WORK_DIR), then score seeds (0 1 2)
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_scene  # noqa: E402
import scene_score  # noqa: E402

TRACKER = {"match_thresh": 0.9}  # ByteTrack: keeps a slow dweller's id in the zone (datasets/scene_train.py)
TOLERANCE = 3  # frames: the hysteresis bands delay an alert by 1-2 frames at the slowest, most slanted crossing


def rules_for(truth: dict) -> dict[str, dict]:
    """``{rule name: DetectionAlert options}`` for a scene's ground truth (the rule names are the scene's)."""
    from yolo_hooks.detection.geometry import Line

    line = Line(tuple(map(tuple, truth["line"])))
    (ax, ay), normal = truth["line"][0], truth["in_normal"]
    # the scene's "in" is towards in_normal; the product's is rightwards/downwards (Ultralytics' convention)
    inward = "in" if line.position(ax + normal[0] * 10, ay + normal[1] * 10, truth["width"], truth["height"])[0] > 0 \
        else "out"  # fmt: skip
    outward = "out" if inward == "in" else "in"
    common = {"cooldown": 0, "ignore_stationary": truth["stationary_s"], "min_area": truth["area_filter"]["min_area"],
              "max_area": truth["area_filter"]["max_area"], "anchor": truth["anchor"]}  # fmt: skip
    zone = truth["zone"]
    return {
        "enter": {**common, "zone": zone, "trigger": "enter"},
        "leave": {**common, "zone": zone, "trigger": "leave"},
        "line_in": {**common, "line": truth["line"], "direction": inward},
        "line_out": {**common, "line": truth["line"], "direction": outward},
        "dwell": {**common, "zone": zone, "dwell": truth["dwell_s"]},
    }


def tracker_yaml(folder: Path) -> Path:
    """ByteTrack with :data:`TRACKER` as a YAML file in ``folder``."""
    import scene_train

    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(scene_train.tracker_yaml("bytetrack.yaml", folder, **TRACKER))


def run_scene(weights, truth_json, folder, imgsz: int | None = None, **options) -> dict:
    """Track a scene's video with its rules attached (``options`` override every rule's), at ``imgsz`` (default:
    the size ``scene_train`` trains at); returns ``{"alerts":
    [{rule, track_id, frame}], "frames": [[(track_id, box), ...] per frame], "records": alerts.jsonl lines,
    "seconds"}``."""
    import scene_train
    from ultralytics import YOLO

    import yolo_hooks

    imgsz = imgsz or scene_train.IMGSZ  # the size the detector was trained at
    truth_json, folder = Path(truth_json), Path(folder)
    truth = json.loads(truth_json.read_text())
    model = YOLO(str(weights))
    hooks = [yolo_hooks.DetectionAlert(name=name, folder=str(folder / "alerts"), **{**opts, **options})
             for name, opts in rules_for(truth).items()]  # fmt: skip
    yolo_hooks.attach(model, *hooks)
    frames = []
    start = time.perf_counter()
    for r in model.track(str(truth_json.with_suffix(".mp4")), stream=True, persist=True, imgsz=imgsz, verbose=False,
                         tracker=str(tracker_yaml(folder)), project=str(folder), name="track", exist_ok=True):
        b = r.boxes
        frames.append([] if b is None or b.id is None else
                      list(zip(b.id.int().tolist(), [tuple(x) for x in b.xyxy.tolist()])))  # fmt: skip
    seconds = time.perf_counter() - start
    for hook in hooks:
        hook.close(30)
    lines = [json.loads(x) for x in (folder / "alerts" / "alerts.jsonl").read_text().splitlines()] \
        if (folder / "alerts" / "alerts.jsonl").exists() else []  # fmt: skip
    alerts = [{"rule": r["rule"], "track_id": r["track_ids"][0] if r["track_ids"] else None, "frame": r["frame_index"]}
              for r in lines if r["kind"] == "detection"]  # fmt: skip
    return {"alerts": alerts, "frames": frames, "records": lines, "seconds": seconds}


def score(truth_json, run: dict, tolerance: int = TOLERANCE) -> dict:
    """Precision and recall per rule of a :func:`run_scene` against the scene's ground truth."""
    truth, boxes = make_scene.load_scene(truth_json)
    track_map = scene_score.map_tracks(scene_score.gt_frames(boxes), run["frames"])
    return scene_score.score_alerts(truth["events"], run["alerts"], track_map, tolerance, rules=make_scene.RULES)


def table(results: dict[int, dict]) -> str:
    """Markdown: one row per rule, precision / recall over every seed, then each seed's ``P/R (tp fp fn)``."""
    seeds = sorted(results)
    rules = [*make_scene.RULES, "all"]
    head = "| rule | precision | recall | " + " | ".join(f"seed {s}: P/R (tp fp fn)" for s in seeds) + " |"
    lines = [head, "|---" * (len(seeds) + 3) + "|"]
    for rule in rules:
        tp, fp, fn = (sum(results[s][rule][k] for s in seeds) for k in ("tp", "fp", "fn"))
        cells = [f"{results[s][rule]['precision']:.2f}/{results[s][rule]['recall']:.2f} "
                 f"({results[s][rule]['tp']} {results[s][rule]['fp']} {results[s][rule]['fn']})" for s in seeds]  # fmt: skip
        precision, recall = tp / (tp + fp) if tp + fp else 1.0, tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"| {rule} | **{precision:.2f}** | **{recall:.2f}** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    import scene_train

    work = Path(argv[0])
    seeds = [int(s) for s in argv[1:]] or [0, 1, 2]
    weights = work / "train" / "weights" / "best.pt"
    if not weights.exists():
        weights = scene_train.train_scene_model(work)
    results = {}
    for seed in seeds:
        truth = work / "videos" / f"scene_{seed}.json"
        if not truth.exists():
            make_scene.make_scene(truth.parent, seed)
        run = run_scene(weights, truth, work / f"run_{seed}")
        results[seed] = score(truth, run)
        print(f"seed {seed}: tracked in {run['seconds']:.1f} s, {len(run['alerts'])} alerts", flush=True)
    print(table(results))


if __name__ == "__main__":
    main(sys.argv[1:])
