"""What ``yolo_hooks.pth`` costs every Python process: ``python -c pass`` with and without it.

One fresh venv (``--without-pip``) holds only ``yolo_hooks.pth`` and ``_yolo_hooks_startup.py``, exactly as a wheel
installs them. Runs alternate between the .pth present and renamed away (so drift on a busy machine hits both
sides alike), ``RUNS`` each; a third row has ``YOLO_HOOKS`` set (the start-up module is imported and its import hook
installed, nothing else). Writes a Markdown table to ``benchmarks/STARTUP.md`` (and prints it); the figure is the
ratio of medians, with each side's interquartile range for the spread.

    python benchmarks/bench_startup.py [runs=30]

What it shows: the start-up cost every Python process in the environment pays for having yolo_hooks installed.
What it does not: the time to import Ultralytics or to attach hooks (that is the cost of using them, paid only by
processes that import Ultralytics with YOLO_HOOKS set).
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4)
    return q[0], statistics.median(values), q[2]


def main(runs: int = 30) -> str:
    with tempfile.TemporaryDirectory(prefix="yolo_hooks_startup_") as tmp:
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp], check=True)
        python = str(Path(tmp, "bin", "python"))
        site = Path(subprocess.check_output([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                            text=True).strip())
        shutil.copy(ROOT / "_yolo_hooks_startup.py", site)
        subprocess.run([python, "-m", "py_compile", str(site / "_yolo_hooks_startup.py")], check=True)  # as pip does
        pth, away = site / "yolo_hooks.pth", site / "yolo_hooks.pth.off"
        shutil.copy(ROOT / "yolo_hooks.pth", away)
        env = {k: v for k, v in os.environ.items() if k not in {"YOLO_HOOKS", "PYTHONPATH"}}
        cases = {"without the .pth": (False, {}), "with the .pth, YOLO_HOOKS unset": (True, {}),
                 "with the .pth, YOLO_HOOKS set": (True, {"YOLO_HOOKS": "/nonexistent/hooks.yaml"})}
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[float]] = {name: [] for name in cases}  # the child's user+sys: less noisy than wall time
        for _ in range(runs + 3):  # the first 3 rounds warm the page cache and are dropped
            for name, (present, extra) in cases.items():
                if present and not pth.exists():
                    away.rename(pth)
                elif not present and pth.exists():
                    pth.rename(away)
                before, start = _children_cpu(), time.perf_counter()
                subprocess.run([python, "-c", "pass"], env={**env, **extra}, check=True)
                times[name].append(time.perf_counter() - start)
                cpu[name].append(_children_cpu() - before)
        times = {name: values[3:] for name, values in times.items()}
        cpu = {name: values[3:] for name, values in cpu.items()}
    base, cpu_base = statistics.median(times["without the .pth"]), statistics.median(cpu["without the .pth"])
    lines = [f"`python -c pass`, {runs} alternating runs each, Python {sys.version.split()[0]}, "
             f"{os.cpu_count()} CPUs ({sysconfig.get_platform()}), load average {os.getloadavg()[0]:.1f}", "",
             "| case | wall median ms (IQR) | wall ratio | CPU median ms (IQR) | CPU ratio |",
             "|---|---:|---:|---:|---:|"]
    for name in cases:
        q1, med, q3 = quartiles(times[name])
        c1, cmed, c3 = quartiles(cpu[name])
        lines.append(f"| {name} | {med * 1000:.1f} ({q1 * 1000:.1f}–{q3 * 1000:.1f}) | {med / base:.3f} | "
                     f"{cmed * 1000:.1f} ({c1 * 1000:.1f}–{c3 * 1000:.1f}) | {cmed / cpu_base:.3f} |")
    line = (ROOT / "yolo_hooks.pth").read_text().strip()
    env_before = os.environ.pop("YOLO_HOOKS", None)
    per_exec = min(timeit.repeat(lambda: exec(line, {}), number=10000, repeat=5)) / 10000
    if env_before is not None:
        os.environ["YOLO_HOOKS"] = env_before
    lines += ["", f"The `.pth` line itself with YOLO_HOOKS unset (timeit, best of 5 x 10000): {per_exec * 1e6:.2f} µs "
              f"per process, {per_exec / cpu_base:.5f} of the CPU time of `python -c pass`."]
    return "\n".join(lines)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    runs = int(next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("runs=")), 30))
    text = main(runs)
    (ROOT / "benchmarks" / "STARTUP.md").write_text("# Start-up file cost (`benchmarks/bench_startup.py`)\n\n" + text + "\n")
    print(text)
