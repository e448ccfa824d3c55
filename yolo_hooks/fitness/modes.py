"""Reports for ``model.val()``, ``model.predict()`` and ``model.export()``: one dict each, logged once, published.

:class:`ModeReports` is a hook of its own (attach it directly), and :class:`~yolo_hooks.fitness.report.FitnessReport`
inherits it, so ``fitness_report: {val: true, predict: true, export: true}`` in hooks.yaml switches them on.

Every figure is read from the validator / predictor / exporter object of that call:

- **val**: ``validator.metrics.results_dict`` (the same numbers ``model.val()`` returns), its ``fitness``,
  ``validator.seen`` and ``validator.speed``.
- **predict**: per-image latency is the sum of each result's ``speed`` (the predictor's own profilers: the batch's
  preprocess + inference + postprocess time shared by its images, exactly what Ultralytics prints per image);
  throughput is images / wall time between ``on_predict_start`` and ``on_predict_end`` (with ``stream=True`` this
  includes the consumer's time between results). A stream of calls on one predictor (``model(frame)`` in a video
  loop) gets one line at its first call, then one summary line at most every ``summary_every`` seconds, covering
  every call since the previous line (``calls`` counts them) — never a line per frame.
- **export**: format from ``exporter.args.format``; the output is the file or folder next to the source weights
  that the export created or rewrote; size on disk; time between ``on_export_start`` and ``on_export_end``.

Telling ``model.val()`` from the validations a training runs: each epoch's validation has
``validator.training = True``; the final validation of best.pt after training calls the trainer's validator with
``trainer=None`` (so ``training`` is False there) but that validator carries a copy of the *trainer's* args, with
``mode='train'``. ``model.val()`` (and ``yolo val``) always build their validator with ``mode='val'``. So a val
report is made exactly when ``not validator.training and validator.args.mode == 'val'``.

Examples:
    >>> import yolo_hooks
    >>> hook = yolo_hooks.ModeReports(val=True, predict=True, export=False)
    >>> yolo_hooks.attach(model, hook)  # doctest: +SKIP
    >>> model.predict("images/", stream=False)  # doctest: +SKIP
    >>> hook.reports.last_predict_report["throughput_ips"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

from ..core import compat
from ..core.exports import entries, outputs
from ..core.hook import Hook
from ..core.numbers import format_duration
from ..core.run import is_main_process, to_float
from ..core.validate import check_bool, check_number
from .record import short_names

PERCENTILES = (50, 90, 99)


# --- pure report builders -----------------------------------------------------------------------------------------
def is_standalone_val(validator) -> bool:
    """True for ``model.val()`` / ``yolo val``; False for the epoch and final validations inside a training."""
    mode = getattr(getattr(validator, "args", None), "mode", None)
    return not getattr(validator, "training", False) and mode == "val"


def percentiles(values: list[float], qs=PERCENTILES) -> dict[str, float | None]:
    """Linear-interpolated percentiles (numpy's default) as ``{"p50": ..}``, plus mean and max."""
    if not values:
        return {**{f"p{q}": None for q in qs}, "mean": None, "max": None}
    import numpy as np

    arr = np.asarray(values, dtype=float)
    out = {f"p{q}": float(np.percentile(arr, q)) for q in qs}
    out.update(mean=float(arr.mean()), max=float(arr.max()))
    return out


def images_seen(validator) -> int:
    """Images the validator validated: ``validator.seen`` (detect, segment, pose, obb), else the number of labels
    it collected (Ultralytics' ClassificationValidator never sets ``seen``; it keeps one label per image in
    ``targets``)."""
    seen = getattr(validator, "seen", None)
    if seen:
        return int(seen)
    targets = getattr(validator, "targets", None)
    if isinstance(targets, list):
        return sum(len(t) for t in targets)
    return 0


def val_report(validator, seconds: float | None) -> dict[str, Any]:
    """``model.val()`` report from its validator."""
    metrics_obj = getattr(validator, "metrics", None)
    results = dict(getattr(metrics_obj, "results_dict", {}) or {})
    fitness = to_float(results.pop("fitness", getattr(metrics_obj, "fitness", None)))
    args = validator.args
    return {
        "mode": "val",
        "task": str(getattr(args, "task", "")),
        "model": str(getattr(args, "model", "")),
        "data": str(getattr(args, "data", "")),
        "split": str(getattr(args, "split", "val")),
        "images": images_seen(validator),
        "fitness": fitness,
        "metrics": {k: to_float(v) for k, v in results.items()},
        "speed_ms": {k: to_float(v) for k, v in (getattr(validator, "speed", None) or {}).items()},
        "time_s": seconds,
        "save_dir": str(getattr(validator, "save_dir", "")),
    }


def classes_of(result) -> list[str]:
    """Class names found in one Ultralytics ``Results`` (boxes, oriented boxes, or the top-1 class)."""
    names = getattr(result, "names", {}) or {}
    for attr in ("boxes", "obb"):
        found = getattr(result, attr, None)
        if found is not None and getattr(found, "cls", None) is not None:
            return [names.get(int(c), str(int(c))) for c in found.cls.tolist()]
    probs = getattr(result, "probs", None)
    if probs is not None:
        return [names.get(int(probs.top1), str(int(probs.top1)))]
    return []


class PredictTally:
    """Running counts for one predictor run (plain data: picklable)."""

    def __init__(self):
        self.start = time.perf_counter()
        self.calls = 0
        self.images = 0
        self.latencies_ms: list[float] = []
        self.speed_sums_ms: Counter = Counter()  # per speed key, for releases whose predictor keeps no speed
        self.per_class: Counter = Counter()
        self.sources: set[str] = set()

    def add(self, results) -> None:
        for r in results or ():
            self.images += 1
            if len(self.sources) < 2:  # enough to tell one file from a folder
                self.sources.add(str(getattr(r, "path", "")))
            speed = getattr(r, "speed", None) or {}
            if speed:
                self.latencies_ms.append(sum(float(v) for v in speed.values() if v is not None))
                self.speed_sums_ms.update({k: float(v) for k, v in speed.items() if v is not None})
            self.per_class.update(classes_of(r))

    def _source(self, arg) -> str | None:
        """``args.source`` when set; else the one path, or the folder, of the images seen."""
        if arg is not None:
            return str(arg)
        if len(self.sources) == 1:
            return next(iter(self.sources))
        return str(Path(next(iter(self.sources))).parent) if self.sources else None

    def _mean_speed(self) -> dict[str, float]:
        return {k: v / len(self.latencies_ms) for k, v in self.speed_sums_ms.items()} if self.latencies_ms else {}

    def report(self, predictor) -> dict[str, Any]:
        wall = time.perf_counter() - self.start
        args = predictor.args
        return {
            "mode": "predict",
            "task": str(getattr(args, "task", "")),
            "model": str(getattr(args, "model", "")),
            "source": self._source(getattr(args, "source", None)),
            "calls": self.calls,
            "images": self.images,
            "detections": sum(self.per_class.values()),
            "detections_per_class": dict(self.per_class.most_common()),
            "wall_time_s": wall,
            "throughput_ips": self.images / wall if wall > 0 else None,
            "latency_ms": percentiles(self.latencies_ms),
            "speed_ms": compat.predict_speed(predictor, self._mean_speed()),
        }


def size_on_disk(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (formats like OpenVINO export folders)."""
    if path.is_dir():
        return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return path.stat().st_size


# --- log lines ----------------------------------------------------------------------------------------------------
def _ms(v: float | None) -> str:
    return "-" if v is None or not math.isfinite(v) else f"{v:.1f}ms"


def format_val(rep: dict[str, Any]) -> str:
    names = short_names(tuple(rep["metrics"]))  # (B)/(M)/(P) kept when the task reports several
    metrics = " ".join(f"{name} {v:.3f}" for name, v in zip(names, rep["metrics"].values()) if v is not None)
    per_image = sum(v for v in rep["speed_ms"].values() if v is not None)
    fit = "-" if rep["fitness"] is None else f"{rep['fitness']:.4f}"
    return (f"val {Path(rep['model']).name} on {Path(rep['data']).name}:{rep['split']}  {rep['images']} images  "
            f"fitness {fit}  {metrics}  {_ms(per_image)}/image  {_seconds(rep['time_s'])}")


def format_predict(rep: dict[str, Any]) -> str:
    top = ", ".join(f"{k} {v}" for k, v in list(rep["detections_per_class"].items())[:5])
    more = len(rep["detections_per_class"]) - 5
    lat = rep["latency_ms"]
    ips = "-" if rep["throughput_ips"] is None else f"{rep['throughput_ips']:.1f}"
    calls = f" in {rep['calls']} calls" if rep.get("calls", 1) > 1 else ""
    return (f"predict {Path(rep['model']).name}: {rep['images']} images{calls}, {rep['detections']} detections"
            f"{' (' + top + (f', +{more} more' if more > 0 else '') + ')' if top else ''}  {ips} images/s  "
            f"latency p50 {_ms(lat['p50'])} p90 {_ms(lat['p90'])} p99 {_ms(lat['p99'])}")


def _seconds(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}s" if v < 10 else format_duration(v)


def format_export(rep: dict[str, Any]) -> str:
    size = "-" if rep["size_bytes"] is None else f"{rep['size_bytes'] / 1e6:.1f} MB"
    return f"export {rep['format']}: {rep['file']} ({size}) in {_seconds(rep['export_time_s'])}"


# --- the hook -----------------------------------------------------------------------------------------------------
class ModeReporter:
    """The reports of standalone ``model.val()`` / ``predict()`` / ``export()`` runs, handed how to say them.

    A collaborator of the :class:`ModeReports` and :class:`~yolo_hooks.fitness.report.FitnessReport` hooks, whose
    val / predict / export events call the methods of the same names here.

    Args:
        hook: the name errors use.
        emit: ``emit(kind, text, report)`` logs ``text`` and publishes ``report`` as event ``kind``.
        is_main_process: True where reports are made (rank -1/0).
        val, predict, export: which reports to make.
        summary_every: a stream of predict calls gets one line (covering every call) at most this often, seconds.

    Attributes:
        last_val_report, last_predict_report, last_export_report: the last report of each kind, or None.
    """

    def __init__(self, hook: str, emit: Callable[[str, str, dict[str, Any]], None], is_main_process: Callable[[], bool],
                 *, val: bool = True, predict: bool = True, export: bool = True, summary_every: float = 60.0):
        self.emit, self.is_main_process = emit, is_main_process
        self.report_val = check_bool(hook, "val", val)
        self.report_predict = check_bool(hook, "predict", predict)
        self.report_export = check_bool(hook, "export", export)
        self.summary_every = float(check_number(hook, "summary_every", summary_every, minimum=0))
        self.last_val_report: dict | None = None
        self.last_predict_report: dict | None = None
        self.last_export_report: dict | None = None
        self._val_started: dict[int, float] = {}
        self._tallies: dict[int, PredictTally] = {}  # per predictor: the calls since its last line
        self._last_line: dict[int, float] = {}  # per predictor: when its last line was made (perf_counter)
        self._export_started: dict[int, tuple[float, dict]] = {}

    # val
    def on_val_start(self, validator):
        if self.report_val and is_standalone_val(validator):
            self._val_started[id(validator)] = time.perf_counter()

    def on_val_end(self, validator):
        if not (self.report_val and is_standalone_val(validator) and self.is_main_process()):
            return
        start = self._val_started.pop(id(validator), None)
        rep = val_report(validator, None if start is None else time.perf_counter() - start)
        self.last_val_report = rep
        self.emit("val_report", format_val(rep), rep)

    # predict
    def on_predict_start(self, predictor):
        if self.report_predict:
            self._tallies.setdefault(id(predictor), PredictTally()).calls += 1

    def on_predict_batch_end(self, predictor):
        tally = self._tallies.get(id(predictor))
        if tally is not None:
            tally.add(predictor.results)

    def on_predict_end(self, predictor):
        key = id(predictor)
        tally = self._tallies.get(key)
        if tally is None or not self.is_main_process():
            return
        last = self._last_line.get(key)
        if last is not None and time.perf_counter() - last < self.summary_every:
            return  # a stream of calls: this one is counted in the next summary line
        del self._tallies[key]
        self._last_line[key] = time.perf_counter()
        rep = tally.report(predictor)
        self.last_predict_report = rep
        self.emit("predict_report", format_predict(rep), rep)

    # export
    def on_export_start(self, exporter):
        if self.report_export:
            source = Path(exporter.file)
            self._export_started[id(exporter)] = (time.perf_counter(), entries(source.parent, source.stem))

    def on_export_end(self, exporter):
        started = self._export_started.pop(id(exporter), None)
        if started is None or not self.is_main_process():
            return
        seconds = time.perf_counter() - started[0]
        source = Path(exporter.file)
        out = next(iter(outputs(source, started[1])), None)
        rep = {
            "mode": "export",
            "format": str(exporter.args.format),
            "source": str(source),
            "file": None if out is None else str(out),
            "size_bytes": None if out is None else size_on_disk(out),
            "export_time_s": seconds,
            "imgsz": list(getattr(exporter, "imgsz", []) or []),
            "quantize": getattr(exporter.args, "quantize", None),
        }
        self.last_export_report = rep
        self.emit("export_report", format_export(rep), rep)


MODE_EVENTS = ("on_val_start", "on_val_end", "on_predict_start", "on_predict_batch_end", "on_predict_end",
               "on_export_start", "on_export_end")


def reports_modes(cls: type) -> type:
    """Class decorator: the hook's val / predict / export events call the methods of the same names of its
    ``reports`` (a :class:`ModeReporter`). One delegation for the two hooks that make these reports."""
    for event in MODE_EVENTS:
        def handler(self, job, _event=event):
            getattr(self.reports, _event)(job)

        handler.__name__, handler.__qualname__ = event, f"{cls.__qualname__}.{event}"
        handler.__doc__ = f"Hand ``{event}`` to this hook's :class:`ModeReporter`."
        setattr(cls, event, handler)
    return cls


@reports_modes
class ModeReports(Hook):
    """Val / predict / export reports (see the module docstring for where each number comes from).

    Args:
        val: report ``model.val()`` runs (never the validations inside a training).
        predict: report ``model.predict()`` runs (a loop of calls gets a summary line every ``summary_every`` s).
        export: report ``model.export()`` runs.
        summary_every: seconds between two predict lines of one predictor (its first call is reported at once).

    Attributes:
        last_val_report, last_predict_report, last_export_report: the latest report dicts (None before one).
    """

    def __init__(self, *, val: bool = True, predict: bool = True, export: bool = True, summary_every: float = 60.0,
                 strict: bool = False, name: str | None = None):
        super().__init__(strict=strict, name=name)
        self.reports = ModeReporter(self.name, self.emit_report, is_main_process, val=val, predict=predict,
                                    export=export, summary_every=summary_every)

    def default_name(self) -> str:
        """``reports``."""
        return "reports"

    def emit_report(self, kind: str, text: str, report: dict[str, Any]) -> None:
        """Log ``text`` and publish ``report`` as ``kind`` (what the reporter is handed)."""
        self.log(text)
        self.publish(kind, text, **report)
