"""ReduceLROnPlateau decisions on scripted sequences (Keras' ReduceLROnPlateau rules), and its option checks."""

from __future__ import annotations

import json

import pytest

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau


def reductions(hook: ReduceLROnPlateau, values, lrs=(0.01,)) -> list[tuple[int, list[float]]]:
    """(epoch, new base lrs) for every reduction ``hook`` makes on ``values``."""
    if hook.lrs is None:
        hook.set_lrs(list(lrs))
    out = []
    for epoch, value in enumerate(values, start=1):
        new = hook.observe(epoch, value)
        if new is not None:
            out.append((epoch, new))
    return out


# Keras' ReduceLROnPlateau: a new best resets wait; otherwise wait grows, and at `patience`
# lr = max(lr * factor, min_lr), wait = 0 and the cooldown starts. The `cooldown` epochs after a reduction are not
# counted (PyTorch's meaning; Keras' code counts the last of them, so its cooldown=1 is the same as 0).
@pytest.mark.parametrize(
    "options, values, epochs",
    [
        (dict(patience=2, factor=0.5), [0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2, 0.2], [3, 5, 8]),
        (dict(patience=2, factor=0.5, cooldown=2), [0.1] * 8, [3, 7]),
        (dict(patience=1, cooldown=1), [0.1] * 7, [2, 4, 6]),
        (dict(patience=1, monitor="val/loss", min_delta="10%"), [1.0, 0.95, 0.85, 0.84], [2, 4]),  # auto: min
        (dict(patience=3, min_delta=0.01), [0.5, 0.505, 0.509, 0.52, 0.525, 0.526, 0.527], [7]),
        (dict(patience=1), [0.1, 0.2, 0.3, 0.4], []),
        (dict(patience=1), [0.1, None, float("nan"), 0.2, 0.2], [5]),  # not measured / non-finite: skipped
    ],
)
def test_reduction_epochs_follow_keras_rules(options, values, epochs):
    assert [epoch for epoch, _ in reductions(ReduceLROnPlateau(**options), values)] == epochs


def test_each_group_is_scaled_by_factor_down_to_min_lr():
    hook = ReduceLROnPlateau(patience=1, factor=0.1, min_lr=0.002)
    got = reductions(hook, [0.0] * 5, lrs=(0.01, 0.03))
    assert got == [(2, [0.002, pytest.approx(0.003)]), (3, [0.002, 0.002])]  # epochs 4, 5: all at the floor
    assert [r["epoch"] for r in hook.reductions] == [2, 3]


def test_state_dict_resume_gives_the_same_reductions():
    values = [0.3, 0.2, 0.2, 0.4, 0.4, 0.4, 0.4, 0.3, 0.5, 0.5, 0.5]
    options = dict(patience=2, factor=0.5, cooldown=1)
    expected = reductions(ReduceLROnPlateau(**options), values)
    for split in range(1, len(values)):
        first = ReduceLROnPlateau(**options)
        before = reductions(first, values[:split])
        resumed = ReduceLROnPlateau(**options)
        resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
        after = [(e, resumed.observe(e, values[e - 1])) for e in range(split + 1, len(values) + 1)]
        assert before + [(e, new) for e, new in after if new is not None] == expected, f"resumed after {split}"


def test_a_saved_state_does_not_change_with_later_reductions():
    """The state is serialised later, on the bus' writer: what state_dict returned must stay as it was."""
    hook = ReduceLROnPlateau(patience=1, factor=0.5)
    reductions(hook, [0.1, 0.1])  # one reduction, at epoch 2
    saved = hook.state_dict()
    before = json.dumps(saved)
    reductions(hook, [0.1, 0.1, 0.1])  # two more: lrs and the reduction list change
    assert len(hook.reductions) > len(saved["reductions"]) and json.dumps(saved) == before


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(factor=1.0), "lr_on_plateau: `factor` must be a number > 0.0 and <= 0.999999, got 1.0"),
        (dict(factor=0), "`factor` must be a number > 0.0"),
        (dict(patience=0), r"`patience` must be an integer >= 1, got 0"),
        (dict(patience=None), r"`patience` must be an integer >= 1, got None"),
        (dict(cooldown=-1), "`cooldown` must be an integer >= 0, got -1"),
        (dict(min_lr=-1e-6), "`min_lr` must be a number >= 0.0"),
        (dict(mode="down"), "`mode` must be one of auto, min, max, got 'down'"),
        (dict(min_delta="x%"), "`min_delta` must be a number or a percentage"),
    ],
)
def test_bad_options_are_config_errors_at_attach_time(options, message):
    with pytest.raises(ConfigError, match=message):
        ReduceLROnPlateau(**options)
    with pytest.raises(ConfigError, match=message):
        yolo_hooks.build_hooks({"lr_on_plateau": options})


def test_config_loader_builds_it():
    (hook,) = yolo_hooks.build_hooks({"lr_on_plateau": {"monitor": "val/loss", "factor": 0.5, "patience": 3}})
    assert isinstance(hook, ReduceLROnPlateau)
    assert (hook.mode, hook.factor, hook.patience, hook.cooldown, hook.min_lr) == ("min", 0.5, 3, 0, 0.0)
