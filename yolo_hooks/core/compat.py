"""Every difference between the Ultralytics releases yolo_hooks supports (8.3.253 and later), in one place.

Read from each release's own source; the hooks and the rest of the core never test versions or attributes
themselves, they ask this module.

=========================================  ===========  =============================================================
difference                                 since        how yolo_hooks copes
=========================================  ===========  =============================================================
``teardown`` in ``train()``'s ``finally``  8.4.177      before: fired only after a successful run, so
                                                        :func:`guard_teardown` fires ours once on a crash or Ctrl-C
final evaluation raises ``trainer.epoch``  8.4.52       none needed: the core tells the final evaluation by event
                                                        order (an ``on_fit_epoch_end`` with no
                                                        ``on_train_epoch_end`` since the previous one)
EarlyStopping state kept in last.pt        8.4.172      :data:`STOPPER_RESUMED`: before, a resumed run starts a fresh
                                                        stopper (``best_epoch`` 0 until fitness improves again)
callbacks sent to DDP workers              8.4.140      :data:`DDP_WORKERS_GET_CALLBACKS`: before, hooks run in the
(cloudpickle)                                           launching process only, which sees no epochs
``trainer.tloss`` a dict of named losses   8.4.104      none needed: read through ``trainer.label_loss_items``
``trainer.stop`` checked between batches   8.4.14       :data:`STOP_BETWEEN_BATCHES`: before, only between epochs
                                                        (a run-control ``stop --now`` waits for the epoch's end)
``trainer._get_warmup_iterations``         8.4.103      :func:`warmup_iterations`
``predictor.speed``                        8.4.108      :func:`predict_speed` (mean of the results' own ``speed``)
``args.lr0`` holds what optimizer=auto     8.4.172      :func:`base_lr` (the same choice, made again)
chose
optimizer groups named (``param_group``)   8.4.3        :func:`is_bias_group`
=========================================  ===========  =============================================================

All of them fire the same 25 event names.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any, Callable

import ultralytics

FLOOR = "8.3.253"  # the oldest release the suite and CI run against (pyproject.toml: ultralytics>=FLOOR)


def parse_version(text: str) -> tuple[int, ...]:
    """``"8.4.177"`` -> ``(8, 4, 177)``; a suffix such as ``rc1`` or ``.dev0`` is ignored."""
    return tuple(int(m) for m in re.findall(r"\d+", str(text))[:3])


VERSION = parse_version(ultralytics.__version__)

TEARDOWN_ON_FAILURE = VERSION >= (8, 4, 177)  # teardown in train()'s finally: it sees crashes and Ctrl-C
FINAL_EVAL_RAISES_EPOCH = VERSION >= (8, 4, 52)  # trainer.epoch is last + 1 during the final evaluation
STOPPER_RESUMED = VERSION >= (8, 4, 172)  # last.pt carries EarlyStopping's best_fitness / best_epoch
DDP_WORKERS_GET_CALLBACKS = VERSION >= (8, 4, 140)  # DDP workers receive the model's callbacks (cloudpickle)
STOP_BETWEEN_BATCHES = VERSION >= (8, 4, 14)  # `if self.stop: break` after on_train_batch_end


def guard_teardown(trainer, fire: Callable[[], None]) -> None:
    """Make sure ``fire()`` runs once while a crash or Ctrl-C propagates out of ``trainer.train()``.

    Releases before 8.4.177 call ``teardown`` as the last line of a *successful* ``_do_train``, so a run that
    raises never reaches it. There, ``trainer.train`` is wrapped (on this trainer only) so that ``fire()`` runs in
    the ``except`` block, with the exception still in ``sys.exc_info()``, then the exception propagates unchanged.
    ``fire`` must itself be idempotent (the core's teardown runs once per trainer). On newer releases nothing is
    wrapped: Ultralytics' own ``finally`` already does it.
    """
    if TEARDOWN_ON_FAILURE or "train" in vars(trainer):
        return
    train = trainer.train

    def train_then_teardown(*args: Any, **kwargs: Any):
        try:
            return train(*args, **kwargs)
        except BaseException:
            if sys.exc_info()[0] is not None:
                fire()
            raise

    trainer.train = train_then_teardown


def warmup_iterations(trainer, batches_per_epoch: int) -> int:
    """How many optimizer iterations BaseTrainer warms up for (``-1``/0: none), as the installed release computes it."""
    method = getattr(trainer, "_get_warmup_iterations", None)
    if method is not None:
        return int(method(batches_per_epoch))
    warmup_epochs = trainer.args.warmup_epochs
    return max(round(warmup_epochs * batches_per_epoch), 100) if warmup_epochs > 0 else -1


def predict_speed(predictor, results_mean: dict[str, float]) -> dict[str, float]:
    """Per-image preprocess / inference / postprocess times in ms of the predictor's last run: ``predictor.speed``
    where the release keeps it (8.4.108+), else ``results_mean``, the mean of the results' own ``speed`` dicts
    (which the caller adds up as the results pass by)."""
    speed = getattr(predictor, "speed", None)
    if speed:
        return {k: float(v) for k, v in speed.items() if v is not None}
    return dict(results_mean)


def base_lr(trainer) -> float:
    """``lr0`` as the run resolved it: what ``optimizer=auto`` chose, else the user's.

    8.4.172+ write the choice back to ``args.lr0``; before, ``args.lr0`` keeps the user's value while ``auto``
    trains with ``round(0.002 * 5 / (4 + nc), 6)`` (AdamW), or 0.01 past 10000 iterations (the same rule in
    every supported release).
    """
    args = trainer.args
    if VERSION >= (8, 4, 172) or str(args.optimizer).lower() != "auto":
        return float(args.lr0)
    nc = int(getattr(trainer, "data", {}).get("nc", 10))
    iterations = math.ceil(len(trainer.train_loader.dataset) / max(trainer.batch_size, args.nbs)) * trainer.epochs
    return 0.01 if iterations > 10000 else round(0.002 * 5 / (4 + nc), 6)


def is_bias_group(optimizer, index: int) -> bool:
    """Whether param group ``index`` holds the biases (warmup starts them at ``warmup_bias_lr``): 8.4.3+ name the
    groups (``param_group: bias``); before, the biases come first."""
    group = optimizer.param_groups[index]
    return group["param_group"] == "bias" if "param_group" in group else index == 0
