"""Once-per-run side effects happen on rank -1/0 only; the rank is read at call time, as DDP workers set it."""

from __future__ import annotations

from types import SimpleNamespace

from yolo_hooks import Hook
from yolo_hooks.core.run import is_main_process, rank


class Stateful(Hook):
    config_name = "stateful"

    def state_dict(self):
        return {"wait_count": 2}


def test_rank_comes_from_the_environment_at_call_time(monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    assert (rank(), is_main_process()) == (-1, True)
    monkeypatch.setenv("RANK", "0")
    assert is_main_process()
    monkeypatch.setenv("RANK", "1")
    assert (rank(), is_main_process(), Stateful().is_main_process) == (1, False, False)


def test_state_is_written_by_the_main_process_only_and_read_back(tmp_path, monkeypatch):
    trainer = SimpleNamespace(save_dir=tmp_path)
    monkeypatch.setenv("RANK", "1")
    Stateful().save_state(trainer, epoch=3)
    assert not (tmp_path / "weights" / "stateful.state.json").exists()

    monkeypatch.setenv("RANK", "0")
    Stateful().save_state(trainer, epoch=3)
    restored = {}
    hook = Stateful()
    hook.load_state_dict = restored.update
    assert hook.restore_state(trainer) == 3 and restored == {"wait_count": 2}
