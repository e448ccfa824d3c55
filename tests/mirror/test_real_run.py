"""One real coco8 training (2 epochs) mirrored at once to: a local folder + memory://, S3 on a loopback moto
server, a read-only folder, a folder deleted mid-run, a folder whose parent vanishes mid-run, and a throttled
store; then a torchscript export. Each BestMirror is its own hook, so each test reads one of them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import COCO8_VAL_IMAGES, _cuda_available, train
from tests.helpers import Listener
from tests.mirror.support import SlowStore, leftovers, read_only_dir
from yolo_hooks.mirror.hook import BestMirror


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _RemoveAtEpoch:
    """Deletes a folder at the start of 0-based epoch ``epoch`` (a store disappearing mid-run)."""

    def __init__(self, folder: Path, epoch: int):
        self.folder, self.epoch = folder, epoch

    def __call__(self, trainer):
        if trainer.epoch == self.epoch:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module", params=["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not _cuda_available(), reason="no CUDA device"))])
def run(request, tmp_path_factory, s3_server):
    tmp = tmp_path_factory.mktemp("mirror")
    memory_url = f"memory://yolo-hooks-tests/{uuid.uuid4().hex[:8]}"
    s3 = {"url": "s3://mirror-bucket/runs/exp1", "storage_options": {"endpoint_url": s3_server}}
    fast = dict(retries=1, backoff=0.05, flush_timeout=60)
    with read_only_dir(tmp / "read-only") as ro:
        hooks = {
            "main": BestMirror(to=[str(tmp / "backup"), memory_url, s3], keep=1, last_every=1,
                               exports=["torchscript"], name_template="best-e{epoch:03d}-{fitness:.3f}-{mAP50_95:.3f}.pt", **fast),
            "read_only": BestMirror(to=ro, name="mirror_ro", **fast),
            "deleted": BestMirror(to=str(tmp / "deleted" / "backup"), name="mirror_deleted", **fast),
            "unmounted": BestMirror(to=str(tmp / "share" / "backup"), name="mirror_unmounted", **fast),
            "slow": BestMirror(to=SlowStore(tmp / "slow", seconds_per_mib=0.1), name="mirror_slow", **fast),
        }
        from ultralytics import YOLO

        import yolo_hooks

        model = YOLO("yolo11n.yaml")
        listener = Listener()
        yolo_hooks.attach(model, *hooks.values(), listener, end_timeout=60)  # the run's one end-of-run deadline (default 10 s)
        (tmp / "deleted").mkdir()
        (tmp / "share").mkdir()
        model.add_callback("on_train_epoch_start", _RemoveAtEpoch(tmp / "deleted" / "backup", 1))
        model.add_callback("on_train_epoch_start", _RemoveAtEpoch(tmp / "share", 1))
        train(tmp, model=model, device=request.param, epochs=2)
        exported = model.export(format="torchscript", imgsz=160)
        assert all(hook.wait(120) for hook in hooks.values())  # an export's copies finish in the background
        yield dict(tmp=tmp, model=model, hooks=hooks, memory_url=memory_url, s3=s3, exported=Path(exported),
                   best=Path(model.trainer.best), published=listener.published)


def test_local_copy_is_the_final_best_and_predicts(run):
    backup, best = run["tmp"] / "backup", run["best"]
    assert sha256((backup / "best.pt").read_bytes()) == sha256(best.read_bytes())
    doc = json.loads((backup / "best.json").read_text())
    assert doc["kind"] == "final" and doc["final"] is True and doc["sha256"] == sha256(best.read_bytes())
    assert doc["size"] == best.stat().st_size and doc["name"] == "run" and doc["source"] == str(best)
    assert doc["ultralytics_version"] and doc["epoch"] == 2 and "metrics/mAP50-95(B)" in doc["metrics"]
    versions = sorted(p.name for p in backup.glob("best-e*.pt"))
    assert len(versions) == 1 and versions[0].startswith("best-e002-") and doc["versions"] == versions  # keep=1
    final_set = json.loads((backup / "resume" / "epoch0002-final.json").read_text())  # the stripped last.pt, its set
    last = best.parent / "last.pt"
    assert final_set["final"] and not final_set["resumable"] and final_set["epoch"] == 2
    assert final_set["members"]["last.pt"] == {"size": last.stat().st_size, "sha256": sha256(last.read_bytes())}
    assert sha256((backup / "resume" / "epoch0002-final" / "last.pt").read_bytes()) == sha256(last.read_bytes())
    assert leftovers(backup) == [] and not (best.parent.parent / ".mirror_staging").exists()
    from ultralytics import YOLO

    results = YOLO(backup / "best.pt").predict(str(COCO8_VAL_IMAGES), imgsz=160, device="cpu", verbose=False)
    assert len(results) == len(list(COCO8_VAL_IMAGES.iterdir())) and results[0].boxes is not None


def test_memory_and_s3_copies_match(run):
    import fsspec
    import s3fs

    best = sha256(run["best"].read_bytes())
    mem = fsspec.filesystem("memory")
    root = run["memory_url"].removeprefix("memory://")
    assert sha256(mem.cat(f"{root}/best.pt")) == best
    s3 = s3fs.S3FileSystem(endpoint_url=run["s3"]["storage_options"]["endpoint_url"], skip_instance_cache=True)
    keys = sorted(p.rsplit("/", 1)[-1] for p in s3.ls("mirror-bucket/runs/exp1"))
    assert sha256(s3.cat("mirror-bucket/runs/exp1/best.pt")) == best
    assert json.loads(s3.cat("mirror-bucket/runs/exp1/best.json"))["sha256"] == best
    assert "best.torchscript" in keys and not [k for k in keys if "tmp-" in k]


def test_events_published_with_redacted_stores(run):
    done = [e for e in run["published"] if e.kind == "mirror_done" and e.source == "best_mirror"]
    kinds = {e.data["kind"] for e in done}
    # a mid-training best.pt may be rewritten before it is staged (latest wins); the final and the export never
    assert {"last", "final", "export"} <= kinds
    stores = {e.data["store"] for e in done}
    assert "s3://mirror-bucket/***" in stores and not any("exp1" in d for d in stores if "://" in d)
    final = [e for e in done if e.data["kind"] == "final"]
    assert len(final) == 3 and {e.data["sha256"] for e in final} == {sha256(run["best"].read_bytes())}


def test_export_is_mirrored(run):
    exported = run["exported"]
    assert sha256((run["tmp"] / "backup" / exported.name).read_bytes()) == sha256(exported.read_bytes())


def test_read_only_store_fails_clearly_and_training_finishes(run):
    hook = run["hooks"]["read_only"]
    failed = [e for e in run["published"] if e.kind == "mirror_failed" and e.source == "mirror_ro"]
    assert failed and all(e.severity == "critical" for e in failed)
    assert any(("Permission" in e.data["error"] or "not permitted" in e.data["error"]) for e in failed)
    assert {e.data["kind"] for e in failed} >= {"final"} and hook.error_total == 0
    assert run["best"].is_file() and run["model"].trainer.epoch == 1  # training ran to the end


def test_deleted_store_is_recreated_and_gets_the_final(run):
    folder = run["tmp"] / "deleted" / "backup"
    assert sha256((folder / "best.pt").read_bytes()) == sha256(run["best"].read_bytes())


def test_vanished_share_is_reported_not_recreated(run):
    failed = [e for e in run["published"] if e.kind == "mirror_failed" and e.source == "mirror_unmounted"]
    assert failed and "not mounted" in failed[-1].data["error"] and not (run["tmp"] / "share").exists()


def test_slow_store_gets_the_final_and_every_copy_it_got_is_verified(run):
    hook = run["hooks"]["slow"]  # its training-thread cost is measured in benchmarks/, not asserted here
    assert sha256((run["tmp"] / "slow" / "best.pt").read_bytes()) == sha256(run["best"].read_bytes())
    assert all(r.ok for r in hook.results)
