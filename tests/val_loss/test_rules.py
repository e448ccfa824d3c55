"""The alert rules on scripted loss sequences: sequence in, (epoch, kind, rule, loss) out."""

from __future__ import annotations

import json
import math

import pytest

from yolo_hooks.val_loss.rules import DEFAULT, AlertRules, AlertState, Observation, Threshold, evaluate

NAN, INF = math.nan, math.inf
PCT25, PCT50 = Threshold(0.25, True), Threshold(0.5, True)


def run(rules: AlertRules, epochs: list, state: AlertState | None = None, start: int = 1):
    """Feed one Observation per item (a val dict, or (val, train) / (val, train, fitness)); return all records."""
    state = state or AlertState()
    records = []
    for epoch, item in enumerate(epochs, start):
        val, train, fitness = (item, {}, None) if isinstance(item, dict) else (*item, None)[:3]
        state, new = evaluate(rules, state, Observation(epoch, val, train, fitness))
        records += new
    return state, records


def summary(records) -> list[tuple]:
    return [(r.epoch, r.kind, r.rule, r.loss) for r in records]


def box(*values) -> list[dict]:
    return [{"val/box_loss": v} for v in values]


CASES = {
    "above fires once, then recovers": (
        AlertRules(above={"val/box_loss": 5.0}),
        box(4, 6, 7, 4),
        [(2, "alert", "above", "val/box_loss"), (4, "recovered", "above", "val/box_loss")],
    ),
    "above for all losses includes the total": (
        AlertRules(above={DEFAULT: 10.0}),
        [{"val/box_loss": 3.3, "val/cls_loss": 5.9, "val/dfl_loss": 4.2}],
        [(1, "alert", "above", "val/loss")],
    ),
    "per-loss above with a default, one loss exempt": (
        AlertRules(above={DEFAULT: 1.0, "val/box_loss": 5.0, "val/loss": None}),
        [{"val/box_loss": 4.0, "val/cls_loss": 2.0}],
        [(1, "alert", "above", "val/cls_loss")],
    ),
    "rise over the best by 25%": (
        AlertRules(rise={"val/box_loss": PCT25}),
        box(4.0, 3.0, 3.5, 3.8, 3.9, 3.2),  # best 3.0 -> limit 3.75
        [(4, "alert", "rise", "val/box_loss"), (6, "recovered", "rise", "val/box_loss")],
    ),
    "rise in loss units": (
        AlertRules(rise={"val/box_loss": Threshold(0.5, False)}),
        box(2.0, 2.4, 2.6, 1.0, 1.6),
        [
            (3, "alert", "rise", "val/box_loss"),
            (4, "recovered", "rise", "val/box_loss"),
            (5, "alert", "rise", "val/box_loss"),
        ],
    ),
    "jump over the previous epoch by 50%": (
        AlertRules(jump={"val/box_loss": PCT50}),
        box(2.0, 3.1, 3.2, 3.0),  # 3.1 > 2*1.5; 3.2 is not a jump from 3.1
        [(2, "alert", "jump", "val/box_loss"), (3, "recovered", "jump", "val/box_loss")],
    ),
    "overfit: no improvement for `overfit` epochs while training loss falls": (
        AlertRules(overfit={"val/box_loss": 2}),
        [({"val/box_loss": v}, {"train/box_loss": t}) for v, t in [(3.0, 5.0), (3.1, 4.0), (3.2, 3.0), (2.9, 2.5)]],
        [(3, "alert", "overfit", "val/box_loss"), (4, "recovered", "overfit", "val/box_loss")],
    ),
    "no overfitting alert while training loss does not fall": (
        AlertRules(overfit={"val/box_loss": 2}),
        [({"val/box_loss": v}, {"train/box_loss": 5.0}) for v in (3.0, 3.1, 3.2, 3.3)],
        [],
    ),
    "overfitting on the total compares with the training total": (
        AlertRules(overfit={"val/loss": 1}),
        [
            ({"val/a": 1.0, "val/b": 1.0}, {"train/a": 3.0, "train/b": 3.0}),
            ({"val/a": 1.5, "val/b": 1.0}, {"train/a": 2.0, "train/b": 3.0}),
        ],
        [(2, "alert", "overfit", "val/loss")],
    ),
    "NaN in a component: one critical alert (not again for the total), then recovery": (
        AlertRules(rise={DEFAULT: PCT25}),
        [
            {"val/box_loss": 3.0, "val/cls_loss": 5.0},
            {"val/box_loss": NAN, "val/cls_loss": 5.0},
            {"val/box_loss": 3.0, "val/cls_loss": 5.0},
        ],
        [(2, "alert", "nonfinite", "val/box_loss"), (3, "recovered", "nonfinite", "val/box_loss")],
    ),
    "Inf in a training loss and NaN fitness": (
        AlertRules(),
        [({"val/box_loss": 3.0}, {"train/box_loss": INF}, NAN)],
        [(1, "alert", "nonfinite", "train/box_loss"), (1, "alert", "nonfinite", "fitness")],
    ),
    "non-finite rule switched off": (
        AlertRules(nonfinite=False),
        [({"val/box_loss": NAN}, {}, NAN)],
        [],
    ),
    "repeat_every: fires again every 2 epochs while true": (
        AlertRules(above={"val/box_loss": 1.0}, repeat_every=2),
        box(2, 2, 2, 2, 2, 0.5),
        [
            (1, "alert", "above", "val/box_loss"),
            (3, "alert", "above", "val/box_loss"),
            (5, "alert", "above", "val/box_loss"),
            (6, "recovered", "above", "val/box_loss"),
        ],
    ),
    "missing key: condition kept, neither recovered nor re-fired": (
        AlertRules(above={"val/box_loss": 1.0}, repeat_every=1),
        [
            {"val/box_loss": 2.0, "val/cls_loss": 0.1},
            {"val/cls_loss": 0.1},
            {},
            {"val/box_loss": 0.5, "val/cls_loss": 0.1},
        ],
        [(1, "alert", "above", "val/box_loss"), (4, "recovered", "above", "val/box_loss")],
    ),
    "classification: its one loss is the total, watched once": (
        AlertRules(above={DEFAULT: 1.0}),
        [{"val/loss": 2.0}],
        [(1, "alert", "above", "val/loss")],
    ),
}


@pytest.mark.parametrize("rules, sequence, expected", list(CASES.values()), ids=list(CASES))
def test_rule_tables(rules, sequence, expected):
    _, records = run(rules, sequence)
    assert summary(records) == expected


@pytest.mark.parametrize(
    "warmup, values, expected",
    [
        (0, [1.0, 5.0, 5.5], [(2, "alert", "rise", "val/box_loss")]),  # best 1.0 from epoch 1
        (2, [1.0, 5.0, 5.5], []),  # best starts at the last warm-up epoch: 5.0 -> limit 6.25
        (2, [1.0, 5.0, 6.5], [(3, "alert", "rise", "val/box_loss")]),
        (
            2,
            [1.0, NAN, 6.5],
            [
                (2, "alert", "nonfinite", "val/box_loss"),
                (3, "recovered", "nonfinite", "val/box_loss"),
                (3, "alert", "rise", "val/box_loss"),
            ],
        ),
        (3, [99.0, 99.0, 99.0], []),  # above does not apply during warm-up either
    ],
)
def test_warmup(warmup, values, expected):
    rules = AlertRules(above={"val/box_loss": 50.0}, rise={"val/box_loss": PCT25}, warmup=warmup)
    _, records = run(rules, box(*values))
    assert summary(records) == expected


def test_record_fields_severity_and_action():
    rules = AlertRules(above={"val/loss": 10.0}, rise={"val/box_loss": PCT25}, actions={"rise": "stop"})
    _, records = run(rules, box(2.0, 2.6, 11.0, NAN, 2.0))
    by = {(r.epoch, r.rule): r for r in records if r.kind == "alert"}
    rise = by[(2, "rise")]
    assert (rise.value, rise.threshold, rise.baseline, rise.severity, rise.action, rise.stops) == (
        2.6,
        2.5,
        2.0,
        "critical",
        "stop",
        True,
    )
    assert "+30% over its best 2 (epoch 1)" in rise.message
    above = by[(3, "above")]
    assert (above.loss, above.threshold, above.baseline, above.severity, above.action, above.stops) == (
        "val/loss",
        10.0,
        None,
        "critical",
        "alert",
        False,
    )
    nan = by[(4, "nonfinite")]
    assert (nan.severity, nan.as_dict()["value"], nan.message) == ("critical", "nan", "val/box_loss is NaN at epoch 4")
    json.dumps([r.as_dict() for r in records], allow_nan=False)  # strict JSON, NaN included
    recovered = [r for r in records if r.kind == "recovered"]  # all at epoch 5: nothing is decided on NaN but NaN
    assert sorted((r.epoch, r.rule) for r in recovered) == [(5, "above"), (5, "nonfinite"), (5, "rise")]
    assert all(r.severity == "info" and r.action is None and not r.stops for r in recovered)


def test_jump_warns_by_default_and_names_both_epochs():
    _, records = run(AlertRules(jump={"val/box_loss": PCT50}), box(2.0, 4.0))
    (record,) = records
    assert record.severity == "warning"
    assert record.message == "val/box_loss jumped +100% from 2 (epoch 1) to 4 at epoch 2; limit +50%"


def test_state_round_trips_through_json_and_continues_like_an_uninterrupted_run():
    rules = AlertRules(
        above={"val/box_loss": 1.0}, rise={"val/box_loss": PCT25}, overfit={"val/box_loss": 2}, repeat_every=2
    )
    sequence = [
        ({"val/box_loss": v}, {"train/box_loss": t})
        for v, t in [(0.8, 5), (2.0, 4), (2.1, 3), (2.2, 2), (0.7, 1), (0.9, 1)]
    ]
    _, straight = run(rules, sequence)

    state, first = run(rules, sequence[:3])
    restored = AlertState.from_dict(json.loads(json.dumps(state.as_dict())))
    _, rest = run(rules, sequence[3:], state=restored, start=4)
    assert summary(first + rest) == summary(straight)
    assert [r.since for r in first + rest] == [r.since for r in straight]
    assert restored.fired == state.fired == 3  # above and rise at epoch 2, overfit at epoch 3


def test_state_reads_old_or_partial_dicts_leniently():
    state = AlertState.from_dict(
        {
            "tracks": {"val/loss": {"best": 1.0, "best_epoch": 2, "future_key": 1}},
            "active": {"above|val/loss": {"since": 3}},
        }
    )
    assert state.tracks["val/loss"].best == 1.0 and state.active == {"above|val/loss": {"since": 3, "last_fired": 3}}
    assert AlertState.from_dict({}).tracks == {}


def test_evaluate_does_not_mutate_the_given_state():
    state = AlertState()
    new, _ = evaluate(AlertRules(above={DEFAULT: 1.0}), state, Observation(1, {"val/box_loss": 2.0}))
    assert state.tracks == {} and state.active == {} and new.active


def _record(kind, rule, loss, value, baseline=None, threshold=None, severity="warning", action=None):
    from yolo_hooks.val_loss.rules import AlertRecord

    return AlertRecord(kind, rule, loss, value, threshold, baseline, 16, 16, severity if kind == "alert" else "info",
                       action, f"{loss} message")


@pytest.mark.parametrize("records, line, level", [
    ([_record("alert", "rise", "val/cls_loss", 3.889, baseline=2.843), _record("alert", "rise", "val/loss", 8.593,
      baseline=6.475)], "epoch 16: rise on val/cls_loss (+37%), val/loss (+33%)", "warning"),
    ([_record("alert", "above", "val/loss", 52.1, threshold=50, severity="critical", action="stop")],
     "epoch 16: above on val/loss (52.1 > 50); stopping", "error"),
    ([_record("alert", "nonfinite", "val/loss", float("nan"), severity="critical"),
      _record("recovered", "rise", "val/box_loss", 1.0, baseline=1.1)],
     "epoch 16: nonfinite on val/loss (not finite); recovered: val/box_loss", "error"),
    ([_record("recovered", "rise", "val/box_loss", 1.0), _record("recovered", "jump", "val/box_loss", 1.0)],
     "epoch 16: recovered: val/box_loss", "info"),
])
def test_one_console_line_per_epoch_names_every_loss_that_alerts_or_recovers(records, line, level):
    from yolo_hooks.val_loss.rules import epoch_line

    assert epoch_line(records) == (line, level)


def test_the_end_of_run_line_says_what_an_alert_still_active_means():
    from yolo_hooks.val_loss.rules import end_line

    text, level = end_line(21, ["rise|val/box_loss", "rise|val/loss"], "runs/train/alerts.jsonl")
    assert level == "warning" and "still active at the end: rise on val/box_loss, rise on val/loss" in text
    assert "best.pt (the best fitness) is the checkpoint to use" in text
    assert end_line(2, [], "a.jsonl") == ("2 alert(s) this run, none active at the end; see a.jsonl", "info")
