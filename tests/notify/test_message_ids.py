"""A message's id is the identity of what it announces: never shared by two announcements, the same on every re-send.

A real training with every hook that publishes (val-loss alerts, a learning-rate reduction, the mirror with
``last_every``) sends every event to an endpoint that drops every other request after taking it, so each message
arrives twice (a re-send); the receiver groups what it got by id.
"""

from __future__ import annotations

import collections
import json

import pytest

from tests.conftest import train
from yolo_hooks import BestMirror, FitnessReport, Notify, ReduceLROnPlateau, ValLossAlert

pytestmark = pytest.mark.training


def announcement(message: dict) -> str:
    """What a message says (everything but when it was made)."""
    return json.dumps({k: v for k, v in message.items() if k != "time"}, sort_keys=True)


def test_a_full_run_gives_each_announcement_its_own_id_and_keeps_it_on_every_resend(tmp_path, endpoint):
    endpoint.cycle("drop", "ok")  # each message is taken, the sender cannot know, and sends it again
    hooks = [
        Notify(format="json", url=endpoint.url, events="all", progress_every=1, backoff=0.01, max_backoff=0.02,
               strict=True),
        BestMirror(to=str(tmp_path / "mirror"), last_every=1, keep=1, strict=True),
        ValLossAlert(above={"val/loss": 0.001}, rise=None, warmup=0, repeat_every=1, strict=True),
        ReduceLROnPlateau(monitor="fitness", patience=1, min_delta=10, strict=True),
        FitnessReport(strict=True),
    ]
    train(tmp_path, *hooks, epochs=2, imgsz=64)
    by_id = collections.defaultdict(set)
    for message in endpoint.received():
        by_id[message["id"]].add(announcement(message))
    shared = {i: sorted(said) for i, said in by_id.items() if len(said) > 1}
    assert not shared, f"ids shared by different announcements: {shared}"
    assert collections.Counter(endpoint.ids()).most_common(1)[0][1] >= 2  # re-sent, under the same id

    events = {m["event"] for m in endpoint.delivered()}
    assert {"train_start", "epoch", "alert", "mirror_done", "train_end"} <= events
    copies = [m for m in endpoint.received() if m["event"] == "mirror_done"]
    assert all(m["title"].startswith(f"💾 {m['data']['file']} mirrored") for m in copies)  # titles name the file


def copy_announced(final: bool, sha256: str, ok: bool = True):
    """The message announcing one copy of last.pt of epoch 2, as the mirror and notify make it."""
    from yolo_hooks.core.bus import Published, event_id
    from yolo_hooks.mirror.upload import Result
    from yolo_hooks.mirror.workers import describe
    from yolo_hooks.notify.compose import published_message

    result = Result(ok=ok, kind="last", store="/mnt/backup", file="last.pt", epoch=2, fitness=0.5,
                    sha256=sha256 if ok else None, size=26_400_000 if not final else 5_400_000,
                    error=None if ok else "disk full", final=final)
    report = describe(result)
    event = Published(report.kind, "best_mirror", report.severity, report.text, report.data,
                      id=event_id("run-1", "best_mirror", report.kind, report.data))
    return published_message(event, {"run_id": "run-1", "name": "train"})


def test_the_last_epochs_last_pt_and_the_stripped_one_after_training_are_two_announcements():
    epoch, stripped = copy_announced(False, "a" * 64), copy_announced(True, "b" * 64)
    assert epoch.id != stripped.id  # a receiver dropping duplicates by id keeps both
    assert epoch.id == copy_announced(False, "a" * 64).id  # announced again (a re-publish): the same id
    assert copy_announced(False, "", ok=False).id != copy_announced(True, "", ok=False).id  # failures too
    assert (epoch.title, stripped.title) == ("💾 last.pt mirrored — train", "💾 last.pt mirrored — train")
    assert copy_announced(True, "", ok=False).title == "❌ Mirroring last.pt failed — train"
    assert "final last last.pt (epoch 2)" in stripped.text
