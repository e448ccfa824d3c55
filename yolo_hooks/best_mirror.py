"""BestMirror: every new best.pt copied, verified, to one or more other places, without slowing training.

On the training thread the hook only records the identity of the checkpoint Ultralytics just wrote (one
``stat``) and queues it for one background thread per destination (started at ``on_train_start``, at the lowest
CPU priority on Linux). The first of them ready for that version copies it into ``save_dir/.mirror_staging/``,
hashing while copying, and checks it did not change meanwhile (Ultralytics rewrites best.pt in place, so a hard
link would not be a snapshot); each uploads it through a temporary name, verifies size and sha256 read back from
the destination, renames it into place and writes ``best.json`` beside it. A newer best replaces a best still
waiting in the queue (latest wins), before it was even copied; the final best.pt (rewritten by Ultralytics after
training, optimizer stripped) is always uploaded, and the end of the run waits for it up to ``flush_timeout``
within the run's one end-of-run deadline (``attach(..., end_timeout=10)``, shared by all hooks). Every result is
published by the worker that produced it, at once (a ``mirror_failed`` does not wait for the next epoch).

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> mirror = yolo_hooks.BestMirror(to=["/mnt/backup/exp1", "s3://my-bucket/exp1"], keep=3)
    >>> yolo_hooks.attach(model, mirror)  # doctest: +SKIP
    >>> model.train(data="coco8.yaml", epochs=10)  # doctest: +SKIP
"""

from __future__ import annotations

import shutil
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from .core import Hook
from .core.deadline import Deadline, at_exit
from .core.errors import ConfigError
from .core.run_info import run_info
from .core.validate import check_bool, check_number, check_str
from .mirror.base import Destination
from .mirror.destinations import make_destination
from .mirror.naming import DEFAULT_TEMPLATE, check_template, render
from .mirror.queue import Job, MirrorWorker
from .mirror.staging import StagedFile, Superseded, file_identity
from .mirror.upload import Result, Upload, Uploader

STAGING = ".mirror_staging"
# Nice value of the background threads on Linux (19: lowest). Copying and hashing 26 MB checkpoints then only
# uses CPU the training leaves idle, instead of stealing a core from torch's intra-op threads.
BACKGROUND_NICE = 19


class BestMirror(Hook):
    """Mirror best.pt (and optionally last.pt and exported models) to folders or fsspec URLs, verified.

    Args:
        to: one destination or a list: a folder (``/mnt/backup/exp1``), an fsspec URL (``s3://bucket/exp1``,
            ``gs://``, ``az://``, ``sftp://``, ``memory://``; needs ``pip install "yolo-hooks[cloud]"``), or
            ``{"url": ..., "storage_options": {...}}`` for fsspec options such as ``endpoint_url``.
        keep: versioned copies (named by ``name_template``) kept per destination besides ``best.pt``; 0 writes
            only ``best.pt``; None keeps all. Only copies written by this run (or the run it resumes) are deleted.
        name_template: name of each versioned copy: ``{epoch}``, ``{fitness}`` and metrics such as ``{mAP50_95}``,
            ``{mAP50}``, ``{precision}``, ``{recall}``, ``{val_box_loss}`` (see :mod:`yolo_hooks.mirror.naming`).
        last_every: also mirror ``last.pt`` (+ ``last.json``) every N epochs; 0 never. The run's ``args.yaml``,
            ``results.csv``, fitness files and hooks' state files go with it (under ``run/``), so that
            ``yolo-hooks resume DEST`` can go on from the mirror on another machine.
        exports: mirror files made by ``model.export()``: False, True (every format) or a list of formats.
        flush_timeout: at most this many seconds of the run's end-of-run deadline are spent waiting for uploads
            before reporting what is missing (an export never waits: its copies finish in the background, and the
            interpreter's exit waits for them within the same kind of deadline).
        retries: extra attempts after a failed upload, with back-off ``backoff * 2**n`` (at most 60 s).
        backoff: first back-off delay in seconds.

    Published events: ``mirror_done`` (info) per verified copy and ``mirror_failed`` (critical) when a copy
    could not be made after all retries or was still missing at the end of the run.
    """

    config_name = "best_mirror"
    _transient = ("_workers", "_snapshotter", "_export_start", "_export_staging")

    def __init__(
        self,
        *,
        to: Any,
        keep: int | None = 3,
        name_template: str = DEFAULT_TEMPLATE,
        last_every: int = 0,
        exports: bool | list[str] = False,
        flush_timeout: float = 300.0,
        retries: int = 3,
        backoff: float = 2.0,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name)
        hook = self.name
        items = to if isinstance(to, (list, tuple)) else [to]
        if not items:
            raise ConfigError.bad_value(hook, "to", to, "a destination or a non-empty list of destinations")
        self.destinations: list[Destination] = [make_destination(hook, item) for item in items]
        shown = [d.display for d in self.destinations]
        if len(set(map(repr, self.destinations))) != len(self.destinations):
            raise ConfigError(f"{hook}: `to` lists the same destination twice: {', '.join(shown)}")
        self.keep = check_number(hook, "keep", keep, minimum=0, integer=True, allow_none=True)
        self.name_template = check_template(hook, name_template)
        self.last_every = check_number(hook, "last_every", last_every, minimum=0, integer=True)
        self.exports = _check_exports(hook, exports)
        self.flush_timeout = float(check_number(hook, "flush_timeout", flush_timeout, minimum=0))
        self.retries = check_number(hook, "retries", retries, minimum=0, maximum=100, integer=True)
        self.backoff = float(check_number(hook, "backoff", backoff, minimum=0))
        self.results: list[Result] = []  # every outcome reported so far, oldest first
        self.save_times: list[float] = []  # seconds the training thread spent in on_model_save
        self._best_info: dict[str, Any] | None = None  # the last best handed to the workers
        self._saved_versions: dict[str, list[str]] = {}  # from load_state_dict, until the uploaders exist
        self._state_saved: dict[str, Any] = {}  # what save_state last wrote (it is written only when it changes)
        self._workers: list[MirrorWorker] | None = None
        self._snapshotter: MirrorWorker | None = None
        self._export_start: float | None = None
        self._export_staging: Path | None = None

    # --- Ultralytics events -------------------------------------------------------------------------------------
    def on_train_start(self, trainer):
        """Start the background threads now, so that ``on_model_save`` never pays for a thread start."""
        if self.is_main_process:
            for worker in [*self._ensure_workers(), self._snapshotter]:
                worker.start()

    def on_model_save(self, trainer):
        """Ultralytics just wrote last.pt (and best.pt when this epoch's fitness is the best): record and queue.

        This runs on the training thread: one ``stat`` per file and a queue entry; no copy, no hashing, no I/O
        beyond that (the jobs are queued at the end, so the woken threads do not compete with this method).
        """
        if not self.is_main_process:
            return
        started = time.perf_counter()
        snap = self.snapshot(trainer)
        # Ultralytics writes best.pt exactly when `best_fitness == fitness` (also None == None without validation).
        wrote_best = snap.is_best or (snap.fitness is None and snap.best_fitness is None)
        info = {"epoch": snap.epoch, "fitness": snap.fitness, "metrics": snap.metrics}
        jobs = []
        if wrote_best and (ident := file_identity(snap.best_path)) is not None:
            versioned = self._versioned_name(snap) if self.keep != 0 else None
            targets = [n for n in (versioned, "best.pt") if n]
            self._best_info = {**info, "source": str(snap.best_path), **run_info(trainer)}
            jobs += self._jobs("best", "best", snap.best_path, ident, snap.save_dir, targets, versioned, "best.json",
                               self._best_info)
        if self.last_every and snap.epoch % self.last_every == 0 and (ident := file_identity(snap.last_path)):
            last_info = {**info, "source": str(snap.last_path), **run_info(trainer)}
            jobs += self._jobs("last", "last", snap.last_path, ident, snap.save_dir, ["last.pt"], None, "last.json",
                               last_info)
        self._submit(jobs)
        self.save_times.append(time.perf_counter() - started)

    def on_fit_epoch_end(self, trainer):
        """Keep the list of versioned copies for ``resume=True`` when it changed."""
        if self.is_main_process and not self.snapshot(trainer).is_final_eval:
            self._save_versions(trainer, self.snapshot(trainer).epoch)

    def on_train_end(self, trainer):
        """Queue the final best.pt (and, with ``last_every``, the final last.pt): Ultralytics rewrites both after
        training (optimizer stripped), often before the last epoch's copies could be taken."""
        if not self.is_main_process:
            return
        snap = self.snapshot(trainer)
        jobs = []
        if self.last_every and (ident := file_identity(snap.last_path)) is not None:
            info = {"epoch": snap.epoch, "fitness": snap.fitness, "metrics": snap.metrics,
                    "source": str(snap.last_path), **run_info(trainer), "final": True}
            jobs += self._jobs("last", "last", snap.last_path, ident, snap.save_dir, ["last.pt"], None, "last.json",
                               info)
        if (ident := file_identity(snap.best_path)) is None:
            self.log(f"no {snap.best_path.name} to mirror at the end of training", "warning")
        else:
            base = self._best_info or {"epoch": snap.best_epoch, "fitness": snap.best_fitness, "metrics": {}}
            info = {**base, "source": str(snap.best_path), **run_info(trainer), "final": True}
            jobs += self._jobs("best", "final", snap.best_path, ident, snap.save_dir, ["best.pt"], None, "best.json",
                               info)
        self._submit(jobs)

    def finish(self, trainer, deadline):
        """End of the run (the core calls it after every teardown, also after a crash): wait for the uploads within
        the run's ``deadline`` (and ``flush_timeout``), then say clearly what is missing."""
        if self.is_main_process:
            self._finish(Path(trainer.save_dir) / STAGING, deadline.left(self.flush_timeout))
            self._save_versions(trainer, int(trainer.epoch))  # the uploads that finished during the flush

    def on_export_start(self, exporter):
        """Remember when the export began, to recognise its output files."""
        self._export_start = time.time()

    def on_export_end(self, exporter):
        """Mirror the exported file(s) when ``exports`` asks for this format, and wait for them."""
        fmt = str(getattr(exporter.args, "format", "")).lower()
        if not self.exports or not self.is_main_process or (self.exports is not True and fmt not in self.exports):
            return
        source = Path(exporter.file)
        outputs = _export_outputs(source, self._export_start or 0.0)
        if not outputs:
            self.log(f"found no {fmt} export of {source.name} to mirror", "warning")
            return
        info = {"format": fmt, "source": str(source), **run_info(exporter)}
        staging = source.parent / STAGING
        for output in outputs:
            self._submit(self._jobs(f"export:{output.name}", "export", output, file_identity(output), staging.parent,
                                    [output.name], None, None, {**info, "source": str(output)}))
        for worker in [*(self._workers or []), self._snapshotter]:
            worker.close()  # no wait on the user's thread: each thread ends once its copies are done
        self._export_staging = staging
        _EXPORTING.add(self)  # the interpreter's exit waits for them (one deadline for all)

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued copy (an export's copies finish in the background);
        True when none is left. For scripts that want the copy before they go on; nothing in the hook waits."""
        end = time.monotonic() + timeout
        return all(w.flush(max(0.0, end - time.monotonic())) for w in [*(self._workers or []), self._snapshotter]
                   if w is not None)

    # --- resume -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The versioned copies kept per destination, so ``keep`` goes on counting after ``resume=True``."""
        if self._workers is None:
            return {"versions": dict(self._saved_versions)} if self._saved_versions else {}
        return {"versions": {self._key(i): w._process.versions_now() for i, w in enumerate(self._workers)}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (unknown keys ignored)."""
        versions = state.get("versions") or {}
        self._saved_versions = {k: list(v) for k, v in versions.items() if isinstance(v, list)}
        for i, worker in enumerate(self._workers or []):
            worker._process.versions = list(self._saved_versions.get(self._key(i), []))

    def _save_versions(self, trainer, epoch: int) -> None:
        state = self.state_dict()
        if state and state != self._state_saved:
            self._state_saved = state
            self.save_state(trainer, epoch)

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> None:
        """Nothing to catch up: the state is the list of copies made, not a per-epoch count (it is saved only
        when it changes, so it is often older than last.pt)."""

    # --- helpers ------------------------------------------------------------------------------------------------
    def secrets(self) -> list[str]:
        """Full fsspec URLs and secret storage options: logged only redacted."""
        return [s for d in self.destinations for s in d.secrets()]

    def _key(self, index: int) -> str:
        return f"{index}:{self.destinations[index].display}"

    def _ensure_workers(self) -> list[MirrorWorker]:
        if self._workers is None:
            self._workers = []
            for i, dest in enumerate(self.destinations):
                uploader = Uploader(dest, keep=self.keep, retries=self.retries, backoff=self.backoff,
                                    report=self._report, log=self.log)
                uploader.versions = list(self._saved_versions.get(self._key(i), []))
                self._workers.append(MirrorWorker(f"{self.name}-{i}", uploader, on_skip=self._skip, nice=BACKGROUND_NICE))
            # Normal priority: the snapshot races with Ultralytics' next rewrite of the file (next epoch, or the
            # optimizer strip); a starved snapshot would be superseded every time.
            self._snapshotter = MirrorWorker(f"{self.name}-snapshot", _stage, on_skip=lambda job: None)
        return self._workers

    def _versioned_name(self, snap) -> str:
        try:
            return render(self.name_template, snap.epoch, snap.fitness, snap.values())
        except (KeyError, ValueError) as e:  # a metric this task does not have (e.g. {mAP50_M} on detect)
            fallback = render(DEFAULT_TEMPLATE, snap.epoch, snap.fitness, {})
            self.log(f"name_template {self.name_template!r} cannot be filled ({e!r}); using {fallback}", "warning")
            return fallback

    def _jobs(self, slot, kind, source: Path, ident, save_dir: Path, targets, versioned, sidecar, info) -> list:
        """The snapshot job and one upload job per destination, all sharing one snapshot of ``source`` (``ident``).

        The snapshot thread copies (and hashes) the file at once, at normal priority, before Ultralytics rewrites
        it; the destination threads, at the lowest priority, upload it whenever the CPU is free. Each destination
        queue is latest-wins; the snapshot is not copied at all when every destination dropped it first.
        """
        workers = self._ensure_workers()
        staged = StagedFile(source, Path(save_dir) / STAGING, refs=len(workers), expected=ident)
        run_dir = Path(save_dir) if kind == "last" else None  # last.pt takes the run's small files with it
        jobs = [(w, Job(slot, kind, Upload(kind, staged, list(targets), versioned, sidecar, info, run_dir)))
                for w in workers]
        return [*jobs, (self._snapshotter, Job(slot, kind, staged))]

    def _submit(self, jobs: list) -> None:
        """Queue the jobs of :meth:`_jobs` (microseconds; the copy happens on the destinations' threads)."""
        # the snapshot thread (normal priority) starts copying at once: wake it last, when this thread is done
        for worker, job in sorted(jobs, key=lambda wj: wj[0] is self._snapshotter):
            worker.submit(job)

    def _skip(self, job: Job) -> None:
        """A waiting upload replaced by a newer one (training thread): its snapshot is released off this thread."""
        self._snapshotter.submit(Job(f"release:{id(job)}", "release", job.payload.staged))

    def _report(self, result: Result) -> None:
        """Log and publish one result, on the thread that produced it (the bus is thread-safe)."""
        self.results.append(result)
        what = f"{result.kind} {result.file}" + (f" (epoch {result.epoch})" if result.epoch is not None else "")
        data = dict(destination=result.destination, file=result.file, epoch=result.epoch, kind=result.kind)
        if result.ok:
            self.log(f"{what} -> {result.destination}: {result.size / 1e6:.1f} MB verified "
                     f"sha256 {result.sha256[:12]}... in {result.seconds:.1f}s")
            data.update(sha256=result.sha256, size=result.size, fitness=result.fitness)
            self.publish("mirror_done", f"{what} mirrored to {result.destination}", "info", **data)
        else:
            self.log(f"could not mirror {what} to {result.destination} after {result.attempts} attempt(s): "
                     f"{result.error}", "error")
            data.update(error=result.error)
            self.publish("mirror_failed", f"could not mirror {what} to {result.destination}: {result.error}",
                         "critical", **data)

    def _finish(self, staging: Path, timeout: float) -> None:
        """Wait for every destination (one shared deadline), then report whatever is still missing."""
        workers = self._workers or []
        deadline = time.monotonic() + timeout
        for worker in workers:
            worker.flush(max(0.0, deadline - time.monotonic()))
        if self._snapshotter is not None:
            self._snapshotter.flush(max(0.0, deadline - time.monotonic()))
            for job in self._snapshotter.queue.drain():
                if job.kind == "release":
                    job.payload.release()
            self._snapshotter.close()
            self._snapshotter.join(max(0.1, deadline - time.monotonic()))  # an idle thread ends at once
        late = f"still not uploaded at the end of the run (after {timeout:.3g}s)"
        for worker in workers:
            worker._process.abort.set()  # a back-off wait ends now; the attempt in progress reports on its own
            for job in worker.queue.pending():
                self._report(_missing(job.payload, worker, late))
            for job in worker.queue.drain():  # never started: nothing will upload them now
                job.payload.staged.release()
            worker.close()  # the thread ends when idle; an export (or the next training) starts a new one
            worker.join(max(0.1, deadline - time.monotonic()))
            worker._process.abort = threading.Event()  # a later export or training retries normally
        if staging.is_dir() and not any(staging.iterdir()):
            shutil.rmtree(staging, ignore_errors=True)


# BestMirror hooks with export copies in flight: the interpreter's exit waits for them within one deadline.
_EXPORTING: weakref.WeakSet[BestMirror] = weakref.WeakSet()


def _finish_exports_at_exit(deadline: Deadline) -> None:
    for hook in list(_EXPORTING):
        if any(w.pending() for w in hook._workers or []):
            hook._finish(hook._export_staging, deadline.left(hook.flush_timeout))


at_exit(_finish_exports_at_exit)


def _missing(item: Upload, worker: MirrorWorker, why: str) -> Result:
    """A failed :class:`Result` for something that will not reach ``worker``'s destination."""
    source = item.staged.source
    return Result(
        ok=False, kind=item.kind, destination=worker._process.destination.display, file=item.targets[-1],
        epoch=item.info.get("epoch"), fitness=item.info.get("fitness"), error=f"{why}; the local file is {source}",
    )


def _stage(job: Job) -> None:
    """Snapshot thread: copy a file now (a failure is kept in the StagedFile and reported by the uploads), or
    release the snapshot of a replaced upload (deleting a just-written 26 MB file takes milliseconds)."""
    if job.kind == "release":
        job.payload.release()
        return
    try:
        job.payload.materialize()
    except (Superseded, OSError):
        pass


def _check_exports(hook: str, exports: Any) -> bool | tuple[str, ...]:
    if isinstance(exports, bool):
        return check_bool(hook, "exports", exports)
    if isinstance(exports, str):
        exports = [exports]
    if not isinstance(exports, (list, tuple)) or not exports:
        raise ConfigError.bad_value(hook, "exports", exports, "true, false, or a list of export formats")
    from ultralytics.engine.exporter import export_formats

    formats = [f for f in export_formats()["Argument"] if f != "-"]
    for fmt in exports:
        check_str(hook, "exports", fmt)
        if fmt.lower() not in formats:
            raise ConfigError.bad_value(hook, "exports", fmt, "export formats among " + ", ".join(formats))
    return tuple(f.lower() for f in exports)


def _export_outputs(source: Path, since: float) -> list[Path]:
    """Files/folders next to ``source`` named after it and written since the export began (its output)."""
    out = []
    for entry in source.parent.iterdir():
        if entry == source or not entry.name.startswith(source.stem) or entry.name.startswith("."):
            continue
        if entry.stat().st_mtime >= since - 1.0:
            out.append(entry)
    return sorted(out)
