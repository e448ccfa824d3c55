"""A detector trained by the suite on the scenes' drawings (once per session), and the scenes scored through the
product: every rule of each scene's ground truth attached to ``model.track(...)`` (datasets/scene_rules.py)."""

from __future__ import annotations

import sys
import time

import pytest

from tests.conftest import DATASETS, SESSION

sys.path.insert(0, str(DATASETS))  # datasets/ is data and scripts, not a package

SEEDS = (0, 1, 2)


@pytest.fixture(scope="session")
def scene_weights():
    """best.pt of the scene detector, trained once per session under the session's folder (the measured time is
    printed: it is most of what the scene tests cost)."""
    import scene_train

    work = SESSION / "scene"
    weights = work / "train" / "weights" / "best.pt"
    if not weights.exists():
        start = time.perf_counter()
        weights = scene_train.train_scene_model(work)
        print(f"\nscene detector trained in {time.perf_counter() - start:.1f} s")
    return weights


@pytest.fixture(scope="session")
def scene_runs(scene_weights):
    """``{seed: (truth json, run)}``: each scene tracked with its rules attached, in the session's folder."""
    import make_scene
    import scene_rules

    out = {}
    for seed in SEEDS:
        truth = SESSION / "scene" / "videos" / f"scene_{seed}.json"
        if not truth.exists():
            make_scene.make_scene(truth.parent, seed)
        out[seed] = (truth, scene_rules.run_scene(scene_weights, truth, SESSION / "scene" / f"run_{seed}"))
    return out
