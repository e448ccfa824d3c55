"""``extend`` stretches what is left of Ultralytics' learning-rate schedule: no jump, ``lrf`` at the new end."""

from __future__ import annotations

import math

import pytest
from ultralytics.utils.torch_utils import one_cycle

from yolo_hooks.control.schedule import Schedule

LRF = 0.01


def ultralytics_lf(cosine: bool, epochs: int):
    """BaseTrainer._setup_scheduler's factor, as the installed release builds it."""
    return one_cycle(1, LRF, epochs) if cosine else (lambda x: max(1 - x / epochs, 0) * (1.0 - LRF) + LRF)


@pytest.mark.parametrize("cosine", [False, True])
def test_without_an_extension_it_is_ultralytics_schedule(cosine):
    ours, theirs = Schedule(cosine, LRF, 10), ultralytics_lf(cosine, 10)
    assert [ours(x) for x in range(11)] == pytest.approx([theirs(x) for x in range(11)], abs=1e-12)


@pytest.mark.parametrize("cosine", [False, True])
@pytest.mark.parametrize("at, total", [(0, 20), (5, 20), (9, 10 + 1), (9, 100)])
def test_an_extension_goes_on_from_the_current_rate_and_ends_at_lrf(cosine, at, total):
    before, after = Schedule(cosine, LRF, 10), Schedule(cosine, LRF, 10).extended(at, total)
    assert [after(x) for x in range(at + 1)] == [before(x) for x in range(at + 1)]  # epochs already trained
    assert after(total) == pytest.approx(LRF)  # where Ultralytics' schedule ends: lf(epochs) == lrf
    rates = [after(x) for x in range(at, total + 1)]
    assert all(a >= b for a, b in zip(rates, rates[1:]))  # still only falling: no jump up
    assert after.total == total


def test_linear_stretch_is_the_straight_line_from_the_current_rate_to_lrf():
    s = Schedule(False, LRF, 10).extended(5, 15)
    start = Schedule(False, LRF, 10)(5)
    for x in range(5, 16):
        assert s(x) == pytest.approx(start + (LRF - start) * (x - 5) / 10)


def test_rebuilding_for_the_new_total_would_jump_the_rate_up():
    """What the stretch avoids: Ultralytics' own linear factor with a raised trainer.epochs (what `time=` does)."""
    stretched, rebuilt = Schedule(False, LRF, 10).extended(8, 20), ultralytics_lf(False, 20)
    assert rebuilt(9) > 2.5 * stretched(9)


def test_two_extensions_compose_and_survive_json():
    s = Schedule(True, LRF, 10).extended(4, 15).extended(9, 30)
    again = Schedule.from_dict(s.as_dict())
    assert again == s and again.total == 30
    assert again(4) == Schedule(True, LRF, 10)(4) and again(9) == Schedule(True, LRF, 10).extended(4, 15)(9)
    assert again(30) == pytest.approx(LRF) and math.isfinite(again(31))
    with pytest.raises(ValueError):
        s.extended(40, 35)
