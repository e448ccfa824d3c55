"""BestMirror costs: training-thread time of on_model_save, epoch time with a slow store, background CPU.

``run()`` returns a dict of figures; ``python benchmarks/bench_best_mirror.py`` prints them.

* ``on_model_save`` p50/p99 in ms and as a fraction of the median epoch time (goal: < 5 ms whatever the
  store), pooled over every mirrored run: a fast local store and a throttled one (0.2 s per MiB
  written, ~5 MB/s, sleeping like a blocked ``write``).
* epoch time with the slow (and the fast) store against no mirror: ``pairs`` alternating pairs
  (none/slow, then slow/none), median of the per-pair ratios of median epoch times (epoch 1 dropped: warm-up).
* CPU time the background threads used per epoch (staging copy + hash, writes, read-back hashing).
* copy throughput of a verified mirror put against a plain ``shutil.copyfile`` of the same file, both local.
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
os.environ.setdefault("YOLO_CONFIG_DIR", str(ROOT / "runs" / ".ultralytics-benchmarks"))


class _Slow:
    """A local folder written at ~5 MB/s (0.2 s per MiB, sleeping: no CPU, GIL released)."""

    @staticmethod
    def make(root: Path):
        from yolo_hooks.mirror.local import LocalStore

        class SlowStore(LocalStore):
            def _write_chunks(self, chunks, name):
                def slow():
                    for chunk in chunks:
                        time.sleep(0.2 * len(chunk) / (1 << 20))
                        yield chunk

                super()._write_chunks(slow(), name)

        return SlowStore(root)


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def _epoch_times(model) -> list[float]:
    import csv

    with open(Path(model.trainer.save_dir) / "results.csv") as f:
        rows = list(csv.DictReader(f))
    times = [float(r["time"]) for r in rows]
    return [b - a for a, b in zip([0.0, *times], times)][1:]  # drop epoch 1 (warm-up)


def _background_cpu(hook) -> float:
    workers = [*(hook._workers or []), *([hook._stager] if hook._stager is not None else [])]
    return sum(getattr(w, "cpu_seconds", float("nan")) for w in workers)  # nan: a version without the counter


def run(epochs: int = 8, pairs: int = 3) -> dict[str, float]:
    """``pairs`` x (no mirror, slow store, fast store) coco8 trainings, alternating, and a copy test."""
    from benchmarks.common import train
    from yolo_hooks.mirror.hook import BestMirror
    from yolo_hooks.mirror.local import LocalStore

    tmp = Path(tempfile.mkdtemp(prefix="bench_mirror_"))
    figures: dict[str, float] = {}
    save_ms: dict[str, list[float]] = {"fast": [], "slow": []}
    bg_ms_per_epoch: dict[str, list[float]] = {"fast": [], "slow": []}
    ratios: dict[str, list[float]] = {"slow": [], "fast": []}
    none_epochs: list[float] = []
    slow_ok = slow_failed = 0
    try:

        def one(label: str, i: int) -> float:
            nonlocal slow_ok, slow_failed
            # last_every=1: both best.pt and last.pt every epoch (on a random-init run fitness stays 0.0 == best,
            # so every epoch is a new best): the heaviest load the hook can be given.
            hook = {"none": None,
                    "fast": lambda: BestMirror(to=str(tmp / f"fast-dest-{i}"), last_every=1),
                    "slow": lambda: BestMirror(to=_Slow.make(tmp / f"slow-dest-{i}"), last_every=1, flush_timeout=600),
                    }[label]
            hook = hook() if hook else None
            model = train(tmp / f"{label}-{i}", *([hook] if hook else []), epochs=epochs)
            median = statistics.median(_epoch_times(model))
            if hook is not None:
                save_ms[label] += [t * 1000 for t in hook.save_times]
                bg_ms_per_epoch[label].append(_background_cpu(hook) * 1000 / epochs)
                if label == "slow":
                    slow_ok += sum(r.ok for r in hook.results)
                    slow_failed += sum(not r.ok for r in hook.results)
            shutil.rmtree(tmp / f"{label}-{i}", ignore_errors=True)
            return median

        for i in range(pairs):
            order = ("none", "slow", "fast") if i % 2 == 0 else ("fast", "slow", "none")
            medians = {label: one(label, i) for label in order}
            none_epochs.append(medians["none"])
            for label in ("slow", "fast"):
                ratios[label].append(medians[label] / medians["none"])
        epoch_s = statistics.median(none_epochs)
        figures["epoch_time_none_s"] = round(epoch_s, 3)
        for label in ("fast", "slow"):
            p50, p99 = _percentile(save_ms[label], 0.5), _percentile(save_ms[label], 0.99)
            figures[f"on_model_save_{label}_p50_ms"] = round(p50, 3)
            figures[f"on_model_save_{label}_p99_ms"] = round(p99, 3)
            figures[f"on_model_save_{label}_p50_of_epoch"] = round(p50 / 1000 / epoch_s, 5)
            figures[f"on_model_save_{label}_p99_of_epoch"] = round(p99 / 1000 / epoch_s, 5)
            figures[f"background_cpu_{label}_ms_per_epoch"] = round(statistics.median(bg_ms_per_epoch[label]), 1)
        figures["on_model_save_samples"] = len(save_ms["fast"]) + len(save_ms["slow"])
        figures["epoch_time_ratio_slow_vs_none"] = round(statistics.median(ratios["slow"]), 3)
        figures["epoch_time_ratio_fast_vs_none"] = round(statistics.median(ratios["fast"]), 3)
        figures["epoch_time_ratios_slow_per_pair"] = [round(r, 3) for r in ratios["slow"]]
        figures["epoch_time_ratios_fast_per_pair"] = [round(r, 3) for r in ratios["fast"]]
        figures["pairs"] = pairs
        figures["slow_uploads_ok"] = slow_ok
        figures["slow_uploads_failed"] = slow_failed

        # copy throughput: a full training checkpoint (with optimizer state), as mirrored mid-training
        model = train(tmp / "ckpt", epochs=1, save_period=1)
        source = Path(model.trainer.wdir) / "epoch0.pt"
        source = source if source.is_file() else Path(model.trainer.last)
        size_mb = source.stat().st_size / 1e6
        plain, mirrored = [], []
        for i in range(5):
            t = time.perf_counter()
            shutil.copyfile(source, tmp / f"plain{i}.pt")
            plain.append(time.perf_counter() - t)
            dest = LocalStore(tmp / f"mirror{i}")
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
