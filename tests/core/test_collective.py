"""Without a DDP process group the collectives are no-ops (the 2-rank behaviour is proven in tests/ddp/)."""

from __future__ import annotations

from types import SimpleNamespace

from yolo_hooks.core.collective import distributed, from_rank0, share_stop


def test_outside_ddp_every_value_is_its_own_and_stop_is_left_alone():
    assert not distributed()
    assert from_rank0([0.5, 0.25]) == [0.5, 0.25] and from_rank0(None) is None
    for stop in (True, False):
        trainer = SimpleNamespace(stop=stop)
        share_stop(trainer)
        assert trainer.stop is stop
