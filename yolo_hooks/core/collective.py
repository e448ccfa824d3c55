"""The only collectives yolo_hooks adds to a DDP run: rank 0's value shared with every rank.

Ultralytics decides on rank 0 and broadcasts ``trainer.stop`` once per epoch, right after ``on_fit_epoch_end``;
between batches every rank checks its own ``trainer.stop`` without a broadcast. A hook that decides something
every rank must act on (a stop, new learning rates) therefore decides on rank 0 and shares it here. A collective
blocks until every rank has entered it, so each call site enters it on every rank, the same number of times,
whatever failed before it (``try/finally``, and nothing rank-dependent on the way to it).
"""

from __future__ import annotations

from typing import Any


def distributed() -> bool:
    """True inside a DDP run of more than one process (a ``torch.distributed`` process group is up)."""
    try:
        import torch.distributed as dist
    except ImportError:  # pragma: no cover - torch always comes with ultralytics
        return False
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def from_rank0(value: Any) -> Any:
    """Rank 0's ``value`` on every DDP rank (a collective: every rank must call it); unchanged without DDP."""
    if not distributed():
        return value
    import torch.distributed as dist

    box = [value if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, 0)
    return box[0]


def share_stop(trainer) -> None:
    """Give every rank rank 0's ``trainer.stop`` (a collective), as Ultralytics does after ``on_fit_epoch_end``."""
    trainer.stop = bool(from_rank0(bool(getattr(trainer, "stop", False))))
