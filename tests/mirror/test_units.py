"""Pure parts of best_mirror, by tables: names, pruning, the latest-wins queue, stores, retries, config."""

from __future__ import annotations

import errno
import hashlib
import threading
import time
from pathlib import Path

import pytest

from tests.mirror.support import (
    CorruptingStore,
    FlakyStore,
    SlowStore,
    leftovers,
    read_only_dir,
    stored_check,
)
from yolo_hooks import ConfigError
from yolo_hooks.core.worker import LatestWinsQueue
from yolo_hooks.mirror import FsspecStore, Job, LocalStore, MirrorError, MirrorWorker
from yolo_hooks.mirror.checks import FileCheck
from yolo_hooks.mirror.hook import BestMirror
from yolo_hooks.mirror.naming import check_template, field_name, prune, render
from yolo_hooks.mirror.queue import absorb
from yolo_hooks.mirror.staging import StagedFile, Superseded, identity
from yolo_hooks.mirror.upload import Upload, Uploader


@pytest.mark.parametrize(
    "key, name",
    [
        ("metrics/mAP50-95(B)", "mAP50_95"),
        ("metrics/mAP50(B)", "mAP50"),
        ("metrics/precision(M)", "precision_M"),
        ("metrics/recall(P)", "recall_P"),
        ("metrics/accuracy_top1", "accuracy_top1"),
        ("val/box_loss", "val_box_loss"),
        ("lr/pg0", "lr_pg0"),
    ],
)
def test_metric_keys_become_template_fields(key, name):
    assert field_name(key) == name


def test_render_uses_epoch_fitness_and_metrics():
    values = {"metrics/mAP50-95(B)": 0.41234, "val/box_loss": 1.5}
    assert render("e{epoch:03d}-{fitness:.4f}-{mAP50_95:.3f}.pt", 12, 0.5, values) == "e012-0.5000-0.412.pt"
    with pytest.raises(KeyError):
        render("e{epoch}-{mAP50_M}.pt", 1, 0.5, values)  # a mask metric on a detect run


@pytest.mark.parametrize(
    "template, error",
    [
        ("best.pt", "name_template"),  # no {epoch}: versions would overwrite each other
        ("{fitness:.4f}.pt", "name_template"),
        ("sub/{epoch}.pt", "name_template"),
        ("{epoch:03q}.pt", "name_template"),
        ("{epoch}-{nonsense}.pt", "name_template"),
        ("{epoch", "name_template"),
        ("", "name_template"),
    ],
)
def test_bad_templates_fail_at_attach_time(template, error):
    with pytest.raises(ConfigError, match=error):
        check_template("best_mirror", template)


@pytest.mark.parametrize(
    "versions, keep, kept, deleted",
    [
        (["a", "b", "c"], 2, ["b", "c"], ["a"]),
        (["a", "b", "c"], None, ["a", "b", "c"], []),
        (["a", "b", "c"], 0, [], ["a", "b", "c"]),
        (["a", "b", "a"], 1, ["a"], ["b"]),
        ([], 3, [], []),
    ],
)
def test_prune_keeps_the_newest(versions, keep, kept, deleted):
    assert prune(versions, keep) == (kept, deleted)


# --- latest-wins queue ---------------------------------------------------------------------------------------------
class SlotQueue:
    """The mirror's queue, each job put under its own slot (as MirrorWorker.submit does)."""

    def __init__(self):
        self.queue = LatestWinsQueue(on_replace=absorb)

    def put(self, job):
        return self.queue.put(job, job.slot)

    def __getattr__(self, name):
        return getattr(self.queue, name)


def test_queue_newer_job_replaces_waiting_one_of_same_slot():
    q = SlotQueue()
    assert q.put(Job("best", "best", 1)) is None
    assert q.put(Job("last", "last", "L")) is None
    assert q.put(Job("best", "best", 2)).payload == 1  # replaced, never uploaded
    assert q.put(Job("best", "final", 3)).payload == 2  # the final replaces a waiting best
    assert [j.payload for j in q.pending()] == ["L", 3]
    first = q.take(timeout=0)
    assert first.payload == "L" and q.pending()[0] is first  # running is listed first
    q.done(first)
    assert q.take(timeout=0).kind == "final"
    assert q.take(timeout=0) is None


def test_worker_never_interrupts_running_job_and_uploads_latest():
    release, started, processed, skipped = threading.Event(), threading.Event(), [], []

    def process(job):
        started.set()
        release.wait(5)
        processed.append(job.payload)

    worker = MirrorWorker("t", process, on_skip=lambda job: skipped.append(job.payload))
    worker.submit(Job("best", "best", 1))
    assert started.wait(5)  # epoch 1 is uploading (slow store)
    worker.submit(Job("best", "best", 2))
    worker.submit(Job("best", "best", 3))
    worker.submit(Job("best", "final", "final"))
    release.set()
    assert worker.flush(5)
    assert processed == [1, "final"] and skipped == [2, 3]


def test_flush_times_out_and_drain_returns_waiting_jobs():
    release = threading.Event()
    worker = MirrorWorker("t", lambda job: release.wait(5), on_skip=lambda job: None)
    worker.submit(Job("best", "best", 1))
    worker.submit(Job("last", "last", 2))
    t0 = time.monotonic()
    assert worker.flush(0.2) is False and time.monotonic() - t0 < 1.5
    assert [j.payload for j in worker.queue.drain()] == [2]
    release.set()
    assert worker.flush(5)


# --- stores ---------------------------------------------------------------------------------------------------
@pytest.fixture()
def source(tmp_path) -> Path:
    path = tmp_path / "src" / "best.pt"
    path.parent.mkdir()
    path.write_bytes(bytes(range(256)) * 9000)  # ~2.3 MB: several 1 MiB chunks
    return path


def test_local_put_is_verified_and_atomic(tmp_path, source):
    dest = LocalStore(tmp_path / "backup")  # leaf created, parent exists
    check = dest.put_file(source, "best.pt")
    assert check.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert (tmp_path / "backup" / "best.pt").read_bytes() == source.read_bytes()
    assert stored_check(dest, "best.pt") == check and leftovers(tmp_path / "backup") == []


def test_local_missing_parent_is_an_error_not_a_new_tree(tmp_path, source):
    dest = LocalStore(tmp_path / "not-mounted" / "backup")
    with pytest.raises(FileNotFoundError, match="not mounted"):
        dest.put_file(source, "best.pt")
    assert not (tmp_path / "not-mounted").exists()


def test_read_only_store_fails_cleanly(tmp_path, source):
    with read_only_dir(tmp_path / "ro") as ro:
        with pytest.raises(OSError):
            LocalStore(ro).put_file(source, "best.pt")
        assert list(ro.iterdir()) == []


def test_corrupted_copy_is_never_put_in_place(tmp_path, source):
    dest = CorruptingStore(tmp_path / "bad")
    with pytest.raises(MirrorError, match="verification failed"):
        dest.put_file(source, "best.pt")
    assert list((tmp_path / "bad").iterdir()) == []  # no best.pt, no temporary


def test_memory_filesystem_put_and_read_back(source):
    dest = FsspecStore("memory://unit-tests/run1")
    check = dest.put_file(source, "best.pt")
    assert dest.fs.cat("/unit-tests/run1/best.pt") == source.read_bytes()
    assert [p for p in dest.fs.ls("/unit-tests/run1", detail=False) if "tmp-" in p] == []
    assert stored_check(dest, "best.pt") == check


def test_staging_detects_a_rewrite(tmp_path, source):
    ident = identity(source)
    time.sleep(0.02)
    source.write_bytes(b"rewritten by the next epoch")
    with pytest.raises(Superseded):
        StagedFile(source, tmp_path / "staging", refs=1, expected=ident).materialize()
    staged = StagedFile(source, tmp_path / "staging", refs=1, expected=identity(source))
    staged.materialize()
    assert staged.path.read_bytes() == source.read_bytes()
    staged.release()
    assert not (tmp_path / "staging").exists()


# --- uploader: retries, keep, sidecar -------------------------------------------------------------------------------
def _upload(tmp_path, source, epoch, versioned):
    staged = StagedFile(source, tmp_path / "staging", refs=1)
    staged.materialize()
    return Job("best", "best", Upload("best", staged, [versioned, "best.pt"], versioned, "best.json", {"epoch": epoch}))


def test_disk_full_is_retried_with_backoff_then_succeeds(tmp_path, source):
    dest = FlakyStore(tmp_path / "flaky", failures=2, error=OSError(errno.ENOSPC, "No space left on device"))
    results = []
    uploader = Uploader(dest, keep=3, retries=3, backoff=0.01, report=results.append, log=lambda *a: None)
    uploader(_upload(tmp_path, source, 1, "best-epoch001.pt"))
    assert [r.ok for r in results] == [True] and results[0].attempts == 3
    assert leftovers(tmp_path / "flaky") == []  # the half-written temporaries were removed


def test_failure_after_all_retries_is_one_clear_result(tmp_path, source):
    dest = FlakyStore(tmp_path / "full", failures=99, error=OSError(errno.ENOSPC, "No space left on device"))
    results = []
    Uploader(dest, keep=3, retries=2, backoff=0.01, report=results.append, log=lambda *a: None)(
        _upload(tmp_path, source, 1, "best-epoch001.pt")
    )
    assert len(results) == 1 and not results[0].ok and results[0].attempts == 3
    assert "No space left on device" in results[0].error
    assert leftovers(tmp_path / "full") == [] and not (tmp_path / "staging").exists()


def test_keep_deletes_only_our_own_old_versions(tmp_path, source):
    folder = tmp_path / "keep"
    folder.mkdir()
    (folder / "best-epoch000.pt").write_bytes(b"someone else's file")
    results = []
    uploader = Uploader(LocalStore(folder), keep=2, retries=0, backoff=0, report=results.append, log=print)
    for epoch in (1, 2, 3):
        uploader(_upload(tmp_path, source, epoch, f"best-epoch{epoch:03d}.pt"))
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["best-epoch000.pt", "best-epoch002.pt", "best-epoch003.pt", "best.json", "best.pt"]
    import json

    doc = json.loads((folder / "best.json").read_text())
    assert doc["versions"] == ["best-epoch002.pt", "best-epoch003.pt"] and doc["epoch"] == 3
    assert doc["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest() and doc["size"] == source.stat().st_size


# --- config ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options, match",
    [
        ({"to": []}, "`to`"),
        ({"to": 5}, "`to`"),
        ({"to": {"url": "memory://x", "endpoint": "y"}}, "unknown option `to.endpoint`"),
        ({"to": {"url": "/tmp/x", "storage_options": {"a": 1}}}, "only with fsspec"),
        ({"to": "nosuchproto://bucket/x"}, "no fsspec backend"),
        ({"to": ["/tmp/a", "/tmp/a"]}, "twice"),
        ({"to": "/tmp/a", "keep": -1}, "`keep`"),
        ({"to": "/tmp/a", "last_every": 1.5}, "`last_every`"),
        ({"to": "/tmp/a", "exports": ["onnx", "zip"]}, "`exports`"),
        ({"to": "/tmp/a", "flush_timeout": "long"}, "`flush_timeout`"),
        ({"to": "/tmp/a", "retries": -1}, "`retries`"),
        ({"to": "/tmp/a", "name_template": "x.pt"}, "`name_template`"),
    ],
)
def test_bad_options_are_config_errors(options, match):
    with pytest.raises(ConfigError, match=match):
        BestMirror(**options)


def test_config_file_shape_and_storage_options():
    import yolo_hooks

    (hook,) = yolo_hooks.build_hooks(
        yolo_hooks.load_config(
            {"best_mirror": {"to": ["/tmp/a", {"url": "s3://bucket/run", "storage_options": {"endpoint_url": "http://127.0.0.1:1"}}],
                             "keep": 2, "exports": ["onnx"], "last_every": 5}}
        )
    )
    assert [d.display for d in hook.stores] == ["/tmp/a", "s3://bucket/***"]
    assert hook.exports == ("onnx",) and hook.keep == 2 and hook.last_every == 5


def test_missing_fsspec_names_the_pip_line(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "fsspec", None)  # import fsspec -> ImportError
    with pytest.raises(ConfigError, match=r'pip install "yolo-hooks\[cloud\]"'):
        BestMirror(to="s3://bucket/run")
    BestMirror(to="/tmp/local-needs-no-fsspec")


def test_credentials_never_reach_logs_or_events(tmp_path):
    import io
    import logging

    from ultralytics.utils import LOGGER

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    LOGGER.addHandler(handler)
    try:
        hook = BestMirror(to={"url": "memory://user:hunter2@host/private/path", "storage_options": {}})
        assert "hunter2" not in repr(hook.stores) and "private" not in hook.stores[0].display
        hook.log("failed writing memory://user:hunter2@host/private/path/best.pt", "error")
    finally:
        LOGGER.removeHandler(handler)
    assert "failed writing memory://host/***" in stream.getvalue() and "hunter2" not in stream.getvalue()


def test_hook_pickles_before_and_after_work(tmp_path, source):
    import pickle

    hook = BestMirror(to=[str(tmp_path / "p"), "memory://pickle/x"])
    hook._ensure_workers()
    clone = pickle.loads(pickle.dumps(hook))
    assert clone._workers is None and [d.display for d in clone.stores] == [str(tmp_path / "p"), "memory://pickle/***"]


def test_temporaries_abandoned_by_a_killed_process_are_cleaned_up_on_the_next_copy(tmp_path):
    import subprocess
    import sys

    from yolo_hooks.mirror.base import _HOST, TMP_MARK
    from yolo_hooks.mirror.local import LocalStore

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    dest_dir = tmp_path / "dest"
    dest_dir.mkdir()
    abandoned = dest_dir / f".best.pt{TMP_MARK}{_HOST}-{dead_pid}-0123456789ab"
    running = dest_dir / f".best.pt{TMP_MARK}{_HOST}-1-0123456789ab"  # pid 1 is alive: someone is writing it
    foreign = dest_dir / f".best.pt{TMP_MARK}otherhost-{dead_pid}-0123456789ab"  # another machine's: not ours
    for path in (abandoned, running, foreign):
        path.write_bytes(b"half a checkpoint")
    source = tmp_path / "best.pt"
    source.write_bytes(b"weights" * 1000)

    LocalStore(dest_dir).put_file(source, "best.pt")

    assert not abandoned.exists() and running.exists() and foreign.exists()
    assert (dest_dir / "best.pt").read_bytes() == source.read_bytes()


# --- work saved: no copy nobody needs, one upload per version ------------------------------------------------------
def test_a_file_is_not_staged_when_every_store_dropped_it(tmp_path, source):
    staged = StagedFile(source, tmp_path / "staging", refs=2, expected=identity(source))
    staged.release()
    staged.release()  # both stores got a newer best first (latest wins)
    with pytest.raises(Superseded, match="no store needs"):
        staged.materialize()
    assert not (tmp_path / "staging").exists()


def test_staging_hashes_while_copying_and_is_shared(tmp_path, source):
    staged = StagedFile(source, tmp_path / "staging", refs=2, expected=identity(source))
    path = staged.materialize()
    assert staged.materialize() == path and len(list((tmp_path / "staging").iterdir())) == 1  # copied once
    assert staged.check.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    staged.release()
    assert path.exists()
    staged.release()
    assert not path.exists()


@pytest.mark.parametrize("linked", [True, False], ids=["hard link", "kernel copy"])
def test_a_staged_copy_reaches_a_local_store_verified_against_the_source(tmp_path, source, monkeypatch, linked):
    from yolo_hooks.mirror import local

    if not linked:  # as when the store is on another filesystem than the run folder
        monkeypatch.setattr(local, "_link", lambda src, dst: False)
    original = source.read_bytes()
    staged = StagedFile(source, tmp_path / "staging", refs=1, expected=identity(source))
    staged.materialize()  # hashed from the source's bytes as they were read
    assert staged.check == FileCheck(len(original), hashlib.sha256(original).hexdigest())
    dest = LocalStore(tmp_path / "fast")
    assert dest.put_staged(staged.path, "best.pt", staged.check) == staged.check
    copy = tmp_path / "fast" / "best.pt"
    assert (copy.stat().st_ino == staged.path.stat().st_ino) is linked and leftovers(tmp_path / "fast") == []
    time.sleep(0.02)
    source.write_bytes(b"the next epoch, in place")  # as Ultralytics does: the mirror's copy is not that file
    staged.release()
    assert copy.read_bytes() == original
    with pytest.raises(MirrorError, match="verification failed"):  # bytes that are not the source's never count
        dest.put_staged(copy, "best-epoch002.pt", FileCheck(len(original), "0" * 64))
    assert sorted(p.name for p in (tmp_path / "fast").iterdir()) == ["best.pt"]


class _CountingStore(LocalStore):
    def __init__(self, root):
        super().__init__(root)
        self.written = 0

    def _write_chunks(self, chunks, name):
        def counted():
            for chunk in chunks:
                self.written += len(chunk)
                yield chunk

        super()._write_chunks(counted(), name)


def test_versioned_copy_and_best_pt_are_written_once(tmp_path, source):
    dest = _CountingStore(tmp_path / "once")
    Uploader(dest, keep=3, retries=0, backoff=0, report=lambda r: None, log=lambda *a: None)(
        _upload(tmp_path, source, 1, "best-epoch001.pt")
    )
    size = source.stat().st_size
    versioned, best = tmp_path / "once" / "best-epoch001.pt", tmp_path / "once" / "best.pt"
    assert dest.written < 2 * size  # the checkpoint once, plus the small sidecar
    assert best.read_bytes() == source.read_bytes() and versioned.stat().st_ino == best.stat().st_ino
    assert leftovers(tmp_path / "once") == []


def test_memory_filesystem_second_name_is_a_verified_copy(source):
    dest = FsspecStore("memory://unit-tests/copy")
    check = dest.put_file(source, "best-epoch001.pt")
    assert dest.put_copy("best-epoch001.pt", "best.pt", check)
    assert stored_check(dest, "best.pt") == check


def test_final_replacing_a_waiting_best_keeps_its_versioned_name(tmp_path, source):
    q = SlotQueue()
    staged = StagedFile(source, tmp_path / "staging", refs=2)
    q.put(Job("best", "best", Upload("best", staged, ["best-epoch009.pt", "best.pt"], "best-epoch009.pt", "best.json")))
    final = Upload("final", staged, ["best.pt"], None, "best.json")
    q.put(Job("best", "final", final))
    assert final.targets == ["best-epoch009.pt", "best.pt"] and final.versioned == "best-epoch009.pt"


def test_the_end_of_the_run_cuts_a_backoff_wait_short(tmp_path, source):
    dest = FlakyStore(tmp_path / "full", failures=99, error=OSError(errno.ENOSPC, "No space left on device"))
    results = []
    uploader = Uploader(dest, keep=3, retries=5, backoff=60, report=results.append, log=lambda *a: None)
    threading.Timer(0.3, uploader.abort.set).start()  # what BestMirror's end of run does when its time is up
    start = time.monotonic()
    uploader(_upload(tmp_path, source, 1, "best-epoch001.pt"))
    assert time.monotonic() - start < 5  # a back-off of up to 60 s, then 120 s... was a plain time.sleep
    assert len(results) == 1 and not results[0].ok and "No space left on device" in results[0].error


def test_a_copy_still_uploading_at_the_end_of_the_run_has_one_outcome(tmp_path, source):
    from yolo_hooks.mirror.workers import finish, jobs, make_workers

    results, lines = [], []
    slow = SlowStore(tmp_path / "slow", seconds_per_mib=0.6)  # ~1.4 s for the 2.3 MB file
    workers, stager = make_workers("m", [slow], [[]], on_skip=lambda job: None, keep=1, retries=0, backoff=0,
                                   report=results.append, log=lambda text, level: lines.append(text))
    for worker, job in jobs(workers, stager, "best", "final", source, identity(source), tmp_path, ["best.pt"], None,
                            "best.json", {"epoch": 3, "final": True}):
        worker.submit(job)
    deadline = time.monotonic() + 10
    while not (workers[0].queue.pending() and workers[0].queue._running is not None) and time.monotonic() < deadline:
        time.sleep(0.01)
    finish(workers, stager, tmp_path / ".mirror_staging", 0.3, results.append)  # the end of the run's deadline
    while workers[0].alive and time.monotonic() < deadline:  # the upload in progress goes on, and completes
        time.sleep(0.05)
    assert (tmp_path / "slow" / "best.pt").read_bytes() == source.read_bytes()
    assert [(r.ok, r.kind) for r in results] == [(False, "final")]  # reported missing at the deadline, once
    assert "still not uploaded at the end of the run" in results[0].error
    assert any("after the end of the run had reported it missing" in line for line in lines)
