"""``model.tune(use_ray=True)``: the hooks in every Ray Tune trial, and the tune's story told by the tuning process.

Ultralytics' ``run_ray_tune`` (``ultralytics/utils/tuner.py``) is wrapped (``_yolo_hooks_startup.wrap_ray_tune``,
switched on by ``YOLO_HOOKS`` and by ``import yolo_hooks``). When the search has hooks — ``YOLO_HOOKS`` is set, or
``attach()`` gave the model some — :func:`follow` swaps ``ray.tune.Tuner`` for the length of the search for one
that

- wraps the trainable so that each trial gets the hooks (:mod:`.ray_trial`: its own run folder files, messages
  naming the trial, ``Ray Tune trial 2/10``);
- adds a Ray Tune ``Callback`` (:class:`TrialWatch`) that tells the same story as Ultralytics' own tuner
  (:class:`~yolo_hooks.env.tune.TuneStory`): ``tune_start``, ``tune_new_best`` when a trial ends better than every
  earlier one, one ``crash`` per trial that crashed, and one ``tune_end`` with every trial's fitness,
  hyper-parameters, status (``finished``, ``stopped`` by the scheduler at epoch N, ``crashed``) and the best
  weights, also in ``<tune_dir>/tune_summary.json``.

A trial's fitness is the metric the search optimises (``metrics/mAP50-95(B)`` for detection: the one Ultralytics
reports to Ray and ASHA ranks by), the best it reported; Ultralytics' ``fitness`` is not reported to Ray.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ultralytics.utils import LOGGER

from ..core.attach import attached
from ..core.files import read_json
from .ray_trial import TRIAL_FILE, TrialPlan, pickled_hooks, trial_trainable
from .tune import TuneStory, best_record, told

UNIT = "trial"


def follow(original: Any, model: Any, *args: Any, **kwargs: Any) -> Any:
    """Run Ultralytics' ``run_ray_tune`` (``original``) with the hooks in every trial and the story told here."""
    from .activate import ENV_VAR, read_config

    config_value = os.environ.get(ENV_VAR) or None
    config = read_config() if config_value else None  # a bad config fails here, before any trial starts
    hooks = attached(model)
    if config is None and not hooks:
        return original(model, *args, **kwargs)
    bound = inspect.signature(original).bind(model, *args, **kwargs)
    bound.apply_defaults()
    arguments = bound.arguments
    train_args = dict(arguments.get("train_args") or {})
    plan = TrialPlan(yolo_hooks=config_value, hooks=pickled_hooks(hooks),
                     planned=arguments.get("iterations", arguments.get("max_samples")))  # 8.4 / 8.3.253
    watch = TrialWatch(plan, config, model, train_args)
    with _tuner_following(watch):
        return told(lambda: original(model, *args, **kwargs), watch.end)


@contextlib.contextmanager
def _tuner_following(watch: TrialWatch):
    """``ray.tune.Tuner`` replaced, for the search, by one that wraps the trainable and adds :class:`TrialWatch`."""
    from ray import tune

    base = tune.Tuner

    class Tuner(base):
        def __init__(self, trainable=None, *args, param_space=None, tune_config=None, run_config=None,
                     _tuner_internal=None, **kwargs):
            if _tuner_internal is None:
                watch.plan.planned = trials_planned(param_space, tune_config, watch.plan.planned)
                run_config = watch.joined(run_config)
                trainable = trial_trainable(trainable, watch.plan)
            super().__init__(trainable, *args, param_space=param_space, tune_config=tune_config,
                             run_config=run_config, _tuner_internal=_tuner_internal, **kwargs)

        @classmethod
        def restore(cls, path, trainable, *args, **kwargs):
            watch.plan.tune_dir = str(path)
            tuner = base.restore(path, trial_trainable(trainable, watch.plan), *args, **kwargs)
            watch.restored(tuner)
            return tuner

    tune.Tuner = Tuner
    try:
        yield
    finally:
        tune.Tuner = base


def trials_planned(param_space: Any, tune_config: Any, default: int | None) -> int | None:
    """How many trials a search runs: ``num_samples`` times every grid of the space (as Ray counts them).

    Examples:
        >>> trials_planned({"lr0": {"grid_search": [0.01, 0.001]}, "data": "coco8.yaml"},
        ...                SimpleNamespace(num_samples=3), None)
        6
    """
    samples = getattr(tune_config, "num_samples", None) or default
    if not samples or samples < 0:  # -1: until the search algorithm says stop
        return None
    grids = [v["grid_search"] for v in dict(param_space or {}).values() if isinstance(v, dict) and "grid_search" in v]
    return int(samples) * math.prod(len(g) for g in grids)


def _callback_class():
    from ray.tune import Callback

    class FollowTrials(Callback):
        """Ray Tune's events for :class:`TrialWatch` (on the tuning process' Tune loop: queue, never wait)."""

        def __init__(self, watch: TrialWatch):
            self.watch = watch

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.watch.guarded("result", trial, result)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.watch.guarded("complete", trial)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.watch.guarded("error", trial)

        def __reduce__(self):  # Ray saves its run config (tuner.pkl): a restored search gets a callback of nothing
            return _no_callback, ()

    return FollowTrials


def _no_callback():
    from ray.tune import Callback

    return Callback()


class TrialWatch:
    """The trials of one search, as Ray reports them, told as a :class:`TuneStory`."""

    def __init__(self, plan: TrialPlan, config: dict | None, model: Any, train_args: dict[str, Any]):
        from ultralytics.cfg import TASK2METRIC
        from ultralytics.utils import DEFAULT_CFG_DICT

        self.plan, self.config, self.model_hooks = plan, config, plan.made_hooks()
        self.metric = TASK2METRIC.get(getattr(model, "task", "detect"), "metrics/mAP50-95(B)")
        self.max_t = int(train_args.get("epochs") or DEFAULT_CFG_DICT["epochs"] or 100)  # ASHA's max_t
        self.data = train_args.get("data")
        self.model_name = str(getattr(model, "ckpt_path", None) or getattr(model, "cfg", None) or "")
        self.story: TuneStory | None = None
        self.trials: dict[str, dict[str, Any]] = {}  # trial id -> its record (see env/tune.py: summarize)
        self.order: list[str] = []  # trial ids in the order they ended
        self.crash_sent: set[str] = set()
        self._failed: set[str] = set()

    # --- the search starts -----------------------------------------------------------------------------------------
    def joined(self, run_config: Any) -> Any:
        """A new search: its folder, the story's start, and our callback in its run config."""
        from ray.tune import RunConfig

        run_config = run_config if run_config is not None else RunConfig()
        self.plan.tune_dir = str(Path(run_config.storage_path or ".") / (run_config.name or "tune"))
        run_config.callbacks = [*(run_config.callbacks or []), _callback_class()(self)]
        self.begin()
        return run_config

    def restored(self, tuner: Any) -> None:
        """A resumed search: its callback is ours again where Ray lets us (else the end reads Ray's results)."""
        self.begin()
        run_config = getattr(getattr(tuner, "_local_tuner", None), "_run_config", None)
        if run_config is not None:
            run_config.callbacks = [*(run_config.callbacks or []), _callback_class()(self)]

    def begin(self) -> None:
        from ..core.config import build_hooks

        notifiers = [h for h in [*build_hooks(self.config or {}), *self.model_hooks] if h.config_name == "notify"]
        args = SimpleNamespace(model=self.model_name, data=self.data)
        self.story = TuneStory(self.plan.tune_dir, args, notifiers, unit=UNIT)
        self.story.start(self.plan.planned, [])

    # --- Ray's events (on Tune's loop) -----------------------------------------------------------------------------
    def guarded(self, event: str, *args: Any) -> None:
        """``event`` handled, a failure logged once and never raised into Ray's loop."""
        try:
            getattr(self, event)(*args)
        except Exception as e:
            if event not in self._failed:
                self._failed.add(event)
                LOGGER.warning(f"yolo_hooks: following Ray Tune's {event} events failed, the search goes on: "
                               f"{type(e).__name__}: {e}")

    def record(self, trial: Any) -> dict[str, Any]:
        trial_id = str(trial.trial_id)
        if trial_id not in self.trials:
            suffix = trial_id.rsplit("_", 1)[-1]
            config = {k: v for k, v in dict(trial.config or {}).items() if k != "data"}
            self.trials[trial_id] = {"iteration": int(suffix) + 1 if suffix.isdigit() else len(self.trials) + 1,
                                     "trial_id": trial_id, "fitness": None, "epochs": 0, "hyperparameters": config,
                                     "save_dirs": {}, "status": "running", "path": getattr(trial, "path", None)}
        return self.trials[trial_id]

    def result(self, trial: Any, result: dict[str, Any]) -> None:
        """One epoch of a trial (what ``tune.report`` sent): its best value of the metric so far."""
        record = self.record(trial)
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and (record["fitness"] is None or value > record["fitness"]):
            record["fitness"] = round(float(value), 6)
        if "epoch" in result:
            record["epochs"] = int(result["epoch"])
            record["reports"] = record.get("reports", 0) + 1
        if "fitness" in result:  # Ultralytics' results_dict: the trainable returned, the training ended by itself
            record["returned"] = True
            # ... after validating best.pt, which Ultralytics' callback reported to Ray as one more epoch
            record["epochs"] = max(0, record.get("reports", 1) - 1)

    def complete(self, trial: Any) -> None:
        """A trial ended without an error: finished (all epochs), or stopped early, by Ray's scheduler (ASHA: its
        ``tune.report`` raised ``SystemExit``) or by itself (its early stop: the trainable returned)."""
        record = self.record(trial)
        self.ended(trial, "finished" if record["epochs"] >= self.max_t else "stopped")
        if record["status"] == "stopped":
            record["stopped_by"] = "its early stop" if record.pop("returned", False) else "Ray Tune's scheduler"
            LOGGER.info(f"yolo_hooks: Ray Tune trial {self.label(record)} stopped by {record['stopped_by']} at "
                        f"epoch {record['epochs']}/{self.max_t} ({self.metric} {record['fitness']})")
        record.pop("returned", None)
        self.story.took([record])

    def error(self, trial: Any) -> None:
        """A trial crashed (before its trainer existed too): one ``crash`` message, now."""
        record = self.ended(trial, "crashed")
        record["error"] = trial_error(trial)
        self.send_crash(record)

    def ended(self, trial: Any, status: str) -> dict[str, Any]:
        record = self.record(trial)
        record["status"] = status
        if record["trial_id"] not in self.order:
            self.order.append(record["trial_id"])  # the order trials ended in: the first of equal bests wins
        self.find_run_folder(record)
        return record

    def find_run_folder(self, record: dict[str, Any]) -> None:
        """The trial's Ultralytics run folder, from the record it left in Ray's folder of the trial."""
        facts = read_json(Path(record["path"]) / TRIAL_FILE) if record.get("path") else None
        if isinstance(facts, dict) and facts.get("save_dir"):
            record["save_dirs"] = {Path(str(self.data or "data")).stem: facts["save_dir"]}

    def send_crash(self, record: dict[str, Any]) -> None:
        if record["trial_id"] in self.crash_sent or self.story is None:
            return
        self.crash_sent.add(record["trial_id"])
        LOGGER.warning(f"yolo_hooks: Ray Tune trial {self.label(record)} crashed: {record.get('error')}")
        self.story.send(trial_crash_message(record, self.plan.planned, self.story.run))

    def label(self, record: dict[str, Any]) -> str:
        return f"{record['iteration']}/{self.plan.planned}" if self.plan.planned else str(record["iteration"])

    # --- the search ends -------------------------------------------------------------------------------------------
    def end(self, status: str, results: Any = None) -> dict[str, Any] | None:
        """Ray's results for what the callback did not see (a resumed search), then the story's end."""
        if self.story is None:  # it failed before any search started (a missing search algorithm's package)
            return None
        for result in results or []:
            trial_id = str((getattr(result, "metrics", None) or {}).get("trial_id") or "")
            if not trial_id or trial_id in self.trials:
                continue
            trial = SimpleNamespace(trial_id=trial_id, config=result.config, path=result.path, error_file=None)
            self.record(trial)
            history = getattr(result, "metrics_dataframe", None)
            for row in history.to_dict("records") if history is not None else []:
                self.result(trial, row)
            if result.error is None:
                self.complete(trial)
                continue
            record = self.ended(trial, "crashed")
            record["error"] = short_error(str(result.error))
            self.send_crash(record)
        ended = [self.trials[t] for t in self.order] + [r for t, r in self.trials.items() if t not in self.order]
        for record in ended:
            if not record["save_dirs"]:
                self.find_run_folder(record)  # written by now if its trainer was ever built
        records = [{k: v for k, v in r.items() if k not in ("path", "returned", "reports")} for r in ended]
        return self.story.end(status, records, best_weights(records), fitness_metric=self.metric, ray=True)


def best_weights(records: list[dict[str, Any]]) -> str | None:
    """The best trial's best.pt (in its Ultralytics run folder), when it is there."""
    best = best_record(records)
    for save_dir in (best or {}).get("save_dirs", {}).values():
        for name in ("best.pt", "last.pt"):
            if (Path(save_dir) / "weights" / name).is_file():
                return str(Path(save_dir) / "weights" / name)
    return None


def trial_error(trial: Any) -> str:
    """The last line of the error Ray recorded for ``trial`` (its ``error.txt``)."""
    path = getattr(trial, "error_file", None)
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace") if path else ""
    except OSError:
        text = ""
    return short_error(text or "error")


def short_error(text: str) -> str:
    """The last non-empty line of a traceback, within 300 characters."""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    last = lines[-1] if lines else "error"
    return last if len(last) <= 300 else last[:299] + "…"


def trial_crash_message(record: dict[str, Any], planned: int | None, run: dict[str, str]):
    """``crash`` for one trial of a search, sent by the tuning process (the trial's own destinations are quiet)."""
    from ..notify.message import Message, message_id

    of = f"/{planned}" if planned else ""
    hyp = record.get("hyperparameters", {})
    save_dir = next(iter(record.get("save_dirs", {}).values()), "")
    fields = {"Trial": f"{record['iteration']}{of} ({record['trial_id']})", "Epochs run": str(record.get("epochs")),
              **({"Folder": save_dir} if save_dir else {}), **{k: str(v) for k, v in list(hyp.items())[:8]}}
    return Message(event="crash", severity="critical",
                   title=f"💥 Ray Tune trial {record['iteration']}{of} crashed — {run.get('name', 'tune')}",
                   text=str(record.get("error") or "error"), fields=fields, run=run,
                   data={"trial_id": record["trial_id"], "error": record.get("error"), "hyperparameters": hyp,
                         "save_dir": save_dir, "epochs": record.get("epochs")},
                   id=message_id({"run_id": run.get("save_dir", "")}, "ray_trial_crash", record["trial_id"]))
