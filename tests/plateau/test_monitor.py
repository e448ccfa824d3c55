"""The shared plateau tracker and monitor reading: tables of values in, decisions out."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.helpers import LoggedEarlyStop, captured_log
from yolo_hooks import ConfigError
from yolo_hooks.core.run import EpochSnapshot
from yolo_hooks.plateau.early_stop import EarlyStopping
from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau
from yolo_hooks.plateau.monitor import PlateauTracker, resolve_mode


@pytest.mark.parametrize(
    "monitor, mode, expected",
    [
        ("fitness", "auto", "max"),
        ("metrics/mAP50(B)", "auto", "max"),
        ("val/box_loss", "auto", "min"),
        ("val/loss", "auto", "min"),
        ("train/loss", "auto", "min"),
        ("metrics/accuracy_top1", "auto", "max"),
        ("metrics/mIoU", "auto", "max"),
        ("val/box_loss", "max", "max"),
        ("fitness", "min", "min"),
        ("lr/pg0", "auto", None),  # cannot tell: the hook raises (below)
        ("metrics/abs_rel", "auto", None),
        ("lr/pg0", "min", "min"),
    ],
)
def test_auto_mode_minimises_losses_and_maximises_quality_metrics(monitor, mode, expected):
    assert resolve_mode(monitor, mode) == expected


@pytest.mark.parametrize("hook", [EarlyStopping, ReduceLROnPlateau])
def test_auto_mode_that_cannot_infer_a_direction_is_a_config_error(hook):
    with pytest.raises(ConfigError, match=r"`mode` must be min or max: `auto` cannot tell whether `lr/pg0`.*'auto'"):
        hook(monitor="lr/pg0")
    assert hook(monitor="lr/pg0", mode="min").mode == "min"


def test_auto_mode_logs_the_direction_it_inferred_at_train_start():
    optimizer = SimpleNamespace(param_groups=[{"lr": 0.01}])
    trainer = SimpleNamespace(args=SimpleNamespace(resume=False), optimizer=optimizer)
    with captured_log() as lines:
        EarlyStopping(monitor="val/loss").on_train_start(trainer)
        ReduceLROnPlateau(monitor="metrics/mAP50(B)").on_train_start(trainer)
        EarlyStopping(monitor="val/loss", mode="min").on_train_start(trainer)
    assert "early_stop: mode auto: minimising `val/loss`" in lines
    assert "lr_on_plateau: mode auto: maximising `metrics/mAP50(B)`" in lines
    assert sum("mode auto" in line for line in lines) == 2  # a mode that was given is not announced


@pytest.mark.parametrize(
    "mode, min_delta, relative, values, improved",
    [
        ("max", 0.0, False, [0.5, 0.5, 0.6, 0.59], [True, False, True, False]),  # ties are no improvement
        ("max", 0.05, False, [0.5, 0.55, 0.5501, 0.61], [True, False, True, True]),  # must beat best by > 0.05
        ("min", 0.1, False, [1.0, 0.9, 0.89, 0.7], [True, False, True, True]),
        ("max", 0.1, True, [0.5, 0.55, 0.56, 0.615], [True, False, True, False]),  # 10 % of |best|
        ("min", 0.1, True, [2.0, 1.85, 1.79, 1.7], [True, False, True, False]),
        ("max", 0.0, False, [-3.0, -2.0, -2.5], [True, True, False]),  # the first value always improves
    ],
)
def test_improvement_table(mode, min_delta, relative, values, improved):
    t = PlateauTracker(mode=mode, min_delta=min_delta, relative=relative)
    assert [t.update(e, v) for e, v in enumerate(values, start=1)] == improved


def test_wait_count_resets_only_when_the_baseline_is_beaten_too():
    t = PlateauTracker(mode="max", baseline=0.5)
    waits = []
    for epoch, value in enumerate([0.3, 0.4, 0.35, 0.6, 0.55], start=1):
        t.update(epoch, value)
        waits.append(t.wait_count)
    assert waits == [1, 2, 3, 0, 1]
    assert (t.best, t.best_epoch, t.baseline_beaten) == (0.6, 4, True)


def test_cooldown_keeps_the_wait_count_from_growing():
    t = PlateauTracker(mode="min")
    t.update(1, 1.0)
    t.update(2, 1.0, count_wait=False)
    assert t.wait_count == 0
    t.update(3, 1.0)
    assert t.wait_count == 1


def test_state_round_trips_through_json_and_ignores_unknown_keys():
    t = PlateauTracker(mode="max")
    for e, v in enumerate([0.1, 0.3, 0.2], start=1):
        t.update(e, v)
    state = json.loads(json.dumps(t.state_dict()))
    fresh = PlateauTracker(mode="max")
    fresh.load_state_dict({**state, "from_the_future": 1})
    assert fresh.state_dict() == {"best": 0.3, "best_epoch": 2, "wait_count": 1, "epochs_seen": 3}
    partial = PlateauTracker()
    partial.load_state_dict({"best": 0.2})  # older state: missing keys keep their defaults
    assert (partial.best, partial.wait_count) == (0.2, 0)


# --- reading the monitored value from a snapshot ---------------------------------------------------------------------
def snapshot(fitness=0.25, metrics=None, val_losses=None) -> EpochSnapshot:
    return EpochSnapshot(
        epoch=1, epochs=10, is_final_eval=False, fitness=fitness, best_fitness=fitness, best_epoch=1, is_best=True,
        metrics=metrics if metrics is not None else {"metrics/mAP50(B)": 0.5, "metrics/mAP50-95(B)": 0.2},
        val_losses=val_losses if val_losses is not None else {"val/box_loss": 1.5, "val/cls_loss": 2.0},
        train_losses={"train/box_loss": 1.0}, lr={"lr/pg0": 0.001}, epoch_time=1.0, elapsed=1.0, start_epoch=0,
        stop=False, task="detect", save_dir=Path("."), best_path=Path("best.pt"), last_path=Path("last.pt"),
    )


@pytest.mark.parametrize(
    "monitor, expected",
    [("fitness", 0.25), ("metrics/mAP50(B)", 0.5), ("val/box_loss", 1.5), ("val/loss", 3.5), ("train/loss", 1.0)],
)
def test_monitored_value_reads_any_key_of_the_run(monitor, expected):
    assert EarlyStopping(monitor=monitor).monitored_value(snapshot()) == pytest.approx(expected)


def test_missing_key_is_one_clear_error_listing_the_keys_and_no_decision():
    hook = LoggedEarlyStop(monitor="metrics/mAP75(B)", patience=1)
    for epoch in (1, 2, 3):
        value = hook.monitored_value(snapshot())
        assert value is None
        assert hook.evaluate(epoch, value).should_stop is False
    assert len(hook.logged) == 1
    level, message = hook.logged[0]
    assert level == "error"
    assert "`metrics/mAP75(B)` is not a value of this run" in message
    assert "metrics/mAP50(B), metrics/mAP50-95(B)" in message and "val/box_loss" in message and "fitness" in message
    assert hook.tracker.epochs_seen == 0


def test_skipped_validation_counts_as_not_measured_except_for_training_values():
    stale = snapshot(fitness=None)  # val=False: metrics and val losses are last epoch's (or zeros)
    assert EarlyStopping(monitor="metrics/mAP50(B)").monitored_value(stale) is None
    assert EarlyStopping(monitor="val/box_loss").monitored_value(stale) is None
    assert EarlyStopping(monitor="fitness").monitored_value(stale) is None
    assert EarlyStopping(monitor="train/loss").monitored_value(stale) == 1.0


def test_hooks_pickle_with_their_counters_for_ddp_workers():
    import pickle

    import cloudpickle

    from yolo_hooks.plateau.lr_on_plateau import ReduceLROnPlateau

    stop = EarlyStopping(patience=2)
    for epoch in (1, 2):
        stop.evaluate(epoch, 0.0)
    lr = ReduceLROnPlateau(patience=1)
    lr.set_lrs([0.01, 0.02])
    lr.observe(1, 0.5)
    for hook in (stop, lr):
        clone = pickle.loads(cloudpickle.dumps(hook))
        assert clone.state_dict() == hook.state_dict()
