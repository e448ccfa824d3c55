"""Notify benchmark: what a message costs the training thread, what the worker sustains, what a dead endpoint
costs a real training.

Figures (``run()`` returns them; ``python benchmarks/bench_notify.py`` prints them):

- ``handover_us``: training-thread cost of one message (bus record -> Message -> queue), p50 / p99 in
  microseconds, with a fast, a 5-second-slow and a dead (connection refused) endpoint;
- ``throughput``: messages per second the background worker delivers to a local keep-alive endpoint, against a
  bare ``requests.post`` loop and a ``requests.Session`` loop doing the same requests on one thread, and the
  process CPU per message of each (the endpoint's own share included, the same for all three);
- ``training``: epoch-time and wall-time ratio of a short coco8 training with a Notify hook pointed at a dead
  endpoint (progress every epoch) over the same training without notifications, median of alternating pairs.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

try:
    from benchmarks.common import alternating_pairs, dead_url, machine, percentile, spread, train_once
except ImportError:  # run as a script: benchmarks/ is on sys.path, the project root is added by common
    from common import alternating_pairs, dead_url, machine, percentile, spread, train_once  # type: ignore


def handover(url: str, messages: int, tmp: Path, wait: float = 0) -> dict[str, float]:
    """p50 / p99 (µs) of ``Notify.on_published`` for an alert: build the Message and queue it.

    ``wait``: seconds the final flush may take (the fast endpoint gets everything; the others fill the outbox).
    """
    from yolo_hooks.core.bus import Published
    from yolo_hooks.notify import Notify

    hook = Notify(format="json", url=url, events=["alert"], retries=1, backoff=0.5, flush_timeout=0,
                  outbox=str(tmp / "outbox.jsonl"))
    costs = []
    for i in range(messages):
        event = Published(kind="alert", source="val_loss_alert", severity="warning",
                          message=f"val/loss 12.5 above 10 at epoch {i}",
                          data={"rule": "above", "loss": "val/loss", "value": 12.5, "threshold": 10.0, "epoch": i})
        start = time.perf_counter()
        hook.on_published(event)
        costs.append(time.perf_counter() - start)
        if i % 50 == 0:
            time.sleep(0.001)  # like a training loop: the worker gets the GIL in between
    hook.flush(wait)
    hook.delivery.close()
    return {"p50": percentile(costs, 50) * 1e6, "p99": percentile(costs, 99) * 1e6, "max": max(costs) * 1e6}


def _process_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def throughput(messages: int, tmp: Path, rounds: int = 3) -> dict[str, float]:
    """Messages per second: the Notify worker vs a bare ``requests.post`` loop vs a ``Session`` loop.

    The three are interleaved over ``rounds`` rounds and the median taken, so load from other processes on a
    shared machine hits all three alike.
    """
    import requests

    from yolo_hooks.notify.delivery import Delivery, Destination
    from yolo_hooks.notify.formats import build_request
    from yolo_hooks.notify.message import Message
    from yolo_hooks.notify.receiver import WebhookReceiver

    endpoint = WebhookReceiver().start()
    options = {"url": endpoint.url}

    def worker() -> float:
        msgs = [Message("alert", "warning", f"message {i}", "val/loss above 10") for i in range(messages)]
        delivery = Delivery(Destination.of("bench", "json", options), options, outbox=tmp / "outbox.jsonl")
        start = time.perf_counter()
        for m in msgs:
            delivery.submit(m)
        delivery.flush(120)
        rate = messages / (time.perf_counter() - start)
        delivery.close()
        return rate

    def loop(post) -> float:
        msgs = [Message("alert", "warning", f"message {i}", "val/loss above 10") for i in range(messages)]
        start = time.perf_counter()
        for m in msgs:
            req = build_request("json", m, options)
            post(req.url, data=req.body, headers=req.headers, timeout=10).raise_for_status()
        return messages / (time.perf_counter() - start)

    rates: dict[str, list[float]] = {"worker": [], "bare": [], "session": []}
    cpu: dict[str, list[float]] = {name: [] for name in rates}  # process CPU seconds per message
    try:
        def pooled() -> float:
            with requests.Session() as session:
                return loop(session.post)

        runs = [("worker", worker), ("bare", lambda: loop(requests.post)), ("session", pooled)]
        for r in range(rounds):
            for name, measure in runs[r % 3:] + runs[: r % 3]:  # rotate the order: no method always goes first
                cpu0 = _process_cpu()
                rates[name].append(measure())
                cpu[name].append((_process_cpu() - cpu0) / messages)
    finally:
        endpoint.stop()
    med = {k: statistics.median(v) for k, v in rates.items()}
    return {"worker_per_s": med["worker"], "bare_post_per_s": med["bare"], "session_post_per_s": med["session"],
            "worker_vs_bare": med["worker"] / med["bare"], "worker_vs_session": med["worker"] / med["session"],
            **{f"{k}_cpu_ms_per_msg": statistics.median(v) * 1e3 for k, v in cpu.items()},
            # the same ratios round by round (the three ran back to back in each): their spread
            "worker_vs_bare_spread": spread([w / b for w, b in zip(rates["worker"], rates["bare"])]),
            "cpu_vs_session_spread": spread([w / s for w, s in zip(cpu["worker"], cpu["session"])]),
            "messages_per_round": messages, "rounds": rounds}


def training(pairs: int, epochs: int, tmp: Path) -> dict[str, float]:
    """Epoch-time and wall-time ratios: dead-endpoint notifications over no notifications (median of pairs).

    A run's epoch time is the median of its epochs times ``epochs`` (one epoch slowed by another job on a shared
    machine does not decide the pair); the hook's own training-thread time is measured directly as well.
    """
    from yolo_hooks.notify import Notify

    dead = dead_url()
    per_epoch_ms, teardown_s = [], []

    def robust(result: dict, times: list[float]) -> dict:
        result["epochs"] = statistics.median(times[:epochs]) * epochs
        return result

    def timer(times: list[float]):
        return lambda model: model.add_callback("on_fit_epoch_end", lambda t: times.append(t.epoch_time))

    def without(i: int) -> dict:
        times: list[float] = []
        return robust(train_once(tmp, f"plain{i}", epochs, prepare=timer(times)), times)

    def with_dead(i: int) -> dict:
        times: list[float] = []
        prepare = timer(times)
        hook = Notify(format="json", url=dead, progress_every=1, flush_timeout=2)
        result = train_once(tmp, f"dead{i}", epochs, hooks=[hook], prepare=prepare)
        events = result["events"]
        during = sum(sum(v) for k, v in events.items() if not k.endswith(".teardown"))
        per_epoch_ms.append(during / epochs * 1000)
        # the hook's teardown and the core's end-of-run step (every hook's finish, one deadline)
        teardown_s.append(sum(sum(v) for k, v in events.items() if k.endswith(".teardown")))
        return robust(result, times)

    without(-1)  # warm-up (first-run costs: imports, dataset cache, allocator), not counted
    ratios = alternating_pairs(without, with_dead, pairs)
    return {"epoch_ratio": ratios["epoch_ratio"], "wall_ratio": ratios["wall_ratio"], "pairs": pairs,
            "epochs": epochs, "epoch_ratios": ratios["epoch_ratios"], "wall_ratios": ratios["wall_ratios"],
            "hook_ms_per_epoch": statistics.median(per_epoch_ms), "end_of_run_flush_s": statistics.median(teardown_s),
            "flush_timeout_s": 2}


def run(messages: int = 1000, pairs: int = 5, epochs: int = 6, train: bool = True) -> dict:
    """Every figure of this benchmark as a dict (for ``benchmarks/run.py``)."""
    from yolo_hooks.notify.receiver import WebhookReceiver

    with tempfile.TemporaryDirectory(prefix="bench_notify_") as tmp:
        tmp = Path(tmp)
        slow, fast = WebhookReceiver().start(), WebhookReceiver().start()
        slow.set_mode("slow", delay=5.0)
        try:
            results = {
                "machine": machine(),
                "handover_us": {
                    "fast": handover(fast.url, messages, tmp, wait=60),
                    "slow_5s": handover(slow.url, messages, tmp),
                    "dead": handover(dead_url(), messages, tmp),
                },
            }
        finally:
            fast.stop()
            slow.stop()
        results["throughput"] = throughput(max(100, messages // 3), tmp)
        if train:
            results["training"] = training(pairs, epochs, tmp)
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--no-train", action="store_true", help="skip the training ratio")
    a = parser.parse_args()
    print(json.dumps(run(a.messages, a.pairs, a.epochs, train=not a.no_train), indent=2))
