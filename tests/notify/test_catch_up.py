"""Notify catching up on an epoch its saved state missed (the process died after Ultralytics wrote last.pt and before
the hook handled the epoch): a new best of that epoch is announced once, late, and never twice."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import bests, flush_state
from yolo_hooks.core.run import EpochSnapshot
from yolo_hooks.notify import Notify


def snapshot(epoch, fitness, best, best_epoch, save_dir: Path) -> EpochSnapshot:
    return EpochSnapshot(
        epoch=epoch, epochs=8, is_final_eval=False, fitness=fitness, best_fitness=best, best_epoch=best_epoch,
        is_best=fitness == best, metrics={"metrics/mAP50-95(B)": fitness}, val_losses={"val/box_loss": 1.0},
        train_losses={"train/box_loss": 1.0}, lr={"lr/pg0": 0.01}, epoch_time=1.0, elapsed=float(epoch),
        start_epoch=0, stop=False, task="detect", save_dir=save_dir, best_path=save_dir / "weights" / "best.pt",
        last_path=save_dir / "weights" / "last.pt",
    )


def make_hook(sent: list) -> Notify:
    hook = Notify(format="json", url="http://127.0.0.1:9/x", events=["new_best", "epoch"], progress_every=2)
    hook.send = lambda message: sent.append((message.event, message.data["epoch"], message.data["fitness"]))
    return hook


def run(fitness, save_dir: Path, kill_after: int | None = None) -> list[tuple]:
    """Every message sent, over both processes when the first dies after last.pt of ``kill_after``."""
    (save_dir / "weights").mkdir(parents=True, exist_ok=True)
    best = bests(fitness)
    snaps = [snapshot(e, f, *best[e - 1], save_dir) for e, f in enumerate(fitness, start=1)]
    sent: list[tuple] = []
    hook, trainer = make_hook(sent), SimpleNamespace(save_dir=save_dir, epoch=0)
    hook.snapshot = lambda t: snaps[t.epoch]
    for index, snap in enumerate(snaps):
        if snap.epoch == kill_after:
            flush_state(hook)
            assert json.loads(hook.state_path(trainer).read_text())["epoch"] == kill_after - 1
            hook = make_hook(sent)
            hook.snapshot = lambda t: snaps[t.epoch]
            trainer = SimpleNamespace(save_dir=save_dir, epoch=0, epochs=len(fitness), start_epoch=kill_after,
                                      best_fitness=best[kill_after - 1][0],
                                      stopper=SimpleNamespace(best_epoch=best[kill_after - 1][1]),
                                      args=SimpleNamespace(resume=True, task="detect"))
            assert hook.restore_state(trainer) == kill_after - 1  # what the core does in on_train_start
            hook.catch_up(trainer, snap.epoch, snap.values())
            continue
        trainer.epoch = index
        hook.on_fit_epoch_end(trainer)
    return sent


@pytest.mark.parametrize("fitness", [
    [0.0, 0.0, 0.0, 0.0, 0.0],   # a random-init model's 0.0 plateau is not news
    [0.0, 0.1, 0.1, 0.3, 0.2],   # new bests at 2 and 4
    [0.2, 0.1, 0.15, 0.25, 0.3],
])  # fmt: skip
def test_the_messages_are_those_of_the_uninterrupted_run(tmp_path, fitness):
    reference = run(fitness, tmp_path / "reference")
    for kill_after in range(2, len(fitness) + 1):
        assert run(fitness, tmp_path / f"killed_after_{kill_after}", kill_after) == reference, kill_after


def test_a_new_best_of_the_missed_epoch_is_announced_late_and_remembered(tmp_path):
    sent = run([0.0, 0.1, 0.1, 0.3, 0.2], tmp_path, kill_after=4)
    assert [m for m in sent if m[0] == "new_best"] == [("new_best", 2, 0.1), ("new_best", 4, 0.3)]
    state = json.loads((tmp_path / "weights" / "notify_json.state.json").read_text())
    assert state == {"epoch": 5, "state": {"best_sent": 0.3}}
