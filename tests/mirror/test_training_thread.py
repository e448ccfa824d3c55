"""What the training thread does for the mirror: read and ``stat``; naming and queueing run on the staging thread."""

from __future__ import annotations

import json
import threading

import pytest

from tests.conftest import train
from yolo_hooks.mirror.hook import BestMirror

pytestmark = pytest.mark.training


def test_a_new_best_is_named_and_queued_on_the_staging_thread(tmp_path, monkeypatch):
    """Every epoch's best.pt and resume set, and the final best.pt and set, are named (metrics in the template) and
    queued by the staging thread, in the order they were written: the final best.pt is the one that stays."""
    queued: list[tuple[str, str, str]] = []  # (kind, targets, thread)
    sets: list[tuple[str, str]] = []  # (set, thread)
    real_jobs, real_plan_set = BestMirror._jobs, BestMirror._plan_set

    def jobs(self, slot, kind, source, ident, save_dir, targets, *rest):
        queued.append((kind, ",".join(targets), threading.current_thread().name))
        return real_jobs(self, slot, kind, source, ident, save_dir, targets, *rest)

    def plan_set(self, due):
        sets.append((due.name.folder, threading.current_thread().name))
        return real_plan_set(self, due)

    monkeypatch.setattr(BestMirror, "_jobs", jobs)
    monkeypatch.setattr(BestMirror, "_plan_set", plan_set)
    mirror = BestMirror(to=str(tmp_path / "mirror"), name_template="best-{epoch}-{mAP50:.3f}.pt", last_every=1,
                        keep=None, strict=True)
    train(tmp_path, mirror, epochs=2, imgsz=64)

    staging = f"yolo_hooks-mirror-{mirror.name}-staging"
    assert {thread for _, _, thread in queued} == {thread for _, thread in sets} == {staging}
    assert [kind for kind, _, _ in queued] == ["best", "best", "final"]
    assert queued[0][1] == "best-1-0.000.pt,best.pt" and queued[1][1] == "best-2-0.000.pt,best.pt"
    assert [name for name, _ in sets] == ["resume/epoch0001", "resume/epoch0002", "resume/epoch0002-final"]
    assert json.loads((tmp_path / "mirror" / "best.json").read_text())["final"] is True
    assert {"best-1-0.000.pt", "best-2-0.000.pt", "best.pt", "resume"} <= {p.name for p in (tmp_path / "mirror").iterdir()}
    assert json.loads((tmp_path / "mirror" / "resume" / "epoch0002-final.json").read_text())["final"] is True
    assert all(r.ok for r in mirror.results)


def test_a_copy_still_unplanned_at_the_end_of_the_run_is_reported_missing(tmp_path):
    """The staging thread is still busy when the run's time is up: the final best.pt it has not yet queued is
    reported as missing for every store, like a queued copy, never dropped in silence."""
    from yolo_hooks.mirror.staging import STAGING

    mirror = BestMirror(to=[str(tmp_path / "a"), str(tmp_path / "b")], flush_timeout=0.2)
    published = []
    mirror.publish = lambda event, *_, **data: published.append((event, data["store"], data["file"]))
    busy = threading.Event()
    mirror.hold_staging_thread = lambda: busy.wait(10)  # e.g. a long staging copy of an earlier checkpoint
    mirror.too_late = lambda: pytest.fail("a plan ran after the end of the run")
    mirror._plan([], None, "hold_staging_thread")
    mirror._plan([("final", tmp_path / "best.pt")], 8, "too_late")
    try:
        mirror._finish(tmp_path / STAGING, 0.2)
    finally:
        busy.set()

    assert [(r.ok, r.kind, r.file, r.epoch) for r in mirror.results] == [(False, "final", "best.pt", 8)] * 2
    assert "still not uploaded at the end of the run" in mirror.results[0].error
    assert str(tmp_path / "best.pt") in mirror.results[0].error
    assert published == [("mirror_failed", str(tmp_path / "a"), "best.pt"), ("mirror_failed", str(tmp_path / "b"), "best.pt")]
