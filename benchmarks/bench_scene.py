"""Detection alerts against ground truth: every rule of generated scenes, through the product, as a table.

Draws scenes with known events (``datasets/make_scene.py``: objects entering and leaving a zone, crossing a line
each way, loitering, a parked object and a big one that must not fire, a crossing pair), trains the small shape
detector the test suite trains (``datasets/scene_train.py``; cached in the work folder), tracks each scene with
every rule attached to ``model.track(...)`` (``datasets/scene_rules.py``) and scores the alerts: precision and
recall per rule (an alert is right when it names the right subject within 3 frames of the event).

    python benchmarks/bench_scene.py [--seeds 0 1 2 3 4] [--work DIR]   # writes its section of RESULTS.md

It rewrites only its own section of ``benchmarks/RESULTS.md`` (between ``<!-- section: ground-truth -->`` markers);
``run.py`` keeps that section when it regenerates the rest.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.common import ROOT, machine, replace_section
except ImportError:  # run as a script
    from common import ROOT, machine, replace_section  # type: ignore

sys.path.insert(0, str(ROOT / "datasets"))
SECTION = "ground-truth"


def run(work: Path, seeds: list[int]) -> dict:
    import json

    import make_scene
    import scene_rules
    import scene_train

    weights = work / "train" / "weights" / "best.pt"
    train_s = None
    if not weights.exists():
        start = time.perf_counter()
        weights = scene_train.train_scene_model(work)
        train_s = time.perf_counter() - start
    summary = json.loads((weights.parents[1] / "summary.json").read_text())
    results, seconds = {}, {}
    for seed in seeds:
        truth = work / "videos" / f"scene_{seed}.json"
        if not truth.exists():
            make_scene.make_scene(truth.parent, seed)
        scene = scene_rules.run_scene(weights, truth, work / f"run_{seed}")
        results[seed], seconds[seed] = scene_rules.score(truth, scene), scene["seconds"]
        print(f"seed {seed}: {len(scene['alerts'])} alerts, tracked in {scene['seconds']:.1f} s", flush=True)
    return {"results": results, "seconds": seconds, "summary": summary, "train_s": train_s, "machine": machine()}


def report(out: dict) -> str:
    import scene_rules

    s = out["summary"]
    seeds = sorted(out["results"])
    trained = f"{out['train_s']:.0f} s" if out["train_s"] else f"{s['wall_s']:.0f} s (cached)"
    return "\n".join([
        "## Detection alerts against ground truth",
        "",
        f"`python benchmarks/bench_scene.py` on {out['machine']}: {len(seeds)} generated scenes (seeds "
        f"{', '.join(map(str, seeds))}; 384x256, 10 fps, 36 s, 11 objects each), a detector trained from scratch on "
        f"the same drawings ({s['epochs']} epochs in {trained}, val mAP50 {s['mAP50']:.3f}), tracked with ByteTrack "
        f"(`match_thresh: 0.9`, {sum(out['seconds'].values()) / len(seeds):.0f} s per scene with every rule attached). "
        "Every rule through `DetectionAlert` on `model.track(...)`, its options at their defaults but for the "
        "scene's geometry, `cooldown: 0`, `ignore_stationary` and the area bounds; an alert is right when it names the "
        "right subject within 3 frames of the event. Precision and recall over all scenes in bold; per scene "
        "`P/R (true, false, missed)`.",
        "",
        scene_rules.table(out["results"]),
        "",
        "Shows: that each rule fires once per event, on the right object, and never on the parked object (ignored "
        "as stationary) nor the big one (outside `max_area`), across scenes the rules were not tuned on. Does not "
        "show: real footage (lighting, occlusion by scenery, crowds), where the detector and the tracker, not the "
        "rules, set the ceiling; the alerts' delay is the hysteresis band (1-2 frames at these speeds).",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--work", type=Path, default=None, help="keep the detector and scenes here (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="yolo_hooks_bench_scene_") as tmp:
        text = report(run(args.work or Path(tmp), args.seeds))
    replace_section(ROOT / "benchmarks" / "RESULTS.md", SECTION, text)  # at the end, where run.py keeps it
    print(text)


if __name__ == "__main__":
    main()
