"""The pure parts of a resume set (names, results.csv cut, which sets go), and the store operations it needs, on a
folder and on an fsspec store."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from yolo_hooks.mirror.base import _HOST, TMP_MARK
from yolo_hooks.mirror.checks import FileCheck
from yolo_hooks.mirror.fsspec_url import FsspecStore
from yolo_hooks.mirror.local import LocalStore
from yolo_hooks.mirror.resume_set import SetName, cut_results, members_of, obsolete

HEADER = b"                  epoch,time,lr/pg0\n"


@pytest.mark.parametrize("data, epoch, kept", [
    (HEADER + b"1,1,0.1\n2,2,0.1\n3,3,0.1\n", 2, [1, 2]),  # the next epoch's row, appended meanwhile: cut
    (HEADER + b"1,1,0.1\n2,2,0.1\n", 2, [1, 2]),
    (HEADER + b"1,1,0.1\n2,2,0.1\n3,3", 3, [1, 2]),  # a row still being written is not a row
    (HEADER + b"1,1,0.1\n3,3,0.1\n2,2,0.1\n", 2, [1, 2]),  # a run resumed from an older last.pt: order kept
    (HEADER + b"1,1,0.1\nnot a row\n", 5, [1]),
    (HEADER, 3, []),
    (b"", 3, []),
])
def test_results_csv_is_cut_to_the_sets_epoch(data, epoch, kept):
    cut = cut_results(data, epoch)
    rows = cut.split(b"\n")[1:-1]
    assert [int(r.split(b",")[0]) for r in rows] == kept
    assert cut.startswith(HEADER) or not data.count(b"\n")


@pytest.mark.parametrize("present, gone", [
    ([], []),
    (["epoch0003", "epoch0003.json"], []),
    (["epoch0001", "epoch0001.json", "epoch0002", "epoch0002.json", "epoch0003", "epoch0003.json"], [SetName(1)]),
    # incomplete: older than the newest complete set goes, newer stays (it is being written)
    (["epoch0001", "epoch0002", "epoch0002.json", "epoch0004"], [SetName(1)]),
    # the final set counts as newest; the epoch's own set is the one to fall back on
    (["epoch0005", "epoch0005.json", "epoch0006", "epoch0006.json", "epoch0006-final", "epoch0006-final.json"],
     [SetName(5)]),
    (["epoch0002", "epoch0002.json", "other-file", ".epoch0003.json.tmp-h-1-x"], []),
])
def test_which_sets_are_removed(present, gone):
    assert obsolete(present) == gone


@pytest.mark.parametrize("name, parsed", [
    ("epoch0005", SetName(5)), ("epoch0005.json", SetName(5)), ("epoch12345-final.json", SetName(12345, True)),
    ("epoch5x", None), ("last.pt", None), (".epoch0005.json.tmp-host-1-abc", None),
])
def test_names_in_the_resume_folder(name, parsed):
    assert SetName.parse(name) == parsed


@pytest.mark.parametrize("doc, error", [
    ({}, "does not list last.pt"),
    ({"members": {"run/args.yaml": {"size": 1, "sha256": "a"}}}, "does not list last.pt"),
    ({"members": {"last.pt": {"size": 1, "sha256": "a"}, "../../etc/passwd": {"size": 1, "sha256": "a"}}}, "oddly"),
    ({"members": {"last.pt": {"size": 1, "sha256": "a"}, "/abs": {"size": 1, "sha256": "a"}}}, "oddly"),
])
def test_a_manifest_that_does_not_name_its_members_properly_is_refused(doc, error):
    with pytest.raises(ValueError, match=error):
        members_of(doc)


def test_members_of_a_manifest():
    doc = {"members": {"last.pt": {"size": 3, "sha256": "ab"}, "run/args.yaml": {"size": 1, "sha256": "cd"}}}
    assert members_of(doc) == {"last.pt": FileCheck(3, "ab"), "run/args.yaml": FileCheck(1, "cd")}


@pytest.fixture(params=["folder", "memory"])
def store(request, tmp_path):
    if request.param == "folder":
        return LocalStore(tmp_path / "mirror")
    return FsspecStore(f"memory://yolo-hooks-tests/{uuid.uuid4().hex[:8]}")


def test_folders_in_a_store_are_listed_read_and_removed(store, tmp_path):
    source = tmp_path / "file.bin"
    source.write_bytes(b"x" * 1000)
    store.put_file(source, "resume/epoch0002/last.pt")
    store.put_bytes(b"{}", "resume/epoch0002.json")
    store.put_bytes(b"a: 1\n", "resume/epoch0002/run/args.yaml")
    assert store.names("resume") == ["epoch0002", "epoch0002.json"]
    assert store.names("nowhere") == []
    assert store.read_bytes("resume/epoch0002/run/args.yaml") == b"a: 1\n"
    back = store.get_file("resume/epoch0002/last.pt", tmp_path / "back.bin")
    assert back == FileCheck(1000, hashlib.sha256(b"x" * 1000).hexdigest()) == FileCheck(1000, hashlib.sha256(
        (tmp_path / "back.bin").read_bytes()).hexdigest())
    store.delete_folder("resume/epoch0002")
    store.delete_folder("resume/epoch0009")  # not there: nothing to do
    assert store.names("resume") == ["epoch0002.json"]


def test_a_temporary_left_by_a_killed_process_is_removed_from_any_folder(store, tmp_path):
    dead = 2**22 + 4321  # above the default pid_max: no such process
    left = f"resume/epoch0003/run/weights/.x.state.json{TMP_MARK}{_HOST}-{dead}-abcdef123456"
    store.put_bytes(b"half", left)
    store.put_bytes(b"whole", "resume/epoch0003/run/weights/x.state.json")
    assert store.clean_abandoned() == [left]
    assert store.exists("resume/epoch0003/run/weights/x.state.json") and not store.exists(left)
