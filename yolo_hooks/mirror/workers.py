"""The background side of :class:`~yolo_hooks.mirror.hook.BestMirror`: one staging thread and one upload thread per
store, the jobs they share, and the end of the run (one deadline, then whatever is missing is reported).

The hook decides *what* to copy on the training thread; everything here runs, or is waited for, off that thread
(the ``finish`` wait happens in the core's end-of-run deadline). What a :class:`Result` says in the log and on the
bus is :func:`describe`, a plain function.
"""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

from .base import Store
from .queue import Job, MirrorWorker
from .resume_set import CHECKPOINT, SetName
from .staging import STAGING, StagedFile, Superseded
from .upload import Result, Upload, Uploader

# Nice value of the upload threads on Linux (19: lowest). Copying and hashing 26 MB checkpoints then only uses CPU
# the training leaves idle, instead of stealing a core from torch's intra-op threads.
BACKGROUND_NICE = 19


def make_workers(name: str, stores: list[Store], versions: list[list[str]], on_skip: Callable,
                 **uploader: Any) -> tuple[list[MirrorWorker], MirrorWorker]:
    """One upload worker per store (its ``keep`` list restored from ``versions``) and the staging worker;
    ``uploader`` holds :class:`Uploader`'s keyword arguments (keep, retries, backoff, report, log)."""
    workers = []
    for i, (dest, kept) in enumerate(zip(stores, versions)):
        process = Uploader(dest, **uploader)
        process.versions = list(kept)
        workers.append(MirrorWorker(f"{name}-{i}", process, on_skip=on_skip, nice=BACKGROUND_NICE))
    # Normal priority: the staging copy races with Ultralytics' next rewrite of the file (next epoch, or the optimizer
    # strip); a starved staging copy would be superseded every time.
    return workers, MirrorWorker(f"{name}-staging", stage, on_skip=lambda job: None)


def jobs(workers: list[MirrorWorker], stager: MirrorWorker, slot: str, kind: str, source: Path, ident,
         save_dir: Path, targets: list[str], versioned: str | None, sidecar: str | None, info: dict) -> list:
    """The staging job and one upload job per store, all sharing one staged copy of ``source`` (``ident``).

    The staging thread copies (and hashes) the file at once, at normal priority, before Ultralytics rewrites it;
    the store threads, at the lowest priority, upload it whenever the CPU is free. Each store queue is
    latest-wins; the file is not staged at all when every store dropped it first.
    """
    staged, stage_job = staging_job(workers, stager, slot, kind, source, ident, save_dir)
    uploads = [(w, Job(slot, kind, Upload(kind, staged, list(targets), versioned, sidecar, info))) for w in workers]
    return [*uploads, stage_job]


def staging_job(workers: list[MirrorWorker], stager: MirrorWorker, slot: str, kind: str, source: Path, ident,
                save_dir: Path) -> tuple[StagedFile, tuple[MirrorWorker, Job]]:
    """A staged copy of ``source`` (``ident``) for one upload per store, and the job that makes it now."""
    staged = StagedFile(source, Path(save_dir) / STAGING, refs=len(workers), expected=ident)
    return staged, (stager, Job(slot, kind, staged))


@dataclass
class DueSet:
    """A resume set on its way (see :mod:`.resume_set`): its last.pt is staged as soon as Ultralytics wrote it;
    the run's files are taken by the bus' writer once every hook wrote its state of the epoch; then one upload per
    store is queued (:func:`set_jobs`)."""

    name: SetName
    save_dir: Path
    source: Path
    staged: StagedFile | None = None  # set on the staging thread
    info: dict[str, Any] = field(default_factory=dict)
    files: list[tuple[str, bytes]] | None = None  # set on the bus' writer; None: they could not be taken


def set_jobs(workers: list[MirrorWorker], due: DueSet) -> list:
    """One upload job per store for the resume set ``due`` (its last.pt staged, its files taken); none, and the
    staged copy released, when the files could not be taken (the next set goes instead)."""
    if due.staged is None:
        return []
    if due.files is None:
        for _ in workers:
            due.staged.release()
        return []
    targets = [f"{due.name.folder}/{CHECKPOINT}"]
    return [(w, Job("last", "last", Upload("last", due.staged, targets, info=due.info, resume_set=due.name,
                                           files=due.files))) for w in workers]


class Plan(NamedTuple):
    """A hook's decision of what to copy, turned into jobs on the staging thread by ``make`` (so that naming and
    queueing stay off the training thread); ``files`` (kind, local file) say what it would queue, for the end of
    the run to report if it never ran."""

    make: Callable[[], None]
    files: tuple[tuple[str, Path], ...]
    epoch: int | None
    final: bool = False  # the copies after training (on_train_end)


def stage(job: Job) -> None:
    """Snapshot thread: copy a file now (a failure is kept in the StagedFile and reported by the uploads), release
    the staged copy of a replaced upload (deleting a just-written 26 MB file takes milliseconds), or run a plan (the
    hook's decision of what to copy, which queues the jobs: it runs here, not on the training thread)."""
    if job.kind == "plan":
        job.payload.make()
        return
    if job.kind == "release":
        job.payload.release()
        return
    try:
        job.payload.materialize()
    except (Superseded, OSError):
        pass


def finish(workers: list[MirrorWorker], stager: MirrorWorker | None, staging: Path, timeout: float,
           report: Callable[[Result], None]) -> None:
    """Wait for every store (one shared deadline), then report whatever is still missing."""
    deadline = time.monotonic() + timeout
    late = f"still not uploaded at the end of the run (after {timeout:.3g}s)"
    if stager is not None:  # first: its plans queue the stores' jobs
        stager.flush(max(0.0, deadline - time.monotonic()))
    for worker in workers:
        worker.flush(max(0.0, deadline - time.monotonic()))
    if stager is not None:
        stager.flush(max(0.0, deadline - time.monotonic()))
        for job in stager.queue.drain():
            if job.kind == "release":
                job.payload.release()
            elif job.kind == "plan":  # never made into jobs: every store misses its files
                for worker in workers:
                    for kind, source in job.payload.files:
                        report(missing_file(worker, kind, source, source.name, job.payload.epoch, None, late,
                                            final=job.payload.final))
        stager.close()
        stager.join(max(0.1, deadline - time.monotonic()))  # an idle thread ends at once
    for worker in workers:
        worker._process.abort.set()  # a back-off wait ends now; the attempt in progress reports on its own
        for job in worker.queue.pending():  # the one being uploaded too: its attempt's outcome then goes unreported
            if job.payload.claim():
                report(missing(job.payload, worker, late))
        for job in worker.queue.drain():  # never started: nothing will upload them now
            job.payload.staged.release()
        worker.close()  # the thread ends when idle; an export (or the next training) starts a new one
        worker.join(max(0.1, deadline - time.monotonic()))
        worker._process.abort = threading.Event()  # a later export or training retries normally
    if staging.is_dir() and not any(staging.iterdir()):
        shutil.rmtree(staging, ignore_errors=True)


def missing(item: Upload, worker: MirrorWorker, why: str) -> Result:
    """A failed :class:`Result` for something that will not reach ``worker``'s store."""
    return missing_file(worker, item.kind, item.staged.source, item.targets[-1], item.info.get("epoch"),
                        item.info.get("fitness"), why, final=item.kind == "final" or bool(item.info.get("final")))


def missing_file(worker: MirrorWorker, kind: str, source: Path, name: str, epoch: int | None,
                 fitness: float | None, why: str, final: bool = False) -> Result:
    """A failed :class:`Result`: local file ``source`` will not reach ``worker``'s store as ``name``."""
    return Result(ok=False, kind=kind, store=worker._process.store.display, file=name, epoch=epoch,
                  fitness=fitness, error=f"{why}; the local file is {source}", final=final or kind == "final")


class Report(NamedTuple):
    """What one result says: the log line and its level, and the event published to the other hooks."""

    line: str
    level: str
    kind: str  # mirror_done / mirror_failed
    text: str
    severity: str
    data: dict[str, Any]


def describe(result: Result) -> Report:
    """What ``result`` says (:class:`Report`). Its data names the copy (store, file, epoch, kind, final and, once
    verified, its sha256): the event's id is made of them, so two copies never share one (the last epoch's last.pt
    and the stripped one written after training differ in ``final`` and content)."""
    role = "final last" if result.final and result.kind == "last" else result.kind
    what = f"{role} {result.file}" + (f" (epoch {result.epoch})" if result.epoch is not None else "")
    data = dict(store=result.store, file=result.file, epoch=result.epoch, kind=result.kind)
    if result.final:
        data["final"] = True
    if result.ok:
        line = (f"{what} -> {result.store}: {result.size / 1e6:.1f} MB verified sha256 {result.sha256[:12]}... "
                f"in {result.seconds:.1f}s")
        data.update(sha256=result.sha256, size=result.size, fitness=result.fitness)
        return Report(line, "info", "mirror_done", f"{what} mirrored to {result.store}", "info", data)
    line = f"could not mirror {what} to {result.store} after {result.attempts} attempt(s): {result.error}"
    data.update(error=result.error)
    text = f"could not mirror {what} to {result.store}: {result.error}"
    return Report(line, "error", "mirror_failed", text, "critical", data)

