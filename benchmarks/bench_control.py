"""What run control's inbox costs a training per batch: the ``control.on_train_batch_end`` callback every training
has, against the batch it follows.

Two measurements:

1. **Real runs**: coco8 trainings (imgsz=160, batch=1, CPU) with nothing but the core attached (run control is
   there in every training); every call of ``control.on_train_batch_end`` is timed on the training thread (wall and
   thread CPU, ``common.time_hooks``), and every batch from ``on_train_batch_start`` to ``on_train_batch_end``.
   Once as shipped (the inbox is ``stat``-ed at most once a second: most calls only read the clock) and once with
   ``POLL_SECONDS = 0`` (a ``stat`` after every batch: the worst case, 1000 times more often than shipped).
2. **Microbenchmark**: one poll of an inbox that has not grown (``InboxReader.read``: one ``os.stat``), and the
   check a batch makes when no poll is due, warm, 20 000 times each.

Per batch as shipped = the callback's median + (one poll / polls per batch), where a batch shorter than a second
sees at most one poll a second.

Run: ``python benchmarks/bench_control.py`` (``--quick``: fewer epochs); it prints the section of RESULTS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import COCO8, TRAIN_ARGS, machine, percentile, time_hooks

EVENT = "control.on_train_batch_end"
BEFORE, AFTER = "noop_before.on_train_batch_end", "noop_after.on_train_batch_end"


def noop_before(trainer) -> None:
    """A callback that does nothing, called just before run control's: what any callback pays at that point."""


def noop_after(trainer) -> None:
    """The same, called just after run control's."""


def one_training(project: Path, name: str, epochs: int, poll_seconds: float | None) -> dict:
    """Timings of the control callback and of the batches of one training."""
    from ultralytics import YOLO

    import yolo_hooks
    from yolo_hooks.control import hook

    shipped = hook.POLL_SECONDS
    if poll_seconds is not None:
        hook.POLL_SECONDS = poll_seconds
    try:
        model = YOLO("yolo11n.yaml")
        yolo_hooks.attach(model, yolo_hooks.on("on_train_batch_end", noop_before))  # control is in every training
        yolo_hooks.attach(model, yolo_hooks.on("on_train_batch_end", noop_after))
        cpu: dict[str, list[float]] = {}
        sink = time_hooks(model, cpu)
        batches: list[float] = []
        started: list[float] = []
        model.add_callback("on_train_batch_start", lambda t: started.append(time.perf_counter()))
        model.add_callback("on_train_batch_end", lambda t: batches.append(time.perf_counter() - started[-1]))
        model.train(data=str(COCO8), epochs=epochs, project=str(project), name=name, **{**TRAIN_ARGS, "batch": 1})
    finally:
        hook.POLL_SECONDS = shipped
    return {"wall": sink[EVENT], "cpu": cpu[EVENT], "batches": batches,
            "before": (sink[BEFORE], cpu[BEFORE]), "after": (sink[AFTER], cpu[AFTER])}


def micro(folder: Path, n: int = 20000) -> dict:
    """Warm costs: one poll of an inbox that did not grow, and the per-batch check when no poll is due."""
    from yolo_hooks.control.inbox import InboxReader

    path = folder / "control_inbox.jsonl"
    path.write_text('{"id": "c-0", "name": "status"}\n')
    reader = InboxReader(path)
    reader.read()
    start = time.perf_counter()
    for _ in range(n):
        reader.read()
    poll = (time.perf_counter() - start) / n
    next_poll = time.monotonic() + 3600
    start = time.perf_counter()
    for _ in range(n):
        if time.monotonic() >= next_poll:
            pass
    check = (time.perf_counter() - start) / n
    return {"poll": poll, "check": check}


def run(epochs: int = 6) -> dict:
    with tempfile.TemporaryDirectory(prefix="yolo_hooks_control_") as tmp:
        tmp = Path(tmp)
        shipped = one_training(tmp, "shipped", epochs, None)
        every = one_training(tmp, "every_batch", epochs, 0.0)
        warm = micro(tmp)
    return {"shipped": shipped, "every": every, "micro": warm, "epochs": epochs}


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


def section(figures: dict) -> str:
    shipped, every, warm = figures["shipped"], figures["every"], figures["micro"]
    batch = statistics.median(shipped["batches"] + every["batches"])
    rows = []
    for label, (wall, cpu) in (("a callback that does nothing, just before", shipped["before"]),
                               ("a callback that does nothing, just after", shipped["after"])):
        rows.append(f"| {label} | {len(wall)} | {us(statistics.median(wall))} | {us(percentile(wall, 99))} | "
                    f"{us(statistics.median(cpu))} | {statistics.median(cpu) / batch:.1e} |")
    for label, data in (("run control as shipped (a `stat` at most once a second)", shipped),
                        ("run control with `POLL_SECONDS = 0` (a `stat` after every batch)", every)):
        wall, cpu = data["wall"], data["cpu"]
        rows.append(f"| {label} | {len(wall)} | {us(statistics.median(wall))} | {us(percentile(wall, 99))} | "
                    f"{us(statistics.median(cpu))} | **{statistics.median(cpu) / batch:.1e}** |")
    polls_per_batch = min(1.0, batch / 1.0)
    amortised = warm["check"] + warm["poll"] * polls_per_batch
    return "\n".join([
        "## Run control: the inbox, per batch",
        "",
        f"`{EVENT}` (every training has it) timed on the training thread in coco8 trainings (imgsz=160, batch=1, "
        f"{figures['epochs']} epochs each), against the median batch ({batch * 1e3:.0f} ms: from "
        "`on_train_batch_start` to `on_train_batch_end`). `python benchmarks/bench_control.py`.",
        "",
        "| callback | calls | wall p50 | wall p99 | CPU p50 | CPU p50 / batch |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        f"Warm, outside a training: one poll of an inbox that did not grow (`os.stat`) **{us(warm['poll'])}**; the "
        f"check when no poll is due (`time.monotonic()` and a comparison) **{us(warm['check'])}**. Per batch as "
        f"shipped, with batches of {batch * 1e3:.0f} ms: {us(amortised)} = **{amortised / batch:.1e}** of a batch.",
        "",
        "Shows: the command channel costs the training loop about what any Python callback costs at that point "
        "(cold after the batch's torch kernels), with or without a `stat`: a few parts in 100 000 of a batch. The CPU "
        "column is the work; wall time also counts moments the thread was not running (2 shared cores, torch's "
        "threads spinning down after the batch: the first callback of the event pays most of it). Does not show: a "
        "run folder on a slow network filesystem, where one `stat` a second can take milliseconds (Ultralytics "
        "writes results.csv and last.pt to the same folder every epoch).",
        "",
        f"Machine: {machine()}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(section(run(epochs=2 if args.quick else 6)))


if __name__ == "__main__":
    sys.exit(main())
