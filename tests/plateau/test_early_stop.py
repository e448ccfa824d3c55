"""EarlyStopping decisions on scripted sequences: against Ultralytics' own EarlyStopping (the real class), against the
epochs Keras' documented EarlyStopping rules give, and every option. Epochs are 1-based, like Ultralytics' console."""

from __future__ import annotations

import json
import math
import random

import pytest
from ultralytics.utils.torch_utils import EarlyStopping as UltralyticsEarlyStopping

import yolo_hooks
from yolo_hooks import ConfigError
from yolo_hooks.plateau.early_stop import EarlyStopping, StopReason

NAN, INF = float("nan"), float("inf")


def stop_epoch(hook: EarlyStopping, values) -> int | None:
    """First 1-based epoch at which ``hook`` decides to stop, or None."""
    for epoch, value in enumerate(values, start=1):
        if hook.evaluate(epoch, value).should_stop:
            return epoch
    return None


def ultralytics_stop_epoch(patience: int, values) -> int | None:
    """The real Ultralytics stopper, called the way BaseTrainer calls it: ``stopper(epoch + 1, fitness)``."""
    stopper = UltralyticsEarlyStopping(patience=patience)
    for epoch, value in enumerate(values, start=1):
        if stopper(epoch, value):
            return epoch
    return None


# --- 1. same stop epoch as Ultralytics' EarlyStopping when min_delta=0, mode=max, fitness > 0 -------------------------
SCRIPTED = [
    [0.1, 0.2, 0.3, 0.3, 0.3, 0.3],
    [0.5, 0.4, 0.45, 0.49, 0.6, 0.55, 0.58, 0.59, 0.2],
    [0.1, 0.1, 0.1, 0.1],  # ties are not improvements for either
    [0.9, 0.1, 0.2, 0.3, 0.4, 0.5],
    [0.01 * i for i in range(1, 30)],  # always improving: neither stops
    [0.3, 0.2, 0.31, 0.2, 0.2, 0.32, 0.1, 0.1, 0.1, 0.1],
]
_rng = random.Random(0)
RANDOM = [[round(_rng.uniform(0.01, 1.0), 2) for _ in range(_rng.randint(3, 40))] for _ in range(60)]


@pytest.mark.parametrize("patience", [1, 2, 3, 5])
@pytest.mark.parametrize("values", SCRIPTED + RANDOM)
def test_same_stop_epoch_as_ultralytics_earlystopping(values, patience):
    ours = stop_epoch(EarlyStopping(monitor="fitness", mode="max", min_delta=0, patience=patience), values)
    assert ours == ultralytics_stop_epoch(patience, values)


def test_zero_fitness_never_stops_ultralytics_but_stops_us():
    """Why the hook exists: while best fitness is 0, Ultralytics counts every epoch as an improvement."""
    zeros = [0.0] * 20
    assert ultralytics_stop_epoch(2, zeros) is None
    assert stop_epoch(EarlyStopping(patience=2), zeros) == 3


# --- 2. the epochs Keras' EarlyStopping rules give --------------------------------------------------------------------
# Keras: best starts at -inf/+inf; each monitored epoch wait += 1; an improvement is monitor_op(current - min_delta,
# best) (min_delta sign flipped for min); on an improvement best = current and wait = 0 only if current also beats
# the baseline; otherwise stop once wait >= patience. Epochs before start_from_epoch are ignored. Keras' epochs are
# 0-based: Keras epoch k is our epoch k + 1, and Keras' start_from_epoch=k is our warmup=k.
KERAS_CASES = [
    # (keras kwargs, values, keras 0-based stop epoch or None)
    (dict(mode="min", patience=2), [1.0, 0.9, 0.95, 0.91, 0.8], 3),
    (dict(mode="max", patience=2, min_delta=0.05), [0.5, 0.54, 0.56, 0.6, 0.62, 0.63], None),
    (dict(mode="min", patience=2, min_delta=0.1), [1.0, 0.95, 0.94, 0.8], 2),
    (dict(mode="max", patience=3, baseline=0.6), [0.3, 0.2, 0.25, 0.1, 0.7], 2),  # never beats the baseline
    (dict(mode="max", patience=2, baseline=0.5), [0.4, 0.55, 0.5, 0.52, 0.53], 3),  # beats it at epoch 1
    (dict(mode="max", patience=1, start_from_epoch=2), [0.9, 0.8, 0.1, 0.1, 0.2], 3),
    (dict(mode="auto", patience=3, monitor="val/loss"), [2.0, 2.0, 2.0, 2.0], 3),  # auto: a loss is min
    (dict(mode="max", patience=1), [0.2, 0.3, 0.4, 0.4], 3),
    (dict(mode="min", patience=4), [5.0, 4.0, 4.5, 4.2, 4.1, 3.9, 4.0, 4.0, 4.0, 4.0], 9),
]


@pytest.mark.parametrize("keras, values, keras_stop", KERAS_CASES)
def test_same_stop_epoch_as_keras_earlystopping_rules(keras, values, keras_stop):
    hook = EarlyStopping(
        monitor=keras.get("monitor", "x"),
        mode=keras["mode"],
        min_delta=keras.get("min_delta", 0.0),
        patience=keras["patience"],
        baseline=keras.get("baseline"),
        warmup=keras.get("start_from_epoch", 0),
    )
    assert stop_epoch(hook, values) == (None if keras_stop is None else keras_stop + 1)


def test_baseline_stops_even_while_improving_below_it():
    """Keras documents 'training will stop if the model doesn't show improvement over the baseline'; its code only
    checks on non-improving epochs, so [0.1, 0.2, 0.3, ...] below baseline=0.9 never stops there. We follow the
    documented rule: patience epochs without beating the baseline stop the run."""
    hook = EarlyStopping(mode="max", patience=2, baseline=0.9)
    assert stop_epoch(hook, [0.1, 0.2, 0.3, 0.4]) == 2
    assert hook.evaluate(3, 0.3).reason is StopReason.BASELINE


# --- 3. every option --------------------------------------------------------------------------------------------------
OPTION_CASES = [
    # (options, values, stop epoch, reason)
    (dict(patience=2), [0.1, 0.2, 0.2, 0.15], 4, StopReason.PATIENCE),
    (dict(patience=2, min_delta=0.05), [0.1, 0.14, 0.18, 0.2, 0.22], 5, StopReason.PATIENCE),  # 0.18 beats 0.1 by 0.08
    (dict(patience=2, min_delta="10%"), [1.0, 1.05, 1.09, 1.2, 1.3], 3, StopReason.PATIENCE),
    (dict(patience=2, mode="min", monitor="val/loss"), [3.0, 2.5, 2.6, 2.5], 4, StopReason.PATIENCE),
    (dict(patience=2, monitor="val/box_loss"), [3.0, 2.5, 2.6, 2.5], 4, StopReason.PATIENCE),  # auto -> min
    (dict(patience=1, warmup=3), [0.0, 0.0, 0.0, 0.1, 0.1], 5, StopReason.PATIENCE),
    (dict(patience=3, baseline=0.5), [0.1, 0.2, 0.3, 0.6], 3, StopReason.BASELINE),
    (dict(patience=2, baseline=0.5), [0.6, 0.7, 0.7, 0.7], 4, StopReason.PATIENCE),
    (dict(stop_at=0.5, patience=None), [0.1, 0.2, 0.5, 0.6], 3, StopReason.STOP_AT),  # reached: >=
    (dict(stop_at=0.2, mode="min", monitor="val/loss"), [1.0, 0.5, 0.21, 0.2], 4, StopReason.STOP_AT),
    (dict(divergence=0.05, patience=None), [0.3, 0.2, 0.05, 0.04], 4, StopReason.DIVERGENCE),  # worse: <
    (dict(divergence=10.0, monitor="val/loss"), [3.0, 9.0, 10.0, 12.0], 4, StopReason.DIVERGENCE),  # worse: >
    (dict(patience=None), [0.5, 0.4, 0.3, 0.2, 0.1, 0.0], None, None),
    (dict(), [0.1, NAN], 2, StopReason.NON_FINITE),
    (dict(monitor="val/loss"), [1.0, INF], 2, StopReason.NON_FINITE),
    (dict(stop_on_non_finite=False, patience=2), [0.1, NAN, INF, 0.1, 0.1], 5, StopReason.PATIENCE),  # skipped
    (dict(warmup=2, patience=2), [NAN, 0.0, 0.1, 0.1, 0.1], 5, StopReason.PATIENCE),  # warm-up: no decision
    (dict(patience=2), [0.1, None, None, 0.1, 0.1], 5, StopReason.PATIENCE),  # None = not measured (val skipped)
    (dict(stop_at=0.9, divergence=0.1, patience=50), [0.5] * 60, 51, StopReason.PATIENCE),
]


@pytest.mark.parametrize("options, values, expected_epoch, reason", OPTION_CASES)
def test_every_option_on_scripted_sequences(options, values, expected_epoch, reason):
    hook = EarlyStopping(**options)
    decisions = [hook.evaluate(epoch, value) for epoch, value in enumerate(values, start=1)]
    stops = [epoch for epoch, d in enumerate(decisions, start=1) if d.should_stop]
    assert (stops[0] if stops else None) == expected_epoch
    if reason is not None:
        first = decisions[expected_epoch - 1]
        assert first.reason is reason and first.message


def test_stop_reason_messages_say_why():
    hook = EarlyStopping(patience=2, min_delta=0.01)
    decisions = [hook.evaluate(e, v) for e, v in enumerate([0.3, 0.305, 0.2], start=1)]
    assert decisions[-1].message == (
        "fitness did not improve by more than min_delta=0.01 for 2 epochs (fitness=0.2, best 0.3 at epoch 1)"
    )
    assert EarlyStopping().evaluate(1, NAN).message == "fitness = nan is not finite"


# --- 4. resume: the state after epoch k + the rest == the uninterrupted run ------------------------------------------
@pytest.mark.parametrize("values", SCRIPTED[:3] + RANDOM[:20])
@pytest.mark.parametrize("options", [dict(patience=3), dict(patience=2, min_delta="5%", baseline=0.4)])
def test_state_dict_resume_stops_at_the_same_epoch(values, options):
    expected = stop_epoch(EarlyStopping(**options), values)
    for split in range(1, len(values)):
        first = EarlyStopping(**options)
        if stop_epoch(first, values[:split]) is not None:
            break
        resumed = EarlyStopping(**options)
        resumed.load_state_dict(json.loads(json.dumps(first.state_dict())))
        rest = stop_epoch_from(resumed, values, split + 1)
        assert rest == expected, f"resumed after epoch {split}"


def stop_epoch_from(hook, values, start):
    for epoch in range(start, len(values) + 1):
        if hook.evaluate(epoch, values[epoch - 1]).should_stop:
            return epoch
    return None


# --- 5. options validated at attach time, through the config loader too -----------------------------------------------
@pytest.mark.parametrize(
    "options, message",
    [
        (dict(mode="mn"), "early_stop: `mode` must be one of auto, min, max, got 'mn'"),
        (dict(monitor=3), "early_stop: `monitor` must be a non-empty string, got 3"),
        (dict(monitor=""), "`monitor` must be a non-empty string"),
        (dict(patience=0), r"`patience` must be an integer >= 1 \(or null to switch patience off\), got 0"),
        (dict(patience=2.5), "`patience` must be an integer >= 1"),
        (dict(patience=True), "`patience` must be an integer >= 1"),
        (dict(min_delta=-0.1), "`min_delta` must be a number >= 0.0, got -0.1"),
        (dict(min_delta="5 percent"), "`min_delta` must be a number or a percentage like '5%'"),
        (dict(min_delta="-5%"), "`min_delta` must be a number or a percentage"),
        (dict(warmup=-1), "`warmup` must be an integer >= 0, got -1"),
        (dict(baseline="high"), "`baseline` must be a number, got 'high'"),
        (dict(stop_at=math.nan), "`stop_at` must be a number"),
        (dict(stop_at=0.5, divergence=0.6), r"`divergence` must be worse than stop_at=0.5 in mode max \(<\)"),
        (dict(stop_at=0.5, divergence=0.4, mode="min"), r"worse than stop_at=0.5 in mode min \(>\)"),
        (dict(stop_on_non_finite="yes"), "`stop_on_non_finite` must be true or false, got 'yes'"),
        (dict(verbose=1), "`verbose` must be true or false, got 1"),
    ],
)
def test_bad_options_are_config_errors_at_attach_time(options, message):
    with pytest.raises(ConfigError, match=message):
        EarlyStopping(**options)
    with pytest.raises(ConfigError, match=message):
        yolo_hooks.build_hooks({"early_stop": options})


def test_config_loader_builds_it_and_rejects_misspelled_options():
    (hook,) = yolo_hooks.build_hooks(
        {"early_stop": {"monitor": "metrics/mAP50(B)", "patience": 5, "min_delta": "2%", "stop_at": 0.9}}
    )
    assert isinstance(hook, EarlyStopping)
    assert (hook.monitor, hook.mode, hook.min_delta, hook.relative_delta, hook.patience) == (
        "metrics/mAP50(B)", "max", 0.02, True, 5,
    )
    with pytest.raises(ConfigError, match=r"early_stop: unknown option `patiance` \(did you mean `patience`\?\)"):
        yolo_hooks.build_hooks({"early_stop": {"patiance": 5}})
    assert yolo_hooks.EarlyStopping is EarlyStopping
