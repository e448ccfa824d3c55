"""What the hooks cost in CPU seconds, as a share of the whole training's CPU seconds, per hook, in one run.

Wall-clock epoch-time ratios on a shared 2-core machine cannot resolve a 1-2 % cost (single pairs spread 0.89-1.19).
CPU time can: it is what our code consumed, whatever else the machine was doing. Two parts are counted:

* on the training thread: the thread CPU time (``time.thread_time``) spent inside each yolo_hooks callback;
* on every yolo_hooks background thread (named ``yolo_hooks-*``): its own CPU clock
  (``time.pthread_getcpuclockid``), sampled every 5 ms while it lives and once more at the end, so a thread that
  exits between two samples loses at most its last 5 ms (a lower bound, stated in RESULTS.md).

Both are divided by the process's CPU seconds (``getrusage``: user + system, every thread) over ``model.train()``.
The same wrapper records the wall time of every callback call on the calling thread (p50/p99 per hook and event).

    python benchmarks/cpu_share.py          # one run with every hook, one without the mirror; prints the shares
    python benchmarks/cpu_share.py --hooks nomirror --profile 25   # + what each millisecond is (cProfile)
    python benchmarks/cpu_share.py --hooks nomirror --trackers      # + the trackers hook, W&B on (offline)
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

from common import COCO8, TRAIN_ARGS, percentile

# background thread name (after "yolo_hooks-") -> the hook it works for
THREAD_OWNERS = (("notify", "notify"), ("mirror", "best_mirror"), ("images", "detection_alert"),
                 ("watchdog", "watchdog"), ("state", "writer (state files, records, messages)"))


def owner_of_thread(name: str) -> str | None:
    """The hook a ``yolo_hooks-*`` thread works for; None for threads that are not ours (the test receiver)."""
    if not name.startswith("yolo_hooks-") or name == "yolo_hooks-receiver":
        return None
    rest = name[len("yolo_hooks-"):]
    for prefix, owner in THREAD_OWNERS:
        if rest.startswith(prefix):
            return owner
    return rest


class ThreadCpuSampler:
    """Samples the CPU clock of every live ``yolo_hooks-*`` thread; keeps the last value seen per thread."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.seen: dict[int, tuple[str, float]] = {}  # ident -> (owner, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-sampler", daemon=True)

    def __enter__(self) -> ThreadCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        for thread in threading.enumerate():
            owner = owner_of_thread(thread.name)
            if owner is None or thread.ident is None:
                continue
            try:
                cpu = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
            except (OSError, ProcessLookupError):  # the thread ended between enumerate() and the read
                continue
            key = (thread.ident, thread.name)
            self.seen[key] = (owner, max(cpu, self.seen.get(key, (owner, 0.0))[1]))

    def per_owner(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for owner, cpu in self.seen.values():
            out[owner] += cpu
        return dict(out)


class CallbackMeter:
    """Wraps every yolo_hooks callback registered on a model: thread CPU and wall time per call."""

    def __init__(self):
        self.cpu: dict[str, float] = defaultdict(float)  # hook -> CPU seconds on the calling thread
        self.wall: dict[str, list[float]] = defaultdict(list)  # "hook.event" -> wall seconds per call
        self.cpu_calls: dict[str, list[float]] = defaultdict(list)  # "hook.event" -> thread CPU seconds per call

    def wrap(self, model) -> None:
        from yolo_hooks.core.hook import GuardedCallback

        for event, callbacks in model.callbacks.items():
            model.callbacks[event] = [self._timed(cb) if isinstance(cb, GuardedCallback) or hasattr(cb, "hook") else cb
                                      for cb in callbacks]

    def _timed(self, callback: Callable) -> Callable:
        hook = getattr(callback.hook, "name", type(callback.hook).__name__)
        key = f"{hook}.{callback.event}"
        cpu, wall, cpu_calls = self.cpu, self.wall, self.cpu_calls

        def timed(obj: Any) -> Any:
            w0, c0 = time.perf_counter(), time.thread_time()  # the wall clock encloses the CPU clock's reads
            try:
                return callback(obj)
            finally:
                spent = time.thread_time() - c0
                wall[key].append(time.perf_counter() - w0)
                cpu_calls[key].append(spent)
                cpu[hook] += spent

        return timed


def _process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def longer_epochs(folder: Path, copies: int) -> Path:
    """A dataset yaml whose train split is coco8's 4 train images ``copies`` times over (same val split): the
    same training with an epoch ``copies`` times as long, to see the shares where a real epoch's length is."""
    coco8 = COCO8.parent / "coco8"
    for split in ("images", "labels"):
        (folder / split / "train").mkdir(parents=True, exist_ok=True)
    for source in sorted((coco8 / "images" / "train").iterdir()):
        label = coco8 / "labels" / "train" / f"{source.stem}.txt"
        for i in range(copies):
            (folder / "images" / "train" / f"{source.stem}_{i}{source.suffix}").symlink_to(source)
            (folder / "labels" / "train" / f"{source.stem}_{i}.txt").symlink_to(label)
    names = COCO8.read_text().split("names:", 1)[1]
    yaml = folder / "data.yaml"
    yaml.write_text(f"train: {folder / 'images' / 'train'}\nval: {coco8 / 'images' / 'val'}\nnames:{names}")
    return yaml


def cold_start(project: Path, epochs: int, imgsz: int) -> dict[str, list[float]]:
    """A training with no hook but a probe: at each ``on_fit_epoch_end`` it runs one of our pure functions (the
    fitness line of a fixed 20-number record) three times in a row and keeps the thread CPU of each call. The first
    call is code that runs right after the epoch's training and validation (every hook's situation); the next two
    run it again at once."""
    from ultralytics import YOLO

    from yolo_hooks.fitness.record import format_line

    record = {"epoch": 3, "epochs": 8, "fitness": 0.1, "best_fitness": 0.2, "best_epoch": 2, "is_best": False,
              "improved": False, "delta_prev": 0.01, "delta_best": -0.1, "epochs_since_best": 1,
              **{f"metrics/{m}(B)": 0.1 for m in ("precision", "recall", "mAP50", "mAP50-95")},
              "lr/pg0": 0.01, "lr/pg1": 0.01, "lr/pg2": 0.01, "train/loss": 3.0, "val/loss": 4.0,
              "epoch_time": 1.0, "eta": 5.0}
    calls: dict[str, list[float]] = {"first": [], "again": []}

    def probe(trainer) -> None:
        for i in range(3):
            c0 = time.thread_time()
            format_line(record, False)
            calls["first" if i == 0 else "again"].append(time.thread_time() - c0)

    model = YOLO("yolo11n.yaml")
    model.add_callback("on_fit_epoch_end", probe)
    model.train(data=str(COCO8), epochs=epochs, project=str(project), name="cold-start", **{**TRAIN_ARGS, "imgsz": imgsz})
    return calls


def measure(project: Path, name: str, epochs: int, hooks: dict | None, imgsz: int,
            profiler: CallbackProfiler | None = None, data: Path = COCO8) -> dict[str, Any]:
    """One training with ``hooks``: per-hook CPU shares, per-event wall times, the run's CPU seconds."""
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO("yolo11n.yaml")
    if hooks:
        yolo_hooks.attach(model, hooks)
    if profiler is not None:
        profiler.wrap(model)
    meter = CallbackMeter()
    meter.wrap(model)
    # the largest best.pt written (with its optimizer state: what is mirrored), and the epochs that wrote one
    best_bytes, bests = [0], []
    model.add_callback("on_model_save", lambda t: best_bytes.__setitem__(
        0, max(best_bytes[0], t.best.stat().st_size if t.best.exists() else 0)))
    model.add_callback("on_model_save", lambda t: bests.append(t.epoch) if t.best_fitness == t.fitness else None)
    os.sync()  # what earlier runs left to write back (checkpoints, copies) is on disk before this one is measured
    cpu0, wall0 = _process_cpu(), time.perf_counter()
    with ThreadCpuSampler() as sampler, profiler or contextlib.nullcontext():
        model.train(data=str(data), epochs=epochs, project=str(project), name=name, **{**TRAIN_ARGS, "imgsz": imgsz})
    total_cpu, wall = _process_cpu() - cpu0, time.perf_counter() - wall0
    from bench_mirror_copy import sha256_floor  # after the training: its CPU is not in total_cpu

    floor = sha256_floor(best_bytes[0]) if best_bytes[0] else 0.0
    background = sampler.per_owner()
    hooks_cpu: dict[str, dict[str, float]] = {}
    for hook, seconds in meter.cpu.items():
        hooks_cpu.setdefault(_family(hook), {"thread": 0.0, "background": 0.0})["thread"] += seconds
    for owner, seconds in background.items():
        hooks_cpu.setdefault(_family(owner), {"thread": 0.0, "background": 0.0})["background"] += seconds
    ours = sum(v["thread"] + v["background"] for v in hooks_cpu.values())
    return {
        "total_cpu": total_cpu,
        "wall": wall,
        "hooks": hooks_cpu,
        "share": ours / total_cpu,
        "best_bytes": best_bytes[0],
        "sha256_floor": floor,  # CPU seconds of two sha256 passes over that many bytes, measured in this run
        "new_bests": len(bests),
        "epochs": epochs,
        "events": {k: {"calls": len(v), "p50": percentile(v, 50), "p99": percentile(v, 99), "max": max(v)}
                   for k, v in meter.wall.items()},
        "wall_calls": dict(meter.wall),
        "cpu_calls": dict(meter.cpu_calls),
    }


def _family(name: str) -> str:
    """``notify_json`` -> ``notify``; hook names carry a suffix per destination or instance."""
    for family in ("notify", "best_mirror", "detection_alert", "watchdog"):
        if name.startswith(family):
            return family
    return name


def report(result: dict[str, Any]) -> str:
    lines = [f"process CPU {result['total_cpu']:.1f} s ({result['total_cpu'] / result['epochs']:.1f} s per epoch, "
             f"{result['new_bests']} new best.pt), yolo_hooks share {100 * result['share']:.3f} %"]
    mirror = result["hooks"].get("best_mirror", {}).get("background", 0.0) / max(1, result["new_bests"])
    if mirror and result.get("sha256_floor"):
        floor = result["sha256_floor"]
        lines.append(f"  best_mirror background per new best.pt {mirror * 1e3:.1f} ms CPU, two-pass sha256 floor of "
                     f"its {result['best_bytes'] / 1e6:.1f} MB {floor * 1e3:.1f} ms: {mirror / floor:.2f}x (goal <= 1.5x)")
    for hook, parts in sorted(result["hooks"].items()):
        share = 100 * (parts["thread"] + parts["background"]) / result["total_cpu"]
        lines.append(f"  {hook:<22} thread {parts['thread'] * 1e3:8.1f} ms  background {parts['background'] * 1e3:8.1f} ms"
                     f"  share {share:.3f} %")
    cpu_p99 = {k: percentile(v, 99) for k, v in result["cpu_calls"].items()}
    worst = sorted(result["events"].items(), key=lambda kv: -cpu_p99[kv[0]])[:12]
    lines += [f"  {k:<45} wall p50 {v['p50'] * 1e3:7.3f} p99 {v['p99'] * 1e3:7.3f} ms  CPU p99 "
              f"{cpu_p99[k] * 1e3:7.3f} ms  ({v['calls']} calls)" for k, v in worst]
    return "\n".join(lines)


class CallbackProfiler:
    """cProfile (by thread CPU time) of our code only: inside every callback and every ``yolo_hooks-*`` thread.

    One profile per hook family for callbacks, one per thread owner for background threads; ``report`` prints the
    functions that spent the most CPU in each, to find out what each millisecond is.
    """

    def __init__(self):
        import cProfile

        self._new = lambda: cProfile.Profile(timer=time.thread_time)
        self.profiles: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._run = None

    def _profile(self, key: str):
        with self._lock:
            if key not in self.profiles:
                self.profiles[key] = self._new()
            return self.profiles[key]

    def wrap(self, model) -> None:
        from yolo_hooks.core.hook import GuardedCallback

        for event, callbacks in model.callbacks.items():
            model.callbacks[event] = [self._profiled(cb) if isinstance(cb, GuardedCallback) else cb for cb in callbacks]

    def _profiled(self, callback: Callable) -> Callable:
        profile = self._profile(f"thread: {getattr(callback.hook, 'name', '?')}.{callback.event}")

        def profiled(obj: Any) -> Any:
            return profile.runcall(callback, obj)

        profiled.hook, profiled.event = callback.hook, callback.event  # CallbackMeter wraps this in turn
        return profiled

    def __enter__(self) -> CallbackProfiler:
        profiler, run = self, threading.Thread.run
        self._run = run

        def run_profiled(thread: threading.Thread) -> None:
            owner = owner_of_thread(thread.name)
            if owner is None:
                return run(thread)
            profile = profiler._new()  # one per thread (a Profile is not thread-safe); merged in report()
            try:
                return profile.runcall(run, thread)
            finally:
                with profiler._lock:
                    profiler.profiles[f"background: {owner} #{len(profiler.profiles)}"] = profile

        threading.Thread.run = run_profiled
        return self

    def __exit__(self, *exc) -> None:
        threading.Thread.run = self._run

    def report(self, top: int) -> str:
        import io
        import pstats

        groups: dict[str, list] = defaultdict(list)
        for key, profile in self.profiles.items():
            groups[key.split(" #")[0]].append(profile)
        out = io.StringIO()
        for key, profiles in sorted(groups.items()):
            stats = None
            for profile in profiles:
                profile.create_stats()
                if not profile.stats:  # a callback that was never called
                    continue
                stats = pstats.Stats(profile, stream=out) if stats is None else stats.add(profile)
            if stats is None:
                continue
            out.write(f"\n===== {key}: {stats.total_tt * 1e3:.1f} ms CPU =====\n")
            stats.sort_stats("cumulative").print_stats(top)
        return out.getvalue()


def compile_package() -> None:
    """Write yolo_hooks' bytecode first, as ``pip install`` does: with ``PYTHONDONTWRITEBYTECODE`` set (as in CI
    images), every lazily imported module would otherwise be compiled inside the callback that first imports it."""
    import compileall
    import sys

    sys.dont_write_bytecode = False
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "yolo_hooks"), quiet=1)


def main() -> None:
    import argparse
    import tempfile

    from run import all_hooks

    from yolo_hooks.notify.receiver import WebhookReceiver

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hooks", choices=("all", "nomirror", "both"), default="both",
                        help="every hook, every hook but best_mirror, or one run of each (default)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--copies", type=int, default=1,
                        help="train on coco8's train images this many times over (an epoch this many times longer)")
    parser.add_argument("--trackers", action="store_true",
                        help="switch on Ultralytics' W&B integration (offline) and add the trackers hook, which "
                             "sends our events to that run")
    parser.add_argument("--profile", type=int, metavar="N", default=0,
                        help="also cProfile our code (by thread CPU) and print the top N functions per hook; "
                             "profiling inflates the shares, so read the shares of a run without it")
    args = parser.parse_args()
    compile_package()
    if args.trackers:  # W&B's own logging is not ours: only the trackers hook's share counts for us
        from ultralytics import settings

        os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
        settings.update({"wandb": True})  # in the benchmarks' own settings folder (common.py)
    runs = {"all": ["every hook"], "nomirror": ["without best_mirror"]}.get(args.hooks,
                                                                            ["every hook", "without best_mirror"])
    with tempfile.TemporaryDirectory(prefix="yolo_hooks_cpu_") as tmp, WebhookReceiver() as receiver:
        tmp = Path(tmp)
        data = COCO8 if args.copies == 1 else longer_epochs(tmp / "data", args.copies)
        for label in runs:
            config = all_hooks(receiver.url, tmp / "mirror")
            if label == "without best_mirror":
                config.pop("best_mirror")
            if args.trackers:
                config["trackers"] = True
            profiler = CallbackProfiler() if args.profile else None
            result = measure(tmp, label.replace(" ", "_"), args.epochs, config, args.imgsz, profiler, data)
            print(f"{label}:\n" + report(result), flush=True)
            if profiler:
                print(profiler.report(args.profile), flush=True)


if __name__ == "__main__":
    main()
