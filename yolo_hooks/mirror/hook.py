"""BestMirror: every new best.pt copied, verified, to one or more other places, without slowing training.

On the training thread the hook only records the identity of the checkpoint Ultralytics just wrote (one
``stat``) and queues it, with the trainer's numbers as they are, for its staging thread (started at
``on_train_start``), which names the copies and queues them for one background thread per store (at the
lowest CPU priority on Linux). The staging thread copies that version into ``save_dir/.mirror_staging/`` at
once and checks it did not change meanwhile (Ultralytics rewrites best.pt in place, so a hard
link would not be a staged copy); each uploads it through a temporary name, verifies size and sha256 read back from
the store, renames it into place and writes ``best.json`` beside it. A newer best replaces a best still
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

import dataclasses
import time
from pathlib import Path
from typing import Any, Callable

from ..core import Hook
from ..core.hook import CommandRefused
from ..core.run import read_trainer, to_float
from ..core.run_info import run_info
from ..core.validate import check_number
from . import workers as background
from .base import Store
from .exports import ExportCopies
from .naming import DEFAULT_TEMPLATE, check_template, render
from .options import check_exports, check_stores
from .queue import Job, MirrorWorker
from .resume_set import SetName
from .run_files import capture
from .save_now import SaveRequest, last_saved_epoch
from .staging import STAGING, file_identity
from .upload import Result


class BestMirror(Hook):
    """Mirror best.pt (and optionally last.pt and exported models) to folders or fsspec URLs, verified.

    Args:
        to: one store or a list: a folder (``/mnt/backup/exp1``), an fsspec URL (``s3://bucket/exp1``,
            ``gs://``, ``az://``, ``sftp://``, ``memory://``; needs ``pip install "yolo-hooks[cloud]"``), or
            ``{"url": ..., "storage_options": {...}}`` for fsspec options such as ``endpoint_url``.
        keep: versioned copies (named by ``name_template``) kept per store besides ``best.pt``; 0 writes
            only ``best.pt``; None keeps all. Only copies written by this run (or the run it resumes) are deleted.
        name_template: name of each versioned copy: ``{epoch}``, ``{fitness}`` and metrics such as ``{mAP50_95}``,
            ``{mAP50}``, ``{precision}``, ``{recall}``, ``{val_box_loss}`` (see :mod:`yolo_hooks.mirror.naming`).
        last_every: also mirror ``last.pt`` every N epochs; 0 never. It goes as a resume set (see
            :mod:`yolo_hooks.mirror.resume_set`): with the run's ``args.yaml``, ``results.csv``, fitness files and
            hooks' state files of the same epoch, made visible together by a manifest, so that
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

    renamed_options = {"retry_delay": "`backoff`"}

    _transient = ("_workers", "_stager", "_due", "_requests")

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
        self.stores: list[Store] = check_stores(hook, to)
        self.keep = check_number(hook, "keep", keep, minimum=0, integer=True, allow_none=True)
        self.name_template = check_template(hook, name_template)
        self.last_every = check_number(hook, "last_every", last_every, minimum=0, integer=True)
        self.exports = check_exports(hook, exports)
        self.flush_timeout = float(check_number(hook, "flush_timeout", flush_timeout, minimum=0))
        self.retries = check_number(hook, "retries", retries, minimum=0, maximum=100, integer=True)
        self.backoff = float(check_number(hook, "backoff", backoff, minimum=0))
        self.results: list[Result] = []  # every outcome reported so far, oldest first
        self.save_times: list[float] = []  # seconds the training thread spent in on_model_save
        self._best_info: dict[str, Any] | None = None  # the last best handed to the workers
        self._saved_versions: dict[str, list[str]] = {}  # from load_state_dict, until the uploaders exist
        self._state_saved: dict[str, Any] = {}  # what save_state last wrote (it is written only when it changes)
        self._workers: list[MirrorWorker] | None = None
        self._stager: MirrorWorker | None = None
        self._exports = ExportCopies(self._copy_export, self._release_workers, self._busy, self._finish,
                                     self.flush_timeout)
        self._run: tuple[Any, dict[str, str]] | None = None  # (save_dir, run_info) of the current run
        self._due: background.DueSet | None = None  # a resume set whose run files are not taken yet
        self._requests: list[SaveRequest] | None = []  # `save` commands waiting for their copies

    # --- Ultralytics events -------------------------------------------------------------------------------------
    def on_train_start(self, trainer):
        """Start the background threads now, and read the run's facts, so that ``on_model_save`` pays for
        neither."""
        if self.is_main_process:
            self._run_info(trainer)
            for worker in [*self._ensure_workers(), self._stager]:
                worker.start()

    def on_model_save(self, trainer):
        """Ultralytics just wrote last.pt (and best.pt when this epoch's fitness is the best): record and queue.

        This runs on the training thread: it reads the trainer (attribute reads, no conversion), ``stat`` s the
        checkpoint(s) Ultralytics just wrote and queues one plan for the staging thread, which reads the metrics,
        names the copies and queues them for the stores. No copy, no hashing, no I/O beyond the ``stat``.
        """
        if not self.is_main_process:
            return
        started = time.perf_counter()
        reading = read_trainer(trainer)
        # Ultralytics writes best.pt exactly when `best_fitness == fitness` (also None == None without validation).
        wrote_best = to_float(reading.fitness) == to_float(reading.best_fitness)
        best = file_identity(reading.best_path) if wrote_best else None
        last = file_identity(reading.last_path) if self.last_every and reading.epoch % self.last_every == 0 else None
        if best is not None or last is not None:
            run = self._run_info(trainer)
            files = [("best", reading.best_path)] if best is not None else []
            due = None
            if last is not None:  # its run files are taken once every hook saved its state of this epoch
                files.append(("last", reading.last_path))
                due = self._due = background.DueSet(SetName(reading.epoch), reading.plain["save_dir"],
                                                       reading.last_path)
            self._plan(files, reading.epoch, "_plan_epoch", reading, best, last, run, due)
        self.save_times.append(time.perf_counter() - started)

    def _plan_epoch(self, reading, best, last, run: dict, due) -> None:
        """Staging thread: the jobs of one ``on_model_save`` (``best``/``last``: the identities of the files
        written, None for a file not to copy; ``due``: the resume set last.pt starts)."""
        snap = reading.snapshot()
        jobs = []
        if best is not None:
            versioned = self._versioned_name(snap) if self.keep != 0 else None
            targets = [n for n in (versioned, "best.pt") if n]
            self._best_info = {"epoch": snap.epoch, "fitness": snap.fitness, "metrics": snap.metrics,
                               "source": str(snap.best_path), **run}
            jobs += self._jobs("best", "best", snap.best_path, best, snap.save_dir, targets, versioned, "best.json",
                               self._best_info)
        if last is not None:
            jobs.append(self._stage_set(due, snap, run, last))
        self._submit(jobs)

    def on_train_epoch_start(self, trainer):
        """Every hook has saved its state of the epoch before: the files of that epoch's resume set can be taken."""
        if self.is_main_process:
            self._take_run_files()

    def control(self, trainer, command, report: Callable[[str, bool], None]) -> str | None:
        """``save`` (run control): queue the current last.pt and best.pt for every store now, whatever
        ``last_every`` says (on the staging thread, as every epoch's copies); ``report`` says when each copy is
        verified or failed."""
        if command.name != "save" or not self.is_main_process:
            return None
        reading = read_trainer(trainer)
        best, last = file_identity(reading.best_path), file_identity(reading.last_path)
        files = [(kind, path) for kind, path, ident in (("best", reading.best_path, best),
                                                          ("last", reading.last_path, last)) if ident is not None]
        if not files:
            raise CommandRefused(f"{self.name}: nothing to mirror yet (Ultralytics writes last.pt at the end of "
                                 f"epoch {max(1, int(trainer.epoch))})")
        stores = [store.display for store in self.stores]
        self._requests = [*(self._requests or []), SaveRequest([kind for kind, _ in files], stores, report)]
        epoch = last_saved_epoch(trainer)
        due = None
        if last is not None:  # last.pt goes as the resume set of its epoch, after any set still pending
            self._take_run_files()
            due = self._due = background.DueSet(SetName(epoch), reading.plain["save_dir"], reading.last_path)
        self._plan(files, epoch, "_plan_save", reading, best, last, self._run_info(trainer), epoch, due)
        self._take_run_files()
        return f"{self.name}: copying {' and '.join(p.name for _, p in files)} to {', '.join(stores)}"

    def _plan_save(self, reading, best, last, run: dict, epoch: int, due) -> None:
        """Staging thread: the jobs of a ``save`` (best.pt without a new versioned copy, last.pt as the resume set
        ``due``)."""
        snap = reading.snapshot()
        jobs = []
        if best is not None:
            base = self._best_info or {"epoch": snap.best_epoch, "fitness": snap.best_fitness, "metrics": {}}
            info = {**base, "source": str(snap.best_path), **run}
            jobs += self._jobs("best", "best", snap.best_path, best, snap.save_dir, ["best.pt"], None, "best.json",
                               info)
        if last is not None:
            jobs.append(self._stage_set(due, dataclasses.replace(snap, epoch=epoch), run, last))
        self._submit(jobs)

    def on_fit_epoch_end(self, trainer):
        """Keep the list of versioned copies for ``resume=True`` when it changed."""
        if self.is_main_process and not self.snapshot(trainer).is_final_eval:
            self._save_versions(trainer, self.snapshot(trainer).epoch)

    def on_train_end(self, trainer):
        """Queue the final best.pt (and, with ``last_every``, the final last.pt as the run's final resume set):
        Ultralytics rewrites both after training (optimizer stripped), often before the last epoch's copies could be
        taken. Planned on the staging thread like every epoch's copies, so that it comes after them."""
        if not self.is_main_process:
            return
        self._take_run_files()
        snap = self.snapshot(trainer)
        run = self._run_info(trainer)
        last = file_identity(snap.last_path) if self.last_every else None
        best = file_identity(snap.best_path)
        files = [("last", snap.last_path)] if last is not None else []
        files += [("final", snap.best_path)] if best is not None else []
        due = background.DueSet(SetName(snap.epoch, final=True), snap.save_dir, snap.last_path) if last else None
        self._plan(files, snap.epoch, "_plan_final", snap, run, best, last, due, final=True)
        if due is not None:
            self._due = due
            self._take_run_files()

    def teardown(self, trainer):
        """A run that failed right after Ultralytics saved last.pt: that epoch's set still goes."""
        if self.is_main_process:
            self._take_run_files()

    def _plan_final(self, snap, run: dict, best, last, due) -> None:
        """Staging thread: the jobs of ``on_train_end``."""
        jobs = [self._stage_set(due, snap, run, last, final=True)] if last is not None else []
        if best is None:
            self.log(f"no {snap.best_path.name} to mirror at the end of training", "warning")
        else:
            base = self._best_info or {"epoch": snap.best_epoch, "fitness": snap.best_fitness, "metrics": {}}
            info = {**base, "source": str(snap.best_path), **run, "final": True}
            jobs += self._jobs("best", "final", snap.best_path, best, snap.save_dir, ["best.pt"], None, "best.json",
                               info)
        self._submit(jobs)

    def on_export_start(self, exporter):
        """Remember when the export began, to recognise its output files."""
        self._exports.start(exporter)

    def on_export_end(self, exporter):
        """Mirror the exported file(s) when ``exports`` asks for this format; the copies finish in the background."""
        fmt = str(getattr(exporter.args, "format", "")).lower()
        if not self.exports or not self.is_main_process or (self.exports is not True and fmt not in self.exports):
            return
        if not self._exports.end(exporter, fmt):
            self.log(f"found no {fmt} export of {Path(exporter.file).name} to mirror", "warning")

    def finish(self, trainer, deadline):
        """End of the run (the core calls it after every teardown, also after a crash): wait for the uploads within
        the run's ``deadline`` (and ``flush_timeout``), then say clearly what is missing."""
        if self.is_main_process:
            timeout = deadline.left(self.flush_timeout)
            if self._bus is not None:  # the last resume sets' files are taken there, then their uploads queued
                self._bus.flush_writes(timeout)
            self._finish(Path(trainer.save_dir) / STAGING, deadline.left(self.flush_timeout))
            self._save_versions(trainer, int(trainer.epoch))  # the uploads that finished during the flush
            for request in self._requests or []:
                request.give_up("not verified by the end of the run")
            self._requests = []

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for every queued copy (an export's copies finish in the background);
        True when none is left. For scripts that want the copy before they go on; nothing in the hook waits."""
        end = time.monotonic() + timeout
        # the staging thread first: its plans queue the stores' jobs
        return all(w.flush(max(0.0, end - time.monotonic())) for w in [self._stager, *(self._workers or [])]
                   if w is not None)

    # --- resume -------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The versioned copies kept per store, so ``keep`` goes on counting after ``resume=True``."""
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

    def catch_up(self, trainer, epoch: int, values: dict[str, float | None]) -> bool:
        """Nothing to catch up: the state is the list of copies made, not a per-epoch count (it is saved only
        when it changes, so it is often older than last.pt)."""
        return True

    # --- helpers ------------------------------------------------------------------------------------------------
    def marker_facts(self) -> dict[str, Any]:
        """The run's marker names this mirror: a recovery of a killed run says when its final best.pt was not
        mirrored for want of the hooks config."""
        return {"mirrors": self.name}

    def secrets(self) -> list[str]:
        """Full fsspec URLs and secret storage options: logged only redacted."""
        return [s for d in self.stores for s in d.secrets()]

    def _run_info(self, trainer) -> dict[str, str]:
        """:func:`run_info` of this run, read once per run (it names the run, its model, data, device, host)."""
        if self._run is None or self._run[0] != trainer.save_dir:
            self._run = (trainer.save_dir, run_info(trainer))
        return self._run[1]

    def _key(self, index: int) -> str:
        return f"{index}:{self.stores[index].display}"

    def _ensure_workers(self) -> list[MirrorWorker]:
        if self._workers is None:
            versions = [self._saved_versions.get(self._key(i), []) for i in range(len(self.stores))]
            self._workers, self._stager = background.make_workers(
                self.name, self.stores, versions, self._skip, keep=self.keep, retries=self.retries,
                backoff=self.backoff, report=self._report, log=self.log)
        return self._workers

    def _versioned_name(self, snap) -> str:
        try:
            return render(self.name_template, snap.epoch, snap.fitness, snap.values())
        except (KeyError, ValueError) as e:  # a metric this task does not have (e.g. {mAP50_M} on detect)
            fallback = render(DEFAULT_TEMPLATE, snap.epoch, snap.fitness, {})
            self.log(f"name_template {self.name_template!r} cannot be filled ({e!r}); using {fallback}", "warning")
            return fallback

    def _jobs(self, slot, kind, source: Path, ident, save_dir: Path, targets, versioned, sidecar, info) -> list:
        """The staging job and one upload job per store (see :func:`yolo_hooks.mirror.workers.jobs`)."""
        workers = self._ensure_workers()
        return background.jobs(workers, self._stager, slot, kind, source, ident, save_dir, targets, versioned,
                               sidecar, info)

    def _stage_set(self, due, snap, run: dict, ident, **extra) -> tuple:
        """Staging thread: stage last.pt (``ident``: its identity) for the resume set ``due`` now, before Ultralytics
        rewrites it; its uploads are queued once the bus' writer has taken the run's files (:meth:`_take_run_files`).
        Returns the staging job."""
        workers = self._ensure_workers()
        due.info = {"epoch": snap.epoch, "epochs": snap.epochs, "fitness": snap.fitness, "metrics": snap.metrics,
                    "source": str(snap.last_path), **run, **extra}
        due.staged, job = background.staging_job(workers, self._stager, "last", "last", snap.last_path, ident,
                                                 snap.save_dir)
        return job

    def _take_run_files(self) -> None:
        """Training thread, between epochs: have the bus' writer take the run files of the pending resume set, in
        order after every state write queued so far (each hook's state of the set's epoch), then queue its uploads."""
        due, self._due = self._due, None
        if due is not None:
            self.write_later(lambda: self.call_guarded("_set_files_taken", due))

    def _set_files_taken(self, due) -> None:
        """Bus' writer: read the set's run files now, then queue its uploads on the staging thread (after the plan
        that staged its last.pt)."""
        try:
            due.files = capture(due.save_dir, due.name.epoch)
        finally:  # even when they could not be read: the set's staged copy must be released
            self._plan([("last", due.source)], due.name.epoch, "_plan_set", due)

    def _plan_set(self, due) -> None:
        """Staging thread: one upload of the resume set ``due`` per store."""
        self._submit(background.set_jobs(self._ensure_workers(), due))

    def _plan(self, files: list[tuple[str, Path]], epoch: int | None, method: str, *args: Any,
              final: bool = False) -> None:
        """Queue ``self.<method>(*args)``, which makes and submits the jobs of ``files`` ((kind, local file)), on the
        staging thread: plans run in the order queued, each guarded like a callback (an error is logged, never
        raised); one still waiting at the end of the run is reported as missing."""
        self._ensure_workers()
        plan = background.Plan(lambda: self.call_guarded(method, *args), tuple(files), epoch, final)
        self._stager.submit(Job(None, "plan", plan))

    def _submit(self, jobs: list) -> None:
        """Queue the jobs of :meth:`_jobs` (microseconds; the copy happens on the stores' threads)."""
        # the staging thread (normal priority) starts copying at once: wake it last, when this thread is done
        for worker, job in sorted(jobs, key=lambda wj: wj[0] is self._stager):
            worker.submit(job)

    def _copy_export(self, output: Path, info: dict[str, Any]) -> None:
        """One file ``model.export()`` made, for every store (named as it is, next to best.pt)."""
        self._submit(self._jobs(f"export:{output.name}", "export", output, file_identity(output), output.parent,
                                [output.name], None, None, info))

    def _release_workers(self) -> None:
        """Let every thread end once its queue is done (the next copy starts it again)."""
        for worker in [*(self._workers or []), self._stager]:
            if worker is not None:
                worker.close()

    def _busy(self) -> bool:
        return any(w.pending() for w in self._workers or [])

    def _skip(self, job: Job) -> None:
        """A waiting upload replaced by a newer one (training thread): its staged copy is released off this thread."""
        self._stager.submit(Job(f"release:{id(job)}", "release", job.payload.staged))

    def _report(self, result: Result) -> None:
        """Log and publish one result, on the thread that produced it (the bus is thread-safe)."""
        self.results.append(result)
        for request in list(self._requests or []):
            if request.take(result):
                self._requests = [r for r in self._requests or [] if r is not request]
        report = background.describe(result)
        self.log(report.line, report.level)
        self.publish(report.kind, report.text, report.severity, **report.data)

    def _finish(self, staging: Path, timeout: float) -> None:
        """Wait for every store (one shared deadline), then report whatever is still missing."""
        background.finish(self._workers or [], self._stager, staging, timeout, self._report)
