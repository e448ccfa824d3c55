"""A hook's failure never reaches training; strict hooks crash it; crashes and interrupts reach teardown."""

from __future__ import annotations

import logging

import pytest

from tests.conftest import train
from tests.helpers import Raiser, Recorder

pytestmark = [pytest.mark.training, pytest.mark.floor]


def test_a_raising_hook_does_not_stop_training_and_is_logged_once(tmp_path, device, caplog):
    raiser, recorder = Raiser("on_train_batch_end"), Recorder()
    with caplog.at_level(logging.WARNING, logger="ultralytics"):
        model = train(tmp_path, raiser, recorder, device=device, epochs=2)

    assert (model.trainer.save_dir / "weights" / "best.pt").exists()
    assert recorder.outcomes[0].status == "finished"
    assert raiser.calls >= 2 and raiser.error_total == raiser.calls  # every failure counted...
    failures = [r for r in caplog.records if "Raiser.on_train_batch_end failed" in r.getMessage()]
    assert len(failures) == 1  # ...but logged once, with its traceback
    assert "Traceback" in failures[0].getMessage() and "RuntimeError: boom" in failures[0].getMessage()


def test_a_strict_hook_crashes_training_and_teardown_records_the_crash(tmp_path, device):
    recorder = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        train(tmp_path, recorder, Raiser("on_fit_epoch_end", at_epoch=1, strict=True), device=device, epochs=3)

    outcome = recorder.outcomes[0]
    assert (outcome.status, outcome.exc_type, outcome.message, outcome.epoch) == ("crashed", "RuntimeError", "boom", 2)
    assert ("on_train_end", 1) not in recorder.events


def test_keyboard_interrupt_in_a_batch_reaches_teardown_as_interrupted(tmp_path, device):
    recorder = Recorder()
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path, recorder, Raiser("on_train_batch_end", error=KeyboardInterrupt(), at_epoch=1), device=device, epochs=3)

    assert recorder.outcomes[0].status == "interrupted"
    assert recorder.outcomes[0].exc_type == "KeyboardInterrupt"
