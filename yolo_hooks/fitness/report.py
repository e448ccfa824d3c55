"""Per-epoch fitness report: one console line, ``fitness.csv`` / ``fitness.jsonl``, and a summary with a plot.

Every epoch, after validation (``on_fit_epoch_end``), the hook prints one compact line (epoch, fitness and its
change, best so far, the task's own validation metrics, losses, learning rate, epoch time, ETA), appends the same
record to ``fitness.csv`` and ``fitness.jsonl`` in the run folder, and at the end of training writes
``fitness_summary.json`` and ``fitness.png`` and publishes ``fitness_summary`` for the other hooks.
It also makes the val / predict / export reports of :mod:`yolo_hooks.fitness.modes`.

Examples:
    >>> from ultralytics import YOLO
    >>> import yolo_hooks
    >>> model = YOLO("yolo11n.yaml")
    >>> report = yolo_hooks.FitnessReport(csv=True, plot=True)
    >>> yolo_hooks.attach(model, report)  # doctest: +SKIP
    >>> model.train(data="coco8.yaml", epochs=3)  # doctest: +SKIP
    >>> report.summary["best_epoch"], report.summary["best_fitness"]  # doctest: +SKIP

Or in hooks.yaml: ``fitness_report: {csv: true, plot: true, predict: false}``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from ..core.colour import colour_enabled
from ..core.files import append_line, atomic_write_json
from ..core.hook import Hook
from ..core.recorded import recorded_epoch_values, recorded_snapshot
from ..core.run import is_main_process, take_outcome, to_float
from ..core.validate import check_bool, check_str
from .files import (
    CSV_NAME,
    JSONL_NAME,
    PLOT_NAME,
    SUMMARY_NAME,
    csv_header,
    csv_line,
    json_line,
    read_csv_header,
    read_csv_records,
    read_epoch_records,
    rewrite_files,
    write_fresh,
)
from .modes import ModeReporter, reports_modes
from .record import build_final_record, build_record, build_summary, format_line, format_summary, keep_for_resume


@reports_modes
class FitnessReport(Hook):
    """Report fitness every epoch, keep the record on disk, summarise the run; plus val/predict/export reports.

    Args:
        csv: write ``fitness.csv`` (one row per training epoch, stable columns, header once).
        jsonl: write ``fitness.jsonl`` (one record per epoch, plus one ``phase: final`` record for the evaluation
            of best.pt that Ultralytics runs after training).
        plot: save ``fitness.png`` at the end of training; default (None): when Ultralytics plots (its ``plots``
            argument, true unless the training says ``plots=False``), so a run that asked for no plots pays no
            matplotlib import.
        summary: write ``fitness_summary.json`` at the end of training (the summary is always logged and published).
        console: print one line per epoch.
        dir: folder for the files; default the run's ``save_dir``; a relative path is taken inside ``save_dir``.
        fsync: ``fsync`` every appended line (survives power loss, costs milliseconds per epoch).
        val, predict, export: make the reports of standalone val / predict / export runs (``reports``, a
            :class:`~yolo_hooks.fitness.modes.ModeReporter`).

    Attributes:
        records: the training epoch records of this run (after a resume, the earlier epochs too).
        final_record: the final evaluation of best.pt, or None.
        summary: the end-of-run summary (None until training ends).
        write_errors: file errors met (the first one is logged; training always continues).

    Resume: the files are the state. On ``resume=True`` the records of the completed epochs (``1..start_epoch``)
    are read back from ``fitness.jsonl`` and both files are rewritten with exactly those, so the resumed epochs
    append with no duplicate and no gap. No extra state file is written per epoch (that would fsync on the
    training thread).
    """


    def __init__(
        self,
        *,
        csv: bool = True,
        jsonl: bool = True,
        plot: bool | None = None,
        summary: bool = True,
        console: bool = True,
        dir: str | None = None,  # noqa: A002 - the hooks.yaml option reads best as `dir`
        fsync: bool = False,
        val: bool = True,
        predict: bool = True,
        export: bool = True,
        strict: bool = False,
        name: str | None = None,
    ):
        super().__init__(strict=strict, name=name)
        hook = self.name
        self.reports = ModeReporter(hook, self.emit_report, is_main_process, val=val, predict=predict, export=export)
        self.csv = check_bool(hook, "csv", csv)
        self.jsonl = check_bool(hook, "jsonl", jsonl)
        self.plot = None if plot is None else check_bool(hook, "plot", plot)
        self.write_summary = check_bool(hook, "summary", summary)
        self.console = check_bool(hook, "console", console)
        self.dir = check_str(hook, "dir", dir, allow_none=True)
        self.fsync = check_bool(hook, "fsync", fsync)
        self._reset()

    def _reset(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.final_record: dict[str, Any] | None = None
        self.summary: dict[str, Any] | None = None
        self.write_errors: list[str] = []
        self._failed: set[str] = set()  # outputs switched off after an OSError
        self._out: Path | None = None
        self._columns: list[str] | None = None
        self._fresh: set[str] = set()  # files that still need their fresh start (truncate + header)
        self._time_offset = 0.0
        self._resumed_from: int | None = None
        self._active = False
        self._summary_done = False

    # --- training events ----------------------------------------------------------------------------------------
    def on_pretrain_routine_start(self, trainer):
        """A new training of this model: forget the previous one."""
        self._reset()

    def on_train_start(self, trainer):
        """Pick the output folder; on resume, keep the completed epochs' records and cut the rest."""
        self._reset()
        self._active = True
        if not self.is_main_process:
            return
        save_dir = Path(trainer.save_dir)
        self._out = save_dir / self.dir if self.dir else save_dir  # an absolute `dir` replaces save_dir
        start_epoch = int(getattr(trainer, "start_epoch", 0) or 0)
        if getattr(trainer.args, "resume", False) and start_epoch > 0:
            self._resume(trainer, start_epoch)
        else:
            self._fresh = {CSV_NAME, JSONL_NAME}

    def _resume(self, trainer, start_epoch: int) -> None:
        """Keep the records of the epochs in last.pt, rebuild those the files lack, rewrite both files once.

        The process may have died after Ultralytics wrote last.pt and before this hook appended the epoch: such
        an epoch is rebuilt from results.csv and last.pt (:func:`recorded_snapshot`) through the same record
        builder as a live one.
        """
        self._resumed_from = start_epoch
        kept = read_epoch_records(self._out / JSONL_NAME) or read_csv_records(self._out / CSV_NAME)
        self.records = keep_for_resume(kept, start_epoch)
        rebuilt = []
        for epoch in range((self.records[-1]["epoch"] if self.records else 0) + 1, start_epoch + 1):
            values = recorded_epoch_values(trainer, epoch)
            if values is None:
                self.log(f"epoch {epoch} is in neither {self._out / JSONL_NAME} nor results.csv: left out", "warning")
                continue
            previous = self.records[-1] if self.records else {}
            snap = recorded_snapshot(trainer, epoch, values, (previous.get("best_fitness"), previous.get("best_epoch")))
            # total_time = the killed process' offset + its elapsed time: the offset of the record before when it
            # is from the same process, else (the epoch was its process' first: epoch_time == elapsed) its total
            total_before, elapsed_before = previous.get("total_time") or 0.0, previous.get("elapsed") or 0.0
            same_process = snap.epoch_time is not None and snap.epoch_time < snap.elapsed
            self._add_record(snap, time_offset=total_before - (elapsed_before if same_process else 0.0))
            rebuilt.append(epoch)
        header = read_csv_header(self._out / CSV_NAME)
        self._columns = header or (list(self.records[0]) if self.records else None)
        if self.records:
            self._time_offset = self.records[-1].get("total_time") or 0.0
        self._guarded_write(
            "resume", lambda: rewrite_files(self._out, self.records, self._columns, self.csv, self.jsonl),
            (CSV_NAME, JSONL_NAME),
        )
        if self._columns is None:
            self._fresh = {CSV_NAME}
        caught_up = f", epoch {', '.join(map(str, rebuilt))} rebuilt from results.csv and last.pt" if rebuilt else ""
        self.log(f"resuming {self._out / CSV_NAME} after epoch {start_epoch} "
                 f"({len(self.records) - len(rebuilt)} epoch records kept{caught_up})")

    def on_fit_epoch_end(self, trainer):
        """Record, print and append this epoch (or the final evaluation of best.pt)."""
        if not self.is_main_process:
            return
        if self._out is None:  # attached after on_train_start: report from here on
            self._active, self._out, self._fresh = True, Path(trainer.save_dir), {CSV_NAME, JSONL_NAME}
        snap = self.snapshot(trainer)
        if snap.is_final_eval:
            metrics = getattr(getattr(trainer, "validator", None), "metrics", None)
            self.final_record = build_final_record(snap, to_float(getattr(metrics, "fitness", None)))
            if self.jsonl:
                final = self.final_record
                self._append(JSONL_NAME, lambda: json_line(final))
            return
        record = self._add_record(snap, self._time_offset)
        if self.csv:
            if self._columns is None:
                self._columns = list(record)  # the metric keys are known from the first epoch on
            columns = self._columns
            self._append(CSV_NAME, lambda: csv_line(columns, record), header=lambda: csv_header(columns))
        if self.jsonl:
            self._append(JSONL_NAME, lambda: json_line(record))

    def _add_record(self, snap, time_offset: float) -> dict[str, Any]:
        """Build, keep and print the record of one training epoch (live, or rebuilt on resume)."""
        previous = self.records[-1] if self.records else None
        times = [r.get("epoch_time") for r in self.records] + [snap.epoch_time]
        record = build_record(snap, previous, times, time_offset)
        self.records.append(record)
        if self.console:
            colour = colour_enabled()
            self.log(format_line(record, colour), colour=colour)
        return record

    def on_train_end(self, trainer):
        """Normal end (rank 0): summarise now, while the trainer is complete."""
        self._finish(trainer, take_outcome(trainer))

    def teardown(self, trainer):
        """Every end, crash and Ctrl-C included; a no-op when ``on_train_end`` already summarised."""
        if self._active:
            self._finish(trainer, self.outcome(trainer))

    # --- standalone val / predict / export: the reporter makes them (see reports_modes) ----------------------------------------------
    def emit_report(self, kind: str, text: str, report: dict[str, Any]) -> None:
        """Log ``text`` and publish ``report`` as ``kind`` (what the reporter is handed)."""
        self.log(text)
        self.publish(kind, text, **report)

    # --- end of run ---------------------------------------------------------------------------------------------
    def _finish(self, trainer, outcome) -> None:
        if self._summary_done or not self.is_main_process or self._out is None:
            return
        self._summary_done = True  # before any write: a failure below must not make teardown try again
        files = {}
        if self.csv and self._columns and CSV_NAME not in self._failed:
            files["csv"] = str(self._out / CSV_NAME)
        if self.jsonl and JSONL_NAME not in self._failed:
            files["jsonl"] = str(self._out / JSONL_NAME)
        if self.write_summary:
            files["summary"] = str(self._out / SUMMARY_NAME)
        if self._plots(trainer) and self.records:
            files["plot"] = str(self._out / PLOT_NAME)
        summary = build_summary(self.records, self.final_record, outcome, save_dir=str(trainer.save_dir),
                                files=files, resumed_from=self._resumed_from)
        if not getattr(outcome, "ok", True):  # crash or interrupt: what went wrong, where the weights are, how to go on
            from ..recovery.forensics import crash_facts

            summary["forensics"] = crash_facts(trainer, self._bus.history if self._bus is not None else ())
        summary_path = self._out / SUMMARY_NAME
        # no fsync on the training thread: like the state files, the summary survives a killed process
        write_json = lambda: atomic_write_json(summary_path, summary, fsync=False)  # noqa: E731
        if self.write_summary and not self._guarded_write(SUMMARY_NAME, write_json):
            files.pop("summary", None)
        if "plot" in files:
            from .plot import plot_fitness

            title = f"{Path(trainer.save_dir).name}: {summary['reason']}"
            if not self._guarded_write(PLOT_NAME, lambda: plot_fitness(self.records, self._out / PLOT_NAME, title)):
                files.pop("plot", None)
        self.summary = summary
        level = "info" if getattr(outcome, "ok", True) else "warning"  # a crash or Ctrl-C summary stands out
        for line in format_summary(summary).splitlines():
            self.log(line, level)
        self.publish("fitness_summary", format_summary(summary).splitlines()[0], **summary)
        self._active = False

    def _plots(self, trainer) -> bool:
        """``plot`` when given, else what Ultralytics does: ``trainer.args.plots`` (true by default)."""
        if self.plot is not None:
            return self.plot
        return bool(getattr(getattr(trainer, "args", None), "plots", True))

    # --- files --------------------------------------------------------------------------------------------------
    def _append(self, name: str, make_line: Callable[[], str], header: Callable[[], str] | None = None) -> None:
        """Append the line ``make_line()`` makes (after ``header()`` on a fresh file) on the bus' writer thread.

        Formatting and writing leave the training thread (and so does the ``fsync`` option); the writer runs in
        order and is flushed before the end-of-run summary. A line a SIGKILL keeps from being written is rebuilt
        from results.csv and last.pt on resume, like an epoch the process died before appending.
        """
        if name in self._failed:
            return  # already reported; do not pay for (or log) the same failure every epoch
        path = os.path.join(self._out, name)  # plain strings: this runs on the training thread every epoch

        def write():
            if name in self._failed:  # an earlier queued write of this file failed
                return
            if name in self._fresh:
                write_fresh(Path(path), (header() + "\n" if header else "") + make_line() + "\n")
                self._fresh.discard(name)
            else:  # the folder exists since the fresh start / resume: no mkdir
                append_line(path, make_line(), fsync=self.fsync, make_dirs=False)

        self.write_later(lambda: self._guarded_write(name, write))

    def _guarded_write(self, what: str, write, outputs: tuple[str, ...] = ()) -> bool:
        """Run ``write``; an ``OSError`` (read-only folder, full disk...) is logged once and training goes on.

        The failed output (``what``, or ``outputs``) is switched off for the rest of the run.
        """
        try:
            write()
            return True
        except OSError as e:
            first = not self.write_errors
            self.write_errors.append(f"{what}: {type(e).__name__}: {e}")
            self._failed.update(outputs or (what,))
            if first:
                self.log(
                    f"cannot write {what} in {self._out} ({type(e).__name__}: {e}); report files that cannot be "
                    f"written are skipped for the rest of this run (see write_errors), the console report and "
                    f"training continue",
                    "error",
                )
            return False
