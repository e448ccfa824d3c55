"""The number rules every hook shares: what counts as finite, how a duration reads."""

from __future__ import annotations

import math

import pytest

from yolo_hooks.core.numbers import finite, format_duration


@pytest.mark.parametrize(
    "value, expected",
    [(0.5, True), (0, True), (-3, True), (None, False), (math.nan, False), (math.inf, False), (-math.inf, False),
     (True, False), ("0.5", False)],
)
def test_finite_is_a_real_number_that_is_not_nan_or_inf(value, expected):
    assert finite(value) is expected


@pytest.mark.parametrize(
    "seconds, text", [(None, "-"), (math.nan, "-"), (5.04, "5.0s"), (75.2, "1m15s"), (3700, "1h01m"), (-2, "0.0s")]
)
def test_durations(seconds, text):
    assert format_duration(seconds) == text


def test_a_missing_duration_can_read_as_nothing():
    assert format_duration(None, missing="") == ""
