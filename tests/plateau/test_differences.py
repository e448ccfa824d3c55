"""The table of docs/differences.md, row by row: the same sequence through our rules and
through theirs, and the epochs each one stops (or reduces the learning rate) at.

torch's ReduceLROnPlateau and Ultralytics' EarlyStopping are the real classes. Keras 3 and Lightning 2.6 are not
dependencies, so their rules are transcribed below from their source (keras/src/callbacks/early_stopping.py and
reduce_lr_on_plateau.py, lightning/pytorch/callbacks/early_stopping.py), line for line where it matters.
Epochs are 1-based here for every library.
"""

from __future__ import annotations

import math
import operator

import pytest
import torch
from ultralytics.utils.torch_utils import EarlyStopping as UltralyticsEarlyStopping

from yolo_hooks import ConfigError, EarlyStopping, ReduceLROnPlateau
from yolo_hooks.plateau.monitor import resolve_mode

NAN, INF = math.nan, math.inf


# --- ours ---------------------------------------------------------------------------------------------------------
def ours_stop(values, **options) -> int | None:
    hook = EarlyStopping(monitor="x", **options)
    return next((e for e, v in enumerate(values, start=1) if hook.evaluate(e, v).should_stop), None)


def ours_reductions(values, **options) -> list[int]:
    hook = ReduceLROnPlateau(monitor="x", **options)
    hook.set_lrs([1.0])
    return [e for e, v in enumerate(values, start=1) if hook.observe(e, v) is not None]


# --- theirs -------------------------------------------------------------------------------------------------------
def ultralytics_stop(values, patience: int) -> int | None:
    stopper = UltralyticsEarlyStopping(patience=patience)
    return next((e for e, v in enumerate(values, start=1) if stopper(e, v)), None)


def torch_reductions(values, mode="min", patience=10, threshold=1e-4, threshold_mode="rel", cooldown=0) -> list[int]:
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=mode, factor=0.5, patience=patience, threshold=threshold, threshold_mode=threshold_mode,
        cooldown=cooldown,
    )
    out = []
    for epoch, value in enumerate(values, start=1):
        before = optimizer.param_groups[0]["lr"]
        scheduler.step(value)
        if optimizer.param_groups[0]["lr"] < before:
            out.append(epoch)
    return out


def keras_stop(values, mode, patience, min_delta=0.0, baseline=None, start_from_epoch=0) -> int | None:
    """keras.callbacks.EarlyStopping.on_epoch_end (Keras 3), 0-based ``epoch`` inside."""
    op = operator.gt if mode == "max" else operator.lt
    delta = min_delta if mode == "max" else -min_delta

    def is_improvement(value, reference):
        return True if reference is None else op(value - delta, reference)

    best, wait = None, 0
    for epoch, current in enumerate(values):
        if current is None or epoch < start_from_epoch:
            continue
        wait += 1
        if is_improvement(current, best):
            best = current
            if baseline is None or is_improvement(current, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1
    return None


def keras_auto_mode_reduce_lr(monitor: str) -> str:
    """keras.callbacks.ReduceLROnPlateau._reset: ``auto`` is max only when "acc" is in the name."""
    return "min" if "acc" not in monitor else "max"


def keras_reductions(values, mode, patience, min_delta=0.0, cooldown=0) -> list[int]:
    """keras.callbacks.ReduceLROnPlateau.on_epoch_end (Keras 3); min_lr 0, so every plateau reduces."""
    better = (lambda a, b: a < b - min_delta) if mode == "min" else (lambda a, b: a > b + min_delta)
    best = INF if mode == "min" else -INF
    wait = cooldown_counter = 0
    out = []
    for epoch, current in enumerate(values, start=1):
        if cooldown_counter > 0:
            cooldown_counter -= 1
            wait = 0
        if better(current, best):
            best, wait = current, 0
        elif not cooldown_counter > 0:
            wait += 1
            if wait >= patience:
                out.append(epoch)
                cooldown_counter, wait = cooldown, 0
    return out


def lightning_stop(values, mode, patience, min_delta=0.0, check_finite=True, stopping_threshold=None,
                   divergence_threshold=None) -> int | None:
    """lightning.pytorch.callbacks.EarlyStopping._evaluate_stopping_criteria (2.6)."""
    op = operator.gt if mode == "max" else operator.lt
    delta = min_delta if mode == "max" else -min_delta
    best, wait = (-INF if mode == "max" else INF), 0
    for epoch, current in enumerate(values, start=1):
        if check_finite and not math.isfinite(current):
            return epoch
        if stopping_threshold is not None and op(current, stopping_threshold):
            return epoch
        if divergence_threshold is not None and op(-current, -divergence_threshold):
            return epoch
        if op(current - delta, best):
            best, wait = current, 0
        else:
            wait += 1
            if wait >= patience:
                return epoch
    return None


# --- the table ----------------------------------------------------------------------------------------------------
def test_row_patience_counts_non_improving_monitored_epochs_like_keras_lightning_ultralytics():
    values = [0.5, 0.6, 0.6, 0.55, 0.58, 0.7]
    ours = ours_stop(values, mode="max", patience=2)
    assert ours == keras_stop(values, "max", 2) == lightning_stop(values, "max", 2) == ultralytics_stop(values, 2) == 4


@pytest.mark.parametrize("patience", [1, 2, 3])
def test_row_torch_patience_n_is_our_n_plus_1(patience):
    values = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8]
    ours = ours_reductions(values, mode="min", patience=patience + 1)
    assert ours == torch_reductions(values, patience=patience, threshold=0.0) and ours
    assert ours_reductions(values, mode="min", patience=patience) != ours


def test_row_absolute_min_delta_is_the_same_test_everywhere():
    values = [0.5, 0.54, 0.56, 0.6, 0.62, 0.63, 0.64, 0.65]
    ours = ours_stop(values, mode="max", patience=2, min_delta=0.05)
    assert ours == keras_stop(values, "max", 2, min_delta=0.05) == lightning_stop(values, "max", 2, min_delta=0.05)
    assert ours_reductions(values, mode="max", patience=2, min_delta=0.05) == torch_reductions(
        values, mode="max", patience=1, threshold=0.05, threshold_mode="abs"
    )


def test_row_relative_min_delta_matches_torch_rel_for_positive_values():
    values = [2.0, 1.85, 1.79, 1.7, 1.69, 1.5, 1.45, 1.44]
    ours = ours_reductions(values, mode="min", patience=2, min_delta="10%")
    assert ours == torch_reductions(values, patience=1, threshold=0.1, threshold_mode="rel") == [5, 8]


def test_row_relative_min_delta_differs_from_torch_rel_for_negative_values():
    """|best| x 10 % = 1.0: -9.5 is no improvement on -10 for us; torch's best x (1 - 0.1) = -9 calls it one."""
    values = [-10.0, -9.5, -9.5, -9.5]
    assert ours_reductions(values, mode="min", patience=1, min_delta="10%") == [2, 3, 4]
    assert torch_reductions(values, patience=0, threshold=0.1, threshold_mode="rel") == []


def test_row_stop_at_fires_at_equality_lightning_stopping_threshold_is_strict():
    values = [0.3, 0.5, 0.6]
    assert ours_stop(values, mode="max", patience=None, stop_at=0.5) == 2
    assert lightning_stop(values, "max", 10, stopping_threshold=0.5) == 3


def test_row_divergence_is_strict_in_both():
    values = [0.5, 0.2, 0.1]
    assert ours_stop(values, mode="max", patience=None, divergence=0.2) == 3
    assert lightning_stop(values, "max", 10, divergence_threshold=0.2) == 3


def test_row_non_finite_stops_like_lightning_check_finite_keras_has_no_check():
    values = [0.5, NAN, 0.6, 0.7]
    assert ours_stop(values, mode="max", patience=3) == lightning_stop(values, "max", 3) == 2
    assert keras_stop(values, "max", 3) is None  # NaN is just one more epoch without improvement
    assert keras_stop([0.5, NAN, NAN, NAN], "max", 3) == 4


@pytest.mark.parametrize(
    "values, ours, lightning",
    [
        ([0.5, NAN, NAN, 0.6], None, 3),  # Lightning: NaN counts as an epoch without improvement
        ([0.5, INF, 0.9, 0.95], None, 4),  # Lightning: +inf becomes the best, nothing beats it afterwards
    ],
)
def test_row_stop_on_non_finite_false_skips_the_epoch_lightning_check_finite_false_counts_it(values, ours, lightning):
    assert ours_stop(values, mode="max", patience=2, stop_on_non_finite=False) == ours
    assert lightning_stop(values, "max", 2, check_finite=False) == lightning


@pytest.mark.parametrize(
    "mode, values, torch_and_keras",
    [
        ("min", [1.0, NAN, NAN, 0.9], [3]),  # NaN is a bad epoch for torch and Keras
        ("max", [0.5, INF, 0.6, 0.7], [4]),  # +inf becomes their best in max mode
    ],
)
def test_row_lr_on_plateau_skips_nan_and_inf_torch_and_keras_count_them(mode, values, torch_and_keras):
    assert ours_reductions(values, mode=mode, patience=2) == []
    assert torch_reductions(values, mode=mode, patience=1, threshold=0.0) == torch_and_keras
    assert keras_reductions(values, mode, 2) == torch_and_keras


def test_row_cooldown_epochs_are_not_counted_like_torch_keras_counts_the_last():
    values = [1.0] * 8
    ours = ours_reductions(values, mode="min", patience=1, cooldown=1)
    assert ours == torch_reductions(values, patience=0, threshold=0.0, cooldown=1) == [2, 4, 6, 8]
    assert keras_reductions(values, "min", 1, cooldown=1) == keras_reductions(values, "min", 1) == list(range(2, 9))


def test_row_val_false_epochs_ultralytics_counts_calendar_epochs_we_count_monitored_ones():
    values = [0.5, None, None, 0.4, 0.45]  # None: validation skipped that epoch
    assert ultralytics_stop(values, 2) == 4
    assert ours_stop(values, mode="max", patience=2) == 5


def test_row_zero_fitness_ultralytics_never_stops_we_do():
    values = [0.0] * 6
    assert ultralytics_stop(values, 2) is None
    assert ours_stop(values, mode="max", patience=2) == 3


def test_row_warmup_is_keras_start_from_epoch():
    values = [0.9, 0.8, 0.1, 0.1, 0.2, 0.2, 0.2]
    assert ours_stop(values, mode="max", patience=1, warmup=2) == keras_stop(values, "max", 1, start_from_epoch=2) == 4


def test_row_patience_0_is_rejected_ultralytics_switches_off_keras_stops_at_once():
    with pytest.raises(ConfigError, match="`patience` must be an integer >= 1"):
        EarlyStopping(patience=0)
    values = [0.5, 0.4, 0.3, 0.2]
    assert ultralytics_stop(values, 0) is None
    assert keras_stop(values, "max", 0) == 2 == lightning_stop(values, "max", 0)


@pytest.mark.parametrize(
    "monitor, ours, keras_reduce_lr",
    [
        ("val/loss", "min", "min"),
        ("metrics/accuracy_top1", "max", "max"),
        ("metrics/mAP50(B)", "max", "min"),  # Keras' ReduceLROnPlateau: max only for names containing "acc"
        ("lr/pg0", None, "min"),  # we cannot tell, so `mode` must be given (a ConfigError), as Keras' EarlyStopping
    ],
)
def test_row_mode_auto(monitor, ours, keras_reduce_lr):
    assert resolve_mode(monitor, "auto") == ours
    assert keras_auto_mode_reduce_lr(monitor) == keras_reduce_lr


def test_row_min_delta_defaults_differ():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    torch_default = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    assert (torch_default.threshold, torch_default.threshold_mode, torch_default.patience) == (1e-4, "rel", 10)
    assert ReduceLROnPlateau().min_delta == EarlyStopping().min_delta == 0.0


def test_row_baseline_follows_keras_documentation_not_its_code():
    """Keras documents "training will stop if the model doesn't show improvement over the baseline"; its code only
    checks patience on non-improving epochs, so a value creeping up below the baseline never stops there."""
    values = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert ours_stop(values, mode="max", patience=2, baseline=0.9) == 2
    assert keras_stop(values, "max", 2, baseline=0.9) is None


def real_keras_stop(values, mode, patience) -> int | None:
    """Keras 3's own ``EarlyStopping`` (torch backend, already installed for Ultralytics), epoch by epoch."""
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    callback = keras.callbacks.EarlyStopping(monitor="x", mode=mode, patience=patience)
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        callback.on_epoch_end(epoch, {"x": value})
        if model.stop_training:
            return epoch + 1
    return None


@pytest.mark.parametrize(
    "values, keras",
    [
        ([NAN, 0.5, 0.6, 0.7], 3),  # a leading NaN becomes Keras' best: nothing compares greater, it stops at 3
        ([0.5, INF, 0.6, 0.7], 4),  # +inf becomes the best in max mode: nothing beats it
    ],
)
def test_row_stop_on_non_finite_false_keras_takes_a_leading_nan_or_an_inf_as_its_best(values, keras, monkeypatch):
    """Keras has no non-finite check: with ours off we skip such epochs, Keras makes them its best."""
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert ours_stop(values, mode="max", patience=2, stop_on_non_finite=False) is None
    assert keras_stop(values, "max", 2) == keras  # the transcription...
    assert real_keras_stop(values, "max", 2) == keras  # ...and Keras 3 itself
