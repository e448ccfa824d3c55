"""`keep` goes on counting across resume=True: the resumed run prunes the copies the first process made."""

from __future__ import annotations

import pytest

from tests.conftest import train_interrupted_then_resumed
from yolo_hooks.mirror.hook import BestMirror

pytestmark = pytest.mark.training


def test_keep_counts_the_copies_of_the_interrupted_process(tmp_path, device):
    mirror = tmp_path / "mirror"
    first, resumed, model = train_interrupted_then_resumed(
        tmp_path, lambda: [BestMirror(to=str(mirror), keep=1, flush_timeout=60)], epochs=4, interrupt_at=2,
        device=device,
    )
    versioned = sorted(p.name for p in mirror.glob("best-epoch*.pt"))
    assert len(versioned) == 1, versioned  # the first process' epoch-1/2 copies were pruned by the resumed run
    assert (mirror / "best.pt").exists()
    state = model.trainer.save_dir / "weights" / "best_mirror.state.json"
    assert state.exists()
