"""The mirror's verified copy against a fair baseline: ``cp`` + ``fsync`` + ``sha256sum`` of the same file.

Ours (:meth:`LocalStore.put_file`): read the source once, hashing each chunk as it is written to a temporary,
fsync it, read the temporary back and hash it, compare, rename, fsync the folder. The baseline does the least a
shell script needs for the same guarantee on the same disk: ``cp SRC DST && sync DST && sha256sum DST`` (one
shell; comparing the hash with the source's is left out of the baseline, in its favour). Runs alternate (ours,
baseline, baseline, ours, ...) with a warm page cache for the source; median of the per-run throughputs.

    python benchmarks/bench_mirror_copy.py            # 7 runs of a 32 MiB file
    python benchmarks/bench_mirror_copy.py --per-best # the mirror's CPU per new best.pt against the sha256 floor

``--per-best`` (:func:`per_best`) is the mirror's own cost without a training around it: staging and upload of a
26.7 MB best.pt rewritten in place each epoch, to a local folder, by thread CPU, next to two sha256 passes over as
many bytes (the least a verified copy can cost). ``cpu_share.py`` measures the same in real trainings.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def run(runs: int = 7, size_mb: int = 32, folder: Path | None = None) -> dict:
    """Median MB/s of ours and of the baseline, the ratio of the medians and the per-run ratios."""
    from yolo_hooks.mirror.local import LocalStore

    with tempfile.TemporaryDirectory(prefix="yolo_hooks_copy_", dir=folder) as tmp:
        tmp = Path(tmp)
        source = tmp / "source.pt"
        source.write_bytes(os.urandom(size_mb << 20))
        source.read_bytes()  # in the page cache for both
        dest = LocalStore(tmp / "mirror")
        (tmp / "cp").mkdir()
        ours, baseline = [], []

        def run_ours(i: int) -> float:
            start = time.perf_counter()
            dest.put_file(source, f"copy-{i}.pt")
            return time.perf_counter() - start

        def run_baseline(i: int) -> float:
            target = tmp / "cp" / f"copy-{i}.pt"
            start = time.perf_counter()
            subprocess.run(["sh", "-c", 'cp "$1" "$2" && sync "$2" && sha256sum "$2" >/dev/null', "sh", str(source),
                            str(target)], check=True)
            return time.perf_counter() - start

        for i in range(runs + 1):  # round 0 warms both paths and is dropped
            order = (run_ours, run_baseline) if i % 2 == 0 else (run_baseline, run_ours)
            times = {f: f(i) for f in order}
            if i:
                ours.append(times[run_ours])
                baseline.append(times[run_baseline])
            shutil.rmtree(tmp / "mirror", ignore_errors=True)
            shutil.rmtree(tmp / "cp", ignore_errors=True)
            (tmp / "cp").mkdir()
    mb = size_mb * 1.048576
    ratios = sorted(b / o for o, b in zip(ours, baseline))  # throughput ours / baseline = time baseline / ours
    q = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratios[0]] * 3
    return {"size_mb": mb, "runs": runs, "ours_mb_s": mb / statistics.median(ours),
            "baseline_mb_s": mb / statistics.median(baseline), "ratio": statistics.median(ratios),
            "ratio_q1": q[0], "ratio_q3": q[2], "ratios": ratios, "have_sha256sum": shutil.which("sha256sum") is not None}


def sha256_floor(size: int, runs: int = 3) -> float:
    """CPU seconds of the two sha256 passes a verified copy of ``size`` bytes needs (the bytes sent, the copy read
    back): hashlib over the same bytes twice, best of ``runs``."""
    import hashlib

    data = os.urandom(size)
    best = float("inf")
    for _ in range(runs):
        start = time.thread_time()
        hashlib.sha256(data).digest()
        hashlib.sha256(data).digest()
        best = min(best, time.thread_time() - start)
    return best


def per_best(epochs: int = 8, size: int = 26_700_000, folder: Path | None = None, profile: int = 0) -> dict:
    """The mirror's background CPU per new best.pt, as in a training: best.pt rewritten in place each epoch (as
    Ultralytics' ``write_bytes`` does), staged by the staging step, uploaded by a local store's uploader (a versioned
    copy, best.pt, best.json, ``keep=2``); thread CPU of both steps, which run here one after the other. Median per
    best.pt over ``epochs`` (the first, which creates the store, dropped), with the floor and their ratio."""
    from yolo_hooks.mirror.local import LocalStore
    from yolo_hooks.mirror.queue import Job
    from yolo_hooks.mirror.staging import StagedFile, file_identity
    from yolo_hooks.mirror.upload import Upload, Uploader
    from yolo_hooks.mirror.workers import stage

    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile(timer=time.thread_time)
    results = []
    with tempfile.TemporaryDirectory(prefix="yolo_hooks_best_", dir=folder) as tmp:
        tmp = Path(tmp)
        source = tmp / "run" / "weights" / "best.pt"
        source.parent.mkdir(parents=True)
        uploader = Uploader(LocalStore(tmp / "mirror"), keep=2, retries=0, backoff=0.0, report=results.append,
                            log=lambda *a: None)
        stage_cpu, upload_cpu = [], []
        for epoch in range(epochs + 1):
            source.write_bytes(os.urandom(size))  # in place, same inode, as Ultralytics does
            os.sync()  # the write-back of the last epoch's files is not ours
            staged = StagedFile(source, tmp / "run" / ".mirror_staging", refs=1, expected=file_identity(source))
            name = f"best-epoch{epoch:03d}.pt"
            job = Job("best", "best", Upload("best", staged, [name, "best.pt"], name, "best.json", {"epoch": epoch}))
            if profiler is not None and epoch:
                profiler.enable()
            start = time.thread_time()
            stage(Job("best", "best", staged))
            middle = time.thread_time()
            uploader(job)
            end = time.thread_time()
            if profiler is not None:
                profiler.disable()
            if epoch:
                stage_cpu.append(middle - start)
                upload_cpu.append(end - middle)
        assert all(r.ok for r in results), results
    ours = [s + u for s, u in zip(stage_cpu, upload_cpu)]
    floor = sha256_floor(size)
    out = {"size_mb": size / 1e6, "epochs": epochs, "floor_ms": floor * 1e3, "ours_ms": statistics.median(ours) * 1e3,
           "stage_ms": statistics.median(stage_cpu) * 1e3, "upload_ms": statistics.median(upload_cpu) * 1e3,
           "ours_min_ms": min(ours) * 1e3, "ours_max_ms": max(ours) * 1e3}
    out["ratio"] = out["ours_ms"] / out["floor_ms"]
    if profiler is not None:
        import io
        import pstats

        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(profile)
        out["profile"] = text.getvalue()
    return out


if __name__ == "__main__":
    if "--per-best" in sys.argv:
        got = per_best(profile=25 if "--profile" in sys.argv else 0)
        print(got.pop("profile", ""), end="")
        print(f"{got['size_mb']:.1f} MB best.pt, {got['epochs']} epochs: the mirror's background CPU per new best.pt "
              f"{got['ours_ms']:.1f} ms (staging {got['stage_ms']:.1f}, upload {got['upload_ms']:.1f}; min-max "
              f"{got['ours_min_ms']:.1f}-{got['ours_max_ms']:.1f}), two-pass sha256 floor {got['floor_ms']:.1f} ms: "
              f"{got['ratio']:.2f}x (goal <= 1.5x)")
        sys.exit()
    out = run(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
    print(f"{out['size_mb']:.1f} MB: ours {out['ours_mb_s']:.0f} MB/s, cp+fsync+sha256sum {out['baseline_mb_s']:.0f} MB/s,"
          f" ratio {out['ratio']:.2f} (IQR {out['ratio_q1']:.2f}-{out['ratio_q3']:.2f}, {out['runs']} runs)")
