"""Background workers publish their results to the bus themselves, at once, from their own thread."""

from __future__ import annotations

import threading
import time

from tests.helpers import Listener
from tests.mirror.support import read_only_dir
from yolo_hooks.core.bus import Bus, event_id
from yolo_hooks.core.hook import Hook
from yolo_hooks.mirror.hook import BestMirror
from yolo_hooks.mirror.staging import file_identity


def test_a_failed_copy_is_published_by_the_worker_without_waiting_for_an_epoch_end(tmp_path):
    source = tmp_path / "run" / "weights" / "best.pt"
    source.parent.mkdir(parents=True)
    source.write_bytes(b"checkpoint" * 1000)
    with read_only_dir(tmp_path / "ro") as ro:
        bus, listener = Bus(), Listener()
        mirror = BestMirror(to=str(ro), retries=0, keep=0)
        for hook in (mirror, listener):
            hook.bind(bus)
        mirror._submit(mirror._jobs("best", "best", source, file_identity(source), tmp_path / "run", ["best.pt"],
                                    None, "best.json", {"epoch": 1, "fitness": 0.5}))
        deadline = time.monotonic() + 10
        while "mirror_failed" not in listener.kinds() and time.monotonic() < deadline:
            time.sleep(0.02)  # no on_fit_epoch_end, no teardown: nothing on this thread publishes it
        assert "mirror_failed" in listener.kinds()
        for worker in [*mirror._workers, mirror._stager]:
            worker.close()


class _Publisher(Hook):
    pass


def test_publishing_from_many_threads_delivers_every_event_one_at_a_time():
    bus, active, overlaps, seen = Bus(), [0], [0], []

    class Slow(Hook):
        def on_published(self, event):
            active[0] += 1
            overlaps[0] = max(overlaps[0], active[0])
            time.sleep(0.001)
            seen.append(event.data["i"])
            active[0] -= 1

    publisher, subscriber = _Publisher(name="p"), Slow(name="s")
    for hook in (publisher, subscriber):
        hook.bind(bus)
    threads = [threading.Thread(target=lambda k=k: [publisher.publish("alert", "x", i=k * 20 + j) for j in range(20)])
               for k in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sorted(seen) == list(range(100)) and overlaps[0] == 1


def test_an_event_about_an_epoch_has_the_same_id_every_time_it_is_announced():
    first = event_id("run-a", "val_loss_alert", "alert", {"epoch": 3, "rule": "above", "value": 12.5})
    again = event_id("run-a", "val_loss_alert", "alert", {"epoch": 3, "rule": "above", "value": 12.49})  # from csv
    assert first == again
    assert first != event_id("run-b", "val_loss_alert", "alert", {"epoch": 3, "rule": "above"})
    assert first != event_id("run-a", "val_loss_alert", "alert", {"epoch": 4, "rule": "above"})
    assert event_id(None, "x", "alert", {"epoch": 3}) != event_id(None, "x", "alert", {"epoch": 3})  # no run: random


def test_recent_events_are_kept_for_crash_forensics_but_never_pickled_to_ddp_workers():
    import pickle

    from yolo_hooks.core.bus import HISTORY, Published

    bus = Bus()
    for epoch in range(HISTORY + 5):
        bus.publish(Published(kind="mirror_done", source="best_mirror", severity="info", message="", data={"epoch": epoch}))
    assert len(bus.history) == HISTORY and bus.history[-1].data["epoch"] == HISTORY + 4  # bounded, newest kept
    worker_copy = pickle.loads(pickle.dumps(bus))
    assert list(worker_copy.history) == []
    worker_copy.publish(Published(kind="alert", source="x", severity="warning", message="", data={}))
    assert len(worker_copy.history) == 1
