"""Test hooks that travel to every rank with the others: a probe that writes what each rank saw, and faults.

A probe file per rank (``<save_dir>/ddp_probe/rank<R>.json``) is rewritten at every event, so a run killed for
hanging still shows how far each rank got.
"""

from __future__ import annotations

import json
from pathlib import Path

from yolo_hooks import Hook
from yolo_hooks.core.run import rank
from yolo_hooks.plateau.early_stop import EarlyStopping
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau
from yolo_hooks.val_loss.hook import ValLossAlert

PROBE_DIR = "ddp_probe"


class RankProbe(Hook):
    """Records, on every rank, the epochs started and ended, the stop flag, the optimizer's rates, hook errors."""

    def __init__(self):
        super().__init__(name="ddp_probe")
        self.record: dict = {}

    def on_train_start(self, trainer):
        self.record = {"rank": rank(), "world_size": trainer.world_size, "device": str(trainer.device),
                       "sampler": type(trainer.train_loader.sampler).__name__, "epochs_started": [],
                       "stop_at_epoch_start": [], "epochs": []}
        self._write(trainer)

    def on_train_epoch_start(self, trainer):
        self.record.setdefault("epochs_started", []).append(trainer.epoch + 1)
        self.record.setdefault("stop_at_epoch_start", []).append(bool(trainer.stop))
        self._write(trainer)

    def on_train_batch_end(self, trainer):  # written with the next epoch event
        batches = self.record.setdefault("batches", {})
        batches[str(trainer.epoch + 1)] = batches.get(str(trainer.epoch + 1), 0) + 1

    def on_fit_epoch_end(self, trainer):
        groups = trainer.optimizer.param_groups
        self.record.setdefault("epochs", []).append({
            "epoch": trainer.epoch + 1,
            "final_eval": self.snapshot(trainer).is_final_eval,
            "stop": bool(trainer.stop),
            "initial_lrs": [g["initial_lr"] for g in groups],
            "lrs": [g["lr"] for g in groups],
            "base_lrs": list(trainer.scheduler.base_lrs),
            "total": int(trainer.epochs),
        })
        self._write(trainer)

    def teardown(self, trainer):
        self.record.update(
            ended_epoch=trainer.epoch + 1,
            stop=bool(trainer.stop),
            outcome=self.outcome(trainer).status,
            errors={h.name: dict(h.error_counts) for h in self._bus.hooks if h.error_counts},
        )
        self._write(trainer)

    def _write(self, trainer) -> None:
        folder = Path(trainer.save_dir) / PROBE_DIR
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"rank{rank()}.json").write_text(json.dumps(self.record, indent=1, default=str))


class FailsOnRank:
    """Mixin: the hook's first read of the run, ``snapshot()``, raises on rank ``fail_rank``."""

    fail_rank = 0

    def snapshot(self, trainer):
        if rank() == self.fail_rank:
            raise RuntimeError(f"injected failure in {self.name}.snapshot on rank {rank()}")
        return super().snapshot(trainer)


class FailingEarlyStop(FailsOnRank, EarlyStopping):
    pass


class FailingValLossAlert(FailsOnRank, ValLossAlert):
    pass


class FailingLROnPlateau(FailsOnRank, ReduceLROnPlateau):
    """Also fails in its decision (taken on rank 0 only)."""

    def _decide(self, epoch, values):
        if rank() == self.fail_rank:
            raise RuntimeError(f"injected failure in {self.name}._decide on rank {rank()}")
        return super()._decide(epoch, values)


class RaisesEverywhere(Hook):
    """Raises in every training event on rank ``fail_rank``."""

    def __init__(self, fail_rank: int):
        super().__init__(name=f"raises_on_rank_{fail_rank}")
        self.fail_rank = fail_rank

    def _maybe_raise(self, event):
        if rank() == self.fail_rank:
            raise RuntimeError(f"injected failure in {event} on rank {rank()}")

    def on_train_start(self, trainer):
        self._maybe_raise("on_train_start")

    def on_train_epoch_start(self, trainer):
        self._maybe_raise("on_train_epoch_start")

    def on_train_batch_end(self, trainer):
        self._maybe_raise("on_train_batch_end")

    def on_train_epoch_end(self, trainer):
        self._maybe_raise("on_train_epoch_end")

    def on_model_save(self, trainer):
        self._maybe_raise("on_model_save")

    def on_fit_epoch_end(self, trainer):
        self._maybe_raise("on_fit_epoch_end")

    def on_train_end(self, trainer):
        self._maybe_raise("on_train_end")

    def teardown(self, trainer):
        self._maybe_raise("teardown")


class CommandPoster(Hook):
    """Rank 0 writes run-control commands to its run's inbox at given batches, as ``yolo-hooks`` in another shell
    would; every rank reads the inbox after every batch (``POLL_SECONDS`` 0) so that where a command lands is known."""

    def __init__(self, posts: list):
        super().__init__(name="command_poster")
        self.posts = [tuple(p) for p in posts]  # (0-based epoch, 1-based batch, request body)
        self._batch = 0

    def on_train_start(self, trainer):
        from yolo_hooks.control import hook

        hook.POLL_SECONDS = 0.0

    def on_train_epoch_start(self, trainer):
        self._batch = 0

    def on_train_batch_start(self, trainer):
        self._batch += 1
        if rank() not in (-1, 0):
            return
        from yolo_hooks.control.commands import from_request, new_id
        from yolo_hooks.control.inbox import post

        for epoch, batch, body in self.posts:
            if (epoch, batch) == (trainer.epoch, self._batch):
                post(trainer.save_dir, from_request(body, id=new_id(), sender="ddp test"))


def _failing_on(rank_: int, hook: Hook) -> Hook:
    hook.fail_rank = rank_
    return hook


def faulty_hooks() -> list[Hook]:
    """Hooks that each raise on one rank only, where they read the run (decisions are taken on rank 0, and
    val_loss_alert reads its snapshot on every rank), and in every event. They decide nothing themselves."""
    return [
        _failing_on(0, FailingEarlyStop(patience=None, name="faulty_early_stop")),
        _failing_on(0, FailingLROnPlateau(patience=1000, name="faulty_lr_on_plateau")),
        _failing_on(1, FailingValLossAlert(rise=None, nonfinite=False, name="faulty_val_loss_alert")),
        RaisesEverywhere(0),
        RaisesEverywhere(1),
    ]


def build(spec: dict) -> list[Hook]:
    """The test hooks a spec names: ``{"faults": true, "commands": [...], "probe": true}`` (the probe comes last)."""
    hooks: list[Hook] = faulty_hooks() if spec.get("faults") else []
    if spec.get("commands"):
        hooks.append(CommandPoster(spec["commands"]))
    if spec.get("probe"):
        hooks.append(RankProbe())
    return hooks
