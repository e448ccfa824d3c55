"""Shared benchmark helpers: offline env, tiny coco8 trainings, per-event timing, a dead URL, machine description.

Benchmarks import the package and this module, never ``tests/``.
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("YOLO_OFFLINE", "1")
# Ultralytics' settings of the benchmarks' own (not ~/.config, not /tmp), with its integrations off: an installed
# MLflow or W&B would switch itself on in fresh settings and add its own CPU to every training measured (the trackers
# hook is measured by `cpu_share.py --trackers`, with them on).
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics-benchmarks"))
INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "neptune", "raytune", "tensorboard", "wandb")


def integrations_off() -> None:
    """Ultralytics' logger integrations off in the benchmarks' settings (a key this release lacks is left out)."""
    from ultralytics import settings

    settings.update({key: False for key in INTEGRATIONS if key in settings})


integrations_off()
COCO8 = ROOT / "datasets" / "coco8.yaml"
sys.path.insert(0, str(ROOT))

TRAIN_ARGS = dict(imgsz=160, batch=4, workers=0, plots=False, amp=False, seed=0, deterministic=True, verbose=False,
                  device="cpu", exist_ok=True)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def spread(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile); all three equal the value for a single one."""
    if len(values) < 2:
        return values[0], values[0], values[0]
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], statistics.median(values), q[2]


class TimedCallback:
    """Wraps a registered callback and records how long the calling thread spent in it: wall time in ``sink`` and,
    when given, the thread's own CPU time in ``cpu_sink`` (what preempting the thread cannot inflate)."""

    def __init__(self, inner: Callable, sink: dict[str, list[float]], label: str,
                 cpu_sink: dict[str, list[float]] | None = None):
        self.inner, self.sink, self.label, self.cpu_sink = inner, sink, label, cpu_sink

    def __call__(self, obj: Any) -> Any:
        start = time.perf_counter()
        try:
            return self.inner(obj) if self.cpu_sink is None else self._cpu_timed(obj)
        finally:
            self.sink.setdefault(self.label, []).append(time.perf_counter() - start)

    def _cpu_timed(self, obj: Any) -> Any:
        start = time.thread_time()
        try:
            return self.inner(obj)
        finally:
            self.cpu_sink.setdefault(self.label, []).append(time.thread_time() - start)


def time_hooks(model, cpu_sink: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Wrap every yolo_hooks callback registered on ``model``; returns the dict the wall timings land in (thread CPU
    times go to ``cpu_sink`` when given)."""
    from yolo_hooks.core.hook import GuardedCallback

    sink: dict[str, list[float]] = {}
    for event, callbacks in model.callbacks.items():
        model.callbacks[event] = [
            TimedCallback(cb, sink, f"{cb.hook.name}.{event}", cpu_sink) if isinstance(cb, GuardedCallback) else cb
            for cb in callbacks
        ]
    return sink


def train(project: Path, *hooks, epochs: int = 2, name: str = "run"):
    """Train yolo11n.yaml (random init) on coco8 with ``hooks`` attached, into ``project / name``; returns the model."""
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO("yolo11n.yaml")
    if hooks:
        yolo_hooks.attach(model, *hooks)
    model.train(data=str(COCO8), epochs=epochs, project=str(project), name=name, **TRAIN_ARGS)
    return model


def dead_url(path: str = "/hook") -> str:
    """A URL on a loopback port where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}{path}"  # nothing listens once the socket is closed


def train_once(project: Path, name: str, epochs: int, hooks: list | dict | None = None, seed: int = 0,
               prepare: Callable | None = None) -> dict[str, Any]:
    """One coco8 training; returns wall time of ``model.train``, summed epoch times and per-event hook timings."""
    from ultralytics import YOLO

    import yolo_hooks

    model = YOLO("yolo11n.yaml")
    if hooks:
        yolo_hooks.attach(model, *(hooks if isinstance(hooks, list) else [hooks]))
    sink = time_hooks(model)
    epoch_times: list[float] = []
    model.add_callback("on_fit_epoch_end", lambda t: epoch_times.append(t.epoch_time) if t.epoch_time else None)
    if prepare:
        prepare(model)
    start = time.perf_counter()
    model.train(data=str(COCO8), epochs=epochs, project=str(project), name=name, **{**TRAIN_ARGS, "seed": seed})
    wall = time.perf_counter() - start
    return {"wall": wall, "epochs": sum(epoch_times[:epochs]), "events": sink, "save_dir": model.trainer.save_dir}


def alternating_pairs(run_a: Callable[[int], dict], run_b: Callable[[int], dict], pairs: int) -> dict[str, Any]:
    """Alternate A/B (then B/A) runs to cancel drift; median of per-pair ratios B/A for wall and epoch time."""
    wall, epochs = [], []
    for i in range(pairs):
        first, second = (run_a, run_b) if i % 2 == 0 else (run_b, run_a)
        r1, r2 = first(i), second(i)
        a, b = (r1, r2) if i % 2 == 0 else (r2, r1)
        wall.append(b["wall"] / a["wall"])
        epochs.append(b["epochs"] / a["epochs"])
    return {"wall_ratio": statistics.median(wall), "epoch_ratio": statistics.median(epochs), "pairs": pairs,
            "wall_ratios": wall, "epoch_ratios": epochs}


def machine() -> str:
    """One line describing where the figures were taken."""
    import torch
    import ultralytics

    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, torch {torch.__version__}, ultralytics {ultralytics.__version__}, CPU training")


def section(name: str, text: str) -> str:
    """``text`` between the markers of section ``name`` of RESULTS.md (see :func:`replace_section`)."""
    return f"<!-- section: {name} -->\n{text.strip()}\n<!-- /section: {name} -->"


def replace_section(path: Path, name: str, text: str) -> None:
    """Put ``text`` as section ``name`` of the Markdown file ``path``, in place of the section already there (the
    rest of the file untouched), else at the end. One benchmark rewrites its own part of RESULTS.md without running
    the others; ``run.py`` carries such sections over."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = f"<!-- section: {name} -->", f"<!-- /section: {name} -->"
    new = section(name, text)
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        updated = head + new + rest.split(end, 1)[1]
    else:
        updated = old.rstrip("\n") + ("\n\n" if old else "") + new + "\n"
    path.write_text(updated, encoding="utf-8")


def kept_section(path: Path, name: str) -> str | None:
    """The section ``name`` of ``path`` with its markers, or None (``run.py`` keeps what another script wrote)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    begin, end = f"<!-- section: {name} -->", f"<!-- /section: {name} -->"
    if begin not in text or end not in text:
        return None
    return begin + text.split(begin, 1)[1].split(end, 1)[0] + end
