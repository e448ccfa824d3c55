"""`yolo-hooks resume` takes the newest resume set that verifies, falls back to the one before, never mixes two
sets, refuses what it cannot verify with a reason, and leaves nothing behind when it refuses."""

from __future__ import annotations

import json

import pytest

from yolo_hooks.cli import main
from yolo_hooks.mirror import resume_set
from yolo_hooks.mirror.local import LocalStore
from yolo_hooks.mirror.resume_set import SetName
from yolo_hooks.mirror.staging import StagedFile
from yolo_hooks.recovery.resume import fetch_newest, prepare


def checkpoint(path, epoch: int, stripped: bool = False) -> None:
    """A stand-in last.pt: what resume reads of it (the 0-based epoch, the optimizer) and nothing else."""
    import torch

    torch.save({"epoch": epoch - 1, "optimizer": None if stripped else {"state": {}}, "train_args": {}}, path)


def publish(store: LocalStore, tmp_path, epoch: int, final: bool = False, state_epoch: int | None = None,
            epochs: int = 10) -> SetName:
    """A resume set of ``epoch`` published through the mirror's own code."""
    source = tmp_path / f"last-{epoch}{'-final' if final else ''}.pt"
    checkpoint(source, epoch, stripped=final)
    staged = StagedFile(source, tmp_path / "staging", refs=1)
    staged.materialize()
    files = [("run/results.csv", b"epoch,time\n" + b"".join(b"%d,1.0\n" % e for e in range(1, epoch + 1))),
             ("run/weights/early_stop.state.json",
              json.dumps({"epoch": state_epoch or epoch, "state": {"wait": epoch}}).encode())]
    name = SetName(epoch, final)
    resume_set.publish(store, name, staged, files, {"epoch": epoch, "epochs": epochs, "name": "exp1"}, [])
    return name


def test_the_newest_set_that_verifies_is_taken_and_a_damaged_one_is_said(tmp_path):
    store = LocalStore(tmp_path / "mirror")
    publish(store, tmp_path, 3)
    publish(store, tmp_path, 4)
    (tmp_path / "mirror" / "resume" / "epoch0004" / "run" / "results.csv").write_bytes(b"epoch,time\n1,9.9\n")
    said = []
    name, doc, folder = fetch_newest(store, tmp_path, said.append)
    assert name == SetName(3) and doc["epoch"] == 3
    assert "epoch0004" in said[0] and "run/results.csv does not match the manifest" in said[0]
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == [
        "results.csv", "weights/early_stop.state.json", "weights/last.pt"]
    assert json.loads((folder / "weights" / "early_stop.state.json").read_text())["epoch"] == 3  # never epoch 4's
    assert [p.name for p in tmp_path.glob(".resume-*")] == [folder.name]  # the refused set's folder is gone


def test_a_set_is_never_mixed_with_another_epoch(tmp_path):
    store = LocalStore(tmp_path / "mirror")
    publish(store, tmp_path, 5, state_epoch=7)  # a hook state of a later epoch in the set: refused
    publish(store, tmp_path, 4)
    said = []
    assert fetch_newest(store, tmp_path, said.append)[0] == SetName(4)
    assert "early_stop.state.json is of epoch 7, after the set's epoch 5" in said[0]


def test_an_incomplete_set_is_invisible_and_old_sets_are_removed(tmp_path):
    store = LocalStore(tmp_path / "mirror")
    for epoch in (1, 2, 3):
        publish(store, tmp_path, epoch)
    assert resume_set.complete_sets(store) == [SetName(3), SetName(2)]  # KEPT = 2
    assert sorted(store.names("resume")) == ["epoch0002", "epoch0002.json", "epoch0003", "epoch0003.json"]
    (tmp_path / "mirror" / "resume" / "epoch0004" / "run").mkdir(parents=True)  # a copy cut off by a kill
    (tmp_path / "mirror" / "resume" / "epoch0004" / "last.pt").write_bytes(b"half")
    assert fetch_newest(store, tmp_path, print)[0] == SetName(3)


def test_a_finished_run_has_nothing_to_resume(tmp_path, capsys):
    store = LocalStore(tmp_path / "mirror")
    publish(store, tmp_path, 10)  # every epoch done (epochs=10)
    publish(store, tmp_path, 10, final=True)
    assert main(["resume", str(tmp_path / "mirror"), f"dir={tmp_path / 'run'}"]) == 1
    err = capsys.readouterr().err
    assert "epoch0010-final: the run's final last.pt" in err and "every epoch (10/10) is done" in err
    assert not (tmp_path / "run").exists()


def test_a_mirror_without_a_set_says_how_to_get_one(tmp_path, capsys):
    (tmp_path / "mirror").mkdir()
    assert main(["resume", str(tmp_path / "mirror"), f"dir={tmp_path / 'run'}"]) == 1
    assert "last_every" in capsys.readouterr().err


def test_a_mirror_of_yolo_hooks_0_1_is_not_resumed_blindly(tmp_path, capsys):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    checkpoint(mirror / "last.pt", 3)
    (mirror / "last.json").write_text(json.dumps({"file": "last.pt", "epoch": 3}))
    assert main(["resume", str(mirror), f"dir={tmp_path / 'run'}"]) == 1
    err = capsys.readouterr().err
    assert "without a manifest" in err and "yolo train resume=True model=last.pt" in err


@pytest.mark.parametrize("damage", ["sha256", "missing"])
def test_a_refused_resume_leaves_nothing_behind_and_the_same_dir_works_again(tmp_path, capsys, damage):
    store = LocalStore(tmp_path / "mirror")
    name = publish(store, tmp_path, 3)
    member = tmp_path / "mirror" / name.folder / "last.pt"
    good = member.read_bytes()
    if damage == "missing":
        member.unlink()
    else:
        member.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))
    target = tmp_path / "new" / "deeper" / "run"
    assert main(["resume", str(tmp_path / "mirror"), f"dir={target}"]) == 1
    assert "no resume set" in capsys.readouterr().err
    assert not (tmp_path / "new").exists() and not list(tmp_path.glob(".resume-*"))
    member.write_bytes(good)  # the store is whole again: the same dir= takes the set (what the CLI trains from)
    assert prepare(store, target, print)[0] == SetName(3)
    assert (target / "weights" / "last.pt").is_file() and (target / "results.csv").is_file()
    assert not list(target.parent.glob(".resume-*"))
