"""``model.tune()`` with ``YOLO_HOOKS``: hooks in every iteration, and one tune-level summary at the end.

The story a tuning process tells (:class:`TuneStory`) is the same for Ultralytics' own tuner (here) and for Ray Tune
(:mod:`yolo_hooks.env.ray_tune`, which adds a ``trial_id``, a ``status`` and the epochs each trial ran).

Ultralytics trains each tuning iteration in a ``yolo train`` subprocess, which gets the config's hooks through the
inherited ``YOLO_HOOKS`` (its own fitness report, alerts, early stop and mirror in its own run folder). The tuning
process itself tells the story of the whole tune:

- ``tune_start`` when tuning starts, ``tune_new_best`` when an iteration beats every earlier one, ``tune_end`` once at
  the end with the summary (iterations run, each one's fitness and hyper-parameters, the best iteration and where
  its weights are), also written to ``<tune_dir>/tune_summary.json``.
- The tuner fires no callbacks of its own, so its iterations are followed by reading the results file it appends
  to (``tune_results.ndjson``) once a second on a background thread, and once more at the end.
- Iterations know which iteration they are (``YOLO_HOOKS_TUNE``, set while tuning) and say so in every message
  (``— train3 (tune iteration 2/300)``). A destination that did not choose its ``events`` gets only crashes from
  iterations: per-iteration starts, ends and bests of 300 iterations are not news.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

from ..core.files import read_jsonl
from ..core.tune_context import RESULTS_FILE, TUNE_ENV

SUMMARY_FILE = "tune_summary.json"
ITERATION_EVENTS = ("crash", "interrupt")  # what an iteration sends to a destination that did not choose events
POLL_SECONDS = 1.0
WRAPPED_MARK = "__yolo_hooks_tune__"


# --- in an iteration or a trial ------------------------------------------------------------------------------------
TRIAL_REPORTED = ("crash", "interrupt", "killed")  # what the tuning process reports about a Ray trial itself


def quiet_for_tune(hooks: list, context: dict[str, Any]) -> list:
    """The notifiers among ``hooks`` made quiet for one iteration or trial of a tune (``context`` is
    :func:`yolo_hooks.core.tune_context.iteration_context`'s); returns ``hooks``.

    In an iteration of Ultralytics' own tuner, a destination that did not choose its ``events`` gets crashes and
    interrupts only: per-iteration starts, ends and bests of 300 iterations are not news. In a Ray Tune trial it
    gets nothing, and one that chose its events gets no crash or interrupt: the tuning process reports every
    trial that crashed (also one that never built its trainer) once, and a trial stopped by Ray's scheduler is no
    interrupt (its outcome is ``stopped_early``, see :func:`yolo_hooks.core.run.take_outcome`).
    """
    ray = context.get("kind") == "ray"
    for hook in hooks:
        if getattr(hook, "config_name", None) != "notify":
            continue
        if not hook.events_chosen:
            hook.events = () if ray else ITERATION_EVENTS
        elif ray:
            hook.events = tuple(e for e in hook.events if e not in TRIAL_REPORTED)
    return hooks


# --- pure: records -> summary, messages ---------------------------------------------------------------------------
def iteration_failed(record: dict[str, Any]) -> bool:
    """An iteration whose training crashed (the tuner records it with fitness 0 and its failed datasets), or a Ray
    trial that ended in an error."""
    return bool(record.get("failed_datasets")) or record.get("status") == "crashed"


def best_record(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The best iteration, as the tuner picks it: highest fitness among iterations that trained."""
    trained = [r for r in records if not iteration_failed(r)] or records
    return max(trained, key=lambda r: float(r.get("fitness") or 0.0), default=None)


def new_bests(records: list[dict[str, Any]], best: float | None) -> tuple[list[dict[str, Any]], float | None]:
    """Iterations (in order) that beat every earlier one, and the best fitness after them.

    Examples:
        >>> new_bests([{"iteration": 1, "fitness": 0.1}, {"iteration": 2, "fitness": 0.05}], None)
        ([{'iteration': 1, 'fitness': 0.1}], 0.1)
    """
    found = []
    for record in records:
        fitness = float(record.get("fitness") or 0.0)
        if not iteration_failed(record) and (best is None or fitness > best):
            found.append(record)
            best = fitness
    return found, best


TRIAL_KEYS = ("trial_id", "status", "epochs", "stopped_by", "error")  # what a Ray trial's record adds (ray_tune.py)


def summarize(records: list[dict[str, Any]], tune_dir: str, planned: int | None, status: str,
              weights: str | None, elapsed: float | None = None, **extra: Any) -> dict[str, Any]:
    """The tune summary: every iteration's fitness and hyper-parameters, the best one and where its weights are
    (``extra``: what a Ray tune adds, such as the metric its fitness is)."""
    best = best_record(records)
    stopped = sum(r.get("status") == "stopped" for r in records)
    return {
        "tune_dir": str(tune_dir),
        "status": status,
        "iterations_planned": planned,
        "iterations_run": len(records),
        "iterations_failed": sum(iteration_failed(r) for r in records),
        **({"iterations_stopped": stopped} if stopped else {}),
        "elapsed": elapsed,
        **extra,
        "iterations": [{"iteration": r.get("iteration"), "fitness": r.get("fitness"),
                        "hyperparameters": r.get("hyperparameters", {}), "save_dirs": r.get("save_dirs", {}),
                        "failed": iteration_failed(r), **{k: r[k] for k in TRIAL_KEYS if k in r}} for r in records],
        "best": None if best is None else {"iteration": best.get("iteration"), "fitness": best.get("fitness"),
                                           "hyperparameters": best.get("hyperparameters", {}), "weights": weights},
    }


def tune_start_message(planned: int | None, resumed_at: int, run: dict[str, str], unit: str = "iteration"):
    from ..notify.message import Message

    text = f"{planned} {unit}s" if planned else "Tuning"
    text += f", resuming at {unit} {resumed_at + 1}" if resumed_at else ""
    return Message(event="tune_start", severity="info", title=f"🧪 Tuning started — {run.get('name', 'tune')}",
                   text=f"{text} ({run.get('model', 'model')} on {run.get('data', 'data')}).",
                   fields={f"{unit.capitalize()}s": str(planned or ""), "Folder": run.get("save_dir", "")}, run=run,
                   data={"iterations": planned, "start_iteration": resumed_at + 1})


def tune_new_best_message(record: dict[str, Any], previous: float | None, planned: int | None, run: dict[str, str],
                          unit: str = "iteration"):
    from ..notify.message import Message

    iteration, fitness = record.get("iteration"), record.get("fitness")
    of = f"/{planned}" if planned else ""
    hyp = record.get("hyperparameters", {})
    return Message(event="tune_new_best", severity="info",
                   title=f"🏆 Tune {unit} {iteration}{of} is the best so far — {run.get('name', 'tune')}",
                   text=f"Fitness {fitness}" + (f" (up from {previous})" if previous is not None else "") + ".",
                   fields={unit.capitalize(): f"{iteration}{of}", "Fitness": str(fitness),
                           **{k: str(v) for k, v in list(hyp.items())[:8]}},
                   run=run, data={"iteration": iteration, "fitness": fitness, "previous_best": previous,
                                  "hyperparameters": hyp, "save_dirs": record.get("save_dirs", {}),
                                  **{k: record[k] for k in TRIAL_KEYS if k in record}})


def tune_end_message(summary: dict[str, Any], run: dict[str, str], unit: str = "iteration"):
    from ..core.numbers import format_duration
    from ..notify.message import Message

    best, status = summary.get("best"), summary["status"]
    icon = {"finished": "✅", "interrupted": "⏹️"}.get(status, "💥")
    text = f"{status.capitalize()} after {summary['iterations_run']}/{summary['iterations_planned']} {unit}s"
    text += f" in {format_duration(summary['elapsed'])}" if summary.get("elapsed") else ""
    fields = {f"{unit.capitalize()}s": f"{summary['iterations_run']}/{summary['iterations_planned']}",
              "Failed": str(summary["iterations_failed"])}
    if summary.get("iterations_stopped"):
        text += f"; {summary['iterations_stopped']} stopped early"
        fields["Stopped early"] = str(summary["iterations_stopped"])
    if best:
        text += f"; best {unit} {best['iteration']} with fitness {best['fitness']}"
        fields.update({f"Best {unit}": str(best["iteration"]), "Best fitness": str(best["fitness"]),
                       "Weights": str(best.get("weights") or "")})
    return Message(event="tune_end", severity="info" if status == "finished" else "critical",
                   title=f"{icon} Tuning {status} — {run.get('name', 'tune')}", text=text + ".",
                   fields={k: v for k, v in fields.items() if v}, run=run, data={"summary": summary})


# --- in the tuning process: the story, whichever tuner ----------------------------------------------------------
class TuneStory:
    """What a tuning process tells, for Ultralytics' tuner and Ray Tune alike: ``tune_start``, ``tune_new_best`` for
    each iteration (trial) that beats every earlier one, one ``tune_end`` with the summary, which is also written to
    ``<tune_dir>/tune_summary.json`` and published on the story's bus."""

    def __init__(self, tune_dir: str | Path, args: Any, notifiers: list, unit: str = "iteration"):
        from ..core.bus import Bus
        from ..core.run_info import run_info

        self.tune_dir, self.notifiers, self.unit = Path(tune_dir), notifiers, unit
        self.bus = Bus()
        job = SimpleNamespace(save_dir=self.tune_dir, args=args)
        for notifier in notifiers:
            notifier.bind(self.bus)
            notifier.set_run(job)  # run name, model, data, and the outbox in the tune folder
        self.run = run_info(job)
        self.planned: int | None = None
        self.best: float | None = None
        self.started = time.time()
        self._lock = threading.Lock()

    def start(self, planned: int | None, done: list[dict[str, Any]]) -> None:
        """Tuning starts (``done``: what a resumed tune already has: not news again)."""
        self.planned, self.started = planned, time.time()
        self.best = new_bests(done, None)[1]
        self.send(tune_start_message(planned, len(done), self.run, self.unit))

    def took(self, records: list[dict[str, Any]]) -> None:
        """``records`` (in order) just ended: a ``tune_new_best`` for each that beats every earlier one."""
        with self._lock:
            previous = self.best
            found, self.best = new_bests(records, self.best)
            for record in found:
                self.send(tune_new_best_message(record, previous, self.planned, self.run, self.unit))
                previous = float(record.get("fitness") or 0.0)

    def end(self, status: str, records: list[dict[str, Any]], weights: str | None, **extra: Any) -> dict[str, Any]:
        """Write and publish the summary, send ``tune_end``, flush (bounded by each destination's flush_timeout)."""
        from ..core.bus import Published
        from ..core.files import atomic_write_json

        summary = summarize(records, str(self.tune_dir), self.planned, status, weights, time.time() - self.started,
                            **extra)
        atomic_write_json(self.tune_dir / SUMMARY_FILE, summary)
        message = tune_end_message(summary, self.run, self.unit)
        self.bus.publish(Published(kind="tune_summary", source="tune_summary", severity=message.severity,
                                   message=message.text, data=summary))
        self.send(message)
        for notifier in self.notifiers:
            notifier.flush()
        return summary

    def send(self, message) -> None:
        for notifier in self.notifiers:
            notifier.send(message)


def told(search: Callable[[], Any], end: Callable[[str, Any], Any]) -> Any:
    """``search()``, then ``end(status, result)`` once: ``finished``, ``interrupted`` (Ctrl-C) or ``crashed`` (the
    exception goes on)."""
    try:
        result = search()
    except KeyboardInterrupt:
        end("interrupted", None)
        raise
    except BaseException:
        end("crashed", None)
        raise
    end("finished", result)
    return result


# --- Ultralytics' own tuner: iterations in subprocesses ------------------------------------------------------------
def follow_tuner(tuner: Any, config: dict[str, Any]) -> None:
    """Called when a Tuner is built under ``YOLO_HOOKS``: its ``__call__`` (the tuning loop) will be followed."""
    from ..core.config import build_hooks

    notifiers = [h for h in build_hooks(config) if h.config_name == "notify"]
    _wrap_tuning_loop(type(tuner))
    tuner._yolo_hooks_tune = TuneWatch(tuner, notifiers)


def _wrap_tuning_loop(cls: type) -> None:
    original = cls.__call__
    if getattr(original, WRAPPED_MARK, False):
        return
    signature = inspect.signature(original)

    @functools.wraps(original)
    def __call__(self, *args, **kwargs):
        watch = getattr(self, "_yolo_hooks_tune", None)
        if watch is None:
            return original(self, *args, **kwargs)
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        watch.start(bound.arguments.get("iterations"))
        return told(lambda: original(self, *args, **kwargs), lambda status, _: watch.finish(status))

    setattr(__call__, WRAPPED_MARK, True)
    cls.__call__ = __call__


class TuneWatch:
    """Follows one tuning loop of Ultralytics' tuner: tells its iterations who they are (``YOLO_HOOKS_TUNE``), reads
    the results file the tuner appends to once a second, and tells the :class:`TuneStory`."""

    def __init__(self, tuner: Any, notifiers: list):
        self.story = TuneStory(tuner.tune_dir, getattr(tuner, "args", None), notifiers)
        self.tune_dir = self.story.tune_dir
        self.results = Path(getattr(tuner, "tune_file", self.tune_dir / RESULTS_FILE))
        self.seen = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_env: str | None = None
        self._lock = threading.Lock()

    @property
    def notifiers(self) -> list:
        return self.story.notifiers

    def start(self, planned: int | None) -> None:
        records = read_jsonl(self.results)  # a resumed tune: earlier iterations are not news again
        self.seen = len(records)
        self._previous_env = os.environ.get(TUNE_ENV)
        os.environ[TUNE_ENV] = json.dumps({"dir": str(self.tune_dir), "results": str(self.results),
                                           "iterations": planned})
        self.story.start(planned, records)
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="yolo_hooks-tune", daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.poll()

    def poll(self) -> None:
        """Send ``tune_new_best`` for every iteration recorded since the last look."""
        with self._lock:
            records = read_jsonl(self.results)
            fresh, self.seen = records[self.seen:], max(self.seen, len(records))
            self.story.took(fresh)

    def finish(self, status: str) -> dict[str, Any]:
        """Stop following, look once more, then the story's end (summary, ``tune_end``, flush)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._previous_env is None:
            os.environ.pop(TUNE_ENV, None)
        else:
            os.environ[TUNE_ENV] = self._previous_env
        self.poll()
        records = read_jsonl(self.results)
        return self.story.end(status, records, self._best_weights(records))

    def _best_weights(self, records: list[dict[str, Any]]) -> str | None:
        """Where the tuner keeps the best iteration's weights (``<tune_dir>/weights``), else its own run folder."""
        for name in ("best.pt", "last.pt"):
            if (self.tune_dir / "weights" / name).is_file():
                return str(self.tune_dir / "weights" / name)
        best = best_record(records)
        for save_dir in (best or {}).get("save_dirs", {}).values():
            return str(Path(save_dir) / "weights" / "best.pt")
        return None
