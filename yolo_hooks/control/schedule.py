"""The learning-rate schedule of an extended run: what ``extend`` does to Ultralytics' ``lf``.

Ultralytics builds its schedule from ``epochs`` once (``BaseTrainer._setup_scheduler``): a ``LambdaLR`` whose factor
``lf(x)`` of the 0-based epoch ``x`` falls from 1 to ``lrf`` at ``x = epochs``, linearly (``max(1 - x/epochs, 0) *
(1 - lrf) + lrf``, which reads ``trainer.epochs`` at every call) or along a half cosine (``one_cycle(1, lrf,
epochs)``, which captured ``epochs`` when it was built). Raising ``trainer.epochs`` alone would make the linear
factor jump up at once and leave the cosine one ending at the old last epoch; rebuilding it for the new total, as
``time=`` training does every epoch, would jump too.

An extension at epoch ``x0`` *stretches what is left* instead: the schedule is a function of its phase ``p`` (0 at
the start, 1 at the end), and from ``x0`` on, the phase goes from where it is to 1 over the epochs up to the new
total. The rate goes on from its current value, in the schedule's own shape, and reaches ``lrf`` at the new last
epoch. Without an extension the phase is ``x / epochs``: the schedule is Ultralytics' own.

Examples:
    >>> s = Schedule(cosine=False, lrf=0.01, epochs=10)
    >>> round(s(5), 4), round(s(10), 4)        # Ultralytics' linear schedule
    (0.505, 0.01)
    >>> t = s.extended(at=5, total=20)         # 10 more epochs after epoch 6 (x = 5) was trained
    >>> round(t(5), 4), round(t(20), 4)        # no jump; lrf at the new end
    (0.505, 0.01)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Schedule:
    """Ultralytics' learning-rate factor, with the stretches of every extension (picklable: DDP ranks get it).

    Attributes:
        cosine: ``cos_lr`` (a half cosine) rather than Ultralytics' linear schedule.
        lrf: the final factor (``lrf``).
        epochs: the run's total when it started.
        knots: ``(x, total)`` per extension: after 0-based epoch ``x`` the rest of the schedule ends at ``total``.
    """

    cosine: bool
    lrf: float
    epochs: int
    knots: tuple[tuple[int, int], ...] = ()

    def phase(self, x: float) -> float:
        """How far through the schedule 0-based epoch ``x`` is (0 at the start, 1 at the last total)."""
        start, p0, total = 0.0, 0.0, float(self.epochs)
        for at, new_total in self.knots:
            if x <= at:
                break
            p_at = p0 + (1 - p0) * (at - start) / (total - start)
            start, p0, total = float(at), p_at, float(new_total)
        return p0 + (1 - p0) * (x - start) / (total - start)

    def __call__(self, x: float) -> float:
        """The factor of 0-based epoch ``x`` (what ``LambdaLR`` multiplies each group's ``initial_lr`` by)."""
        p = self.phase(x)
        if self.cosine:
            return max((1 - math.cos(p * math.pi)) / 2, 0) * (self.lrf - 1) + 1
        return max(1 - p, 0) * (1.0 - self.lrf) + self.lrf

    @property
    def total(self) -> int:
        """The total the schedule ends at now."""
        return self.knots[-1][1] if self.knots else self.epochs

    def extended(self, at: int, total: int) -> Schedule:
        """This schedule with what is left after 0-based epoch ``at`` stretched to end at ``total``."""
        if total <= at:
            raise ValueError(f"an extension after epoch index {at} must end later, got total {total}")
        return Schedule(self.cosine, self.lrf, self.epochs, (*self.knots, (int(at), int(total))))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the run's control state keeps it for ``resume=True``)."""
        return {"cosine": self.cosine, "lrf": self.lrf, "epochs": self.epochs, "knots": [list(k) for k in self.knots]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        return cls(bool(data["cosine"]), float(data["lrf"]), int(data["epochs"]),
                   tuple((int(a), int(b)) for a, b in data.get("knots") or ()))


def of_trainer(trainer) -> Schedule:
    """The schedule ``trainer`` started with (its ``cos_lr``, ``lrf`` and ``epochs``)."""
    return Schedule(bool(trainer.args.cos_lr), float(trainer.args.lrf), int(trainer.epochs))


def install(trainer, schedule: Schedule) -> bool:
    """Make ``schedule`` the trainer's: ``trainer.lf`` (warm-up reads it) and the ``LambdaLR``'s lambdas (the next
    ``scheduler.step()`` reads them); the scheduler's epoch count and each group's ``initial_lr`` (which
    lr_on_plateau may have lowered) stay. False when the trainer's scheduler is not a ``LambdaLR`` (a custom
    trainer): its schedule is left as it is."""
    from torch.optim.lr_scheduler import LambdaLR

    scheduler = getattr(trainer, "scheduler", None)
    if not isinstance(scheduler, LambdaLR):
        return False
    trainer.lf = schedule
    scheduler.lr_lambdas = [schedule] * len(scheduler.lr_lambdas)
    return True
