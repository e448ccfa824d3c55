"""Scripted runs of the hooks built on the plateau tracker (EarlyStopping, ReduceLROnPlateau), with a process that
dies between last.pt and the hook's state: snapshots, a trainer with one param group, and the run itself."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from tests.helpers import flush_state
from yolo_hooks.core.run import EpochSnapshot


def snapshot(epoch: int, epochs: int, fitness: float, val_loss: float, save_dir: Path) -> EpochSnapshot:
    return EpochSnapshot(
        epoch=epoch, epochs=epochs, is_final_eval=False, fitness=fitness, best_fitness=None, best_epoch=None,
        is_best=False, metrics={"metrics/mAP50-95(B)": fitness}, val_losses={"val/box_loss": val_loss},
        train_losses={"train/box_loss": 2.0}, lr={"lr/pg0": 0.01}, epoch_time=1.0, elapsed=float(epoch),
        start_epoch=0, stop=False, task="detect", save_dir=save_dir, best_path=save_dir / "weights" / "best.pt",
        last_path=save_dir / "weights" / "last.pt",
    )


def fake_trainer(save_dir: Path, epochs: int, lr: float = 0.01) -> SimpleNamespace:
    group = {"lr": lr, "initial_lr": lr}
    return SimpleNamespace(
        save_dir=save_dir, epochs=epochs, stop=False, start_epoch=0, epoch=0,
        args=SimpleNamespace(resume=False, task="detect"),
        optimizer=SimpleNamespace(param_groups=[group]), scheduler=SimpleNamespace(base_lrs=[lr]),
    )


def run(make_hook, sequence, save_dir: Path, kill_after: int | None = None):
    """Feed ``sequence`` of (fitness, val_loss) live. With ``kill_after=k``: the process dies after last.pt of epoch
    k but before the hook saved epoch k's state; a fresh hook restores the state (epoch k - 1), catches up on epoch
    k with the recorded values, and the remaining epochs run live. Returns (hook, trainer, epoch it stopped at)."""
    epochs = len(sequence)
    snaps = [snapshot(e, epochs, f, v, save_dir) for e, (f, v) in enumerate(sequence, start=1)]
    hook, trainer = make_hook(), fake_trainer(save_dir, epochs)
    hook.snapshot = lambda t: snaps[t.epoch]
    hook.on_pretrain_routine_start(trainer)
    hook.on_train_start(trainer)
    for index, snap in enumerate(snaps):
        if kill_after is not None and snap.epoch == kill_after:
            flush_state(hook)
            behind = json.loads(hook.state_path(trainer).read_text())
            assert behind["epoch"] == kill_after - 1
            group = trainer.optimizer.param_groups[0]  # what last.pt holds: the optimizer as it was at epoch k
            hook, trainer = make_hook(), fake_trainer(save_dir, epochs, group["initial_lr"])
            hook.snapshot = lambda t: snaps[t.epoch]
            trainer.args.resume, trainer.start_epoch = True, kill_after
            hook.on_pretrain_routine_start(trainer)
            assert hook.restore_state(trainer) == kill_after - 1  # what the core does in on_train_start
            hook.catch_up(trainer, snap.epoch, snap.values())
            hook.on_train_start(trainer)
            if trainer.stop:
                return hook, trainer, snap.epoch
            continue
        trainer.epoch = index
        hook.on_fit_epoch_end(trainer)
        if trainer.stop:
            return hook, trainer, snap.epoch
    return hook, trainer, None


ZERO = [(0.0, 5.0)] * 8  # a random-init model: fitness stays 0.0
SEQUENCES = [
    ZERO,
    [(0.1, 5.0), (0.2, 4.0), (0.2, 4.5), (0.25, 4.4), (0.24, 4.6), (0.23, 4.7), (0.22, 4.8), (0.21, 4.9)],
    [(0.3, 3.0), (0.1, 3.5), (0.1, 3.6), (0.35, 2.0), (0.3, 2.5), (0.3, 2.6), (0.3, 2.7), (0.3, 2.8)],
]
