"""BestMirror costs: training-thread time of on_model_save, copy throughput, epoch time with a slow destination.

``run()`` returns a dict of figures; ``python benchmarks/bench_best_mirror.py`` prints them.

* ``on_model_save`` p50/p99 in ms, measured inside real trainings (goal: < 5 ms whatever the destination): with a
  fast local destination and with a throttled one (0.2 s per MiB written, ~5 MB/s).
* copy throughput of a mirrored checkpoint (snapshot + verified copy + read-back) against a plain
  ``shutil.copyfile`` of the same file, both local.
* epoch time with the slow destination against a run with no mirror (ratio; 1.0 means not slower).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="yolo_hooks_cfg_"))


class _Slow:
    """A local folder written at ~5 MB/s (0.2 s per MiB chunk)."""

    @staticmethod
    def make(root: Path):
        from yolo_hooks.mirror.destinations import LocalDestination

        class SlowDestination(LocalDestination):
            def _write_chunks(self, chunks, name):
                def slow():
                    for chunk in chunks:
                        time.sleep(0.2)
                        yield chunk

                super()._write_chunks(slow(), name)

        return SlowDestination(root)


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _epoch_times(model) -> list[float]:
    import csv

    with open(Path(model.trainer.save_dir) / "results.csv") as f:
        rows = list(csv.DictReader(f))
    times = [float(r["time"]) for r in rows]
    return [b - a for a, b in zip([0.0, *times], times)][1:]  # drop epoch 1 (warm-up)


def run(epochs: int = 6) -> dict[str, float]:
    """Three short coco8 trainings (none / fast local / slow destination) and a copy micro-benchmark."""
    from tests.conftest import train
    from yolo_hooks.best_mirror import BestMirror
    from yolo_hooks.mirror.destinations import LocalDestination

    tmp = Path(tempfile.mkdtemp(prefix="bench_mirror_"))
    figures: dict[str, float] = {}
    try:
        # save_period=1 is not needed: on a random-init run fitness stays 0.0 == best, so every epoch is a "best".
        base = train(tmp / "none", epochs=epochs)
        fast = BestMirror(to=str(tmp / "fast-dest"), last_every=1)
        train(tmp / "fast", fast, epochs=epochs)
        slow = BestMirror(to=_Slow.make(tmp / "slow-dest"), last_every=1, flush_timeout=600)
        slow_model = train(tmp / "slow", slow, epochs=epochs)
        for label, hook in (("fast", fast), ("slow", slow)):
            ms = [t * 1000 for t in hook.save_times]
            figures[f"on_model_save_{label}_p50_ms"] = round(_percentile(ms, 0.5), 3)
            figures[f"on_model_save_{label}_p99_ms"] = round(_percentile(ms, 0.99), 3)
        figures["epoch_time_ratio_slow_vs_none"] = round(
            statistics.median(_epoch_times(slow_model)) / statistics.median(_epoch_times(base)), 3
        )
        figures["slow_uploads_ok"] = sum(r.ok for r in slow.results)
        figures["slow_uploads_failed"] = sum(not r.ok for r in slow.results)

        # copy throughput: the training checkpoint (with optimizer state) of the slow run
        source = Path(slow_model.trainer.last)
        size_mb = source.stat().st_size / 1e6
        plain, mirrored = [], []
        for i in range(5):
            t = time.perf_counter()
            shutil.copyfile(source, tmp / f"plain{i}.pt")
            plain.append(time.perf_counter() - t)
            dest = LocalDestination(tmp / f"mirror{i}")
            t = time.perf_counter()
            dest.put_file(source, "best.pt")  # hash source, write temp + fsync, read back + hash, rename
            mirrored.append(time.perf_counter() - t)
        figures["checkpoint_mb"] = round(size_mb, 2)
        figures["copyfile_mb_s"] = round(size_mb / statistics.median(plain), 1)
        figures["mirror_put_mb_s"] = round(size_mb / statistics.median(mirrored), 1)
        figures["mirror_put_vs_copyfile_time_ratio"] = round(statistics.median(mirrored) / statistics.median(plain), 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:40s} {value}")
