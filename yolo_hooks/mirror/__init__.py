"""The parts of :class:`yolo_hooks.mirror.hook.BestMirror`, one concern per module.

checks.py        FileCheck (size + sha256) and hashing in large chunks
base.py          Store: temp name, verify, rename; clean-up of a killed process's temporaries
local.py         a local or mounted folder (fsync, hard links)
fsspec_url.py    any fsspec URL (s3://, gs://, memory://, ...)
stores.py  a store from a config value (path, URL or {url, storage_options})
options.py       the hook's own option checks (`to`, `exports`)
workers.py       the staging and upload threads, their jobs, the end-of-run flush, what a result says
exports.py       copies of model.export() files, waited for at the interpreter's exit
staging.py       the private staged copy of a checkpoint (reflink, or hashed as copied), shared by every store
queue.py         a store's jobs on the one background worker (core/worker.py), latest wins
upload.py        one job at one store: copies, sidecar, ``keep`` pruning, retries with back-off
resume_set.py    last.pt and the run's files of one epoch, published together under a manifest
run_files.py     the run's small files of a resume set, taken on the bus' writer
naming.py        the versioned-copy name template and its fields
sidecar.py       best.json, and the fields of a resume set's manifest
"""

from ..core.worker import LatestWinsQueue
from .base import Store
from .checks import FileCheck, MirrorError
from .fsspec_url import FsspecStore
from .local import LocalStore
from .queue import Job, MirrorWorker
from .stores import make_store
from .upload import Result, Upload

__all__ = [
    "Store",
    "FileCheck",
    "FsspecStore",
    "Job",
    "LatestWinsQueue",
    "LocalStore",
    "MirrorError",
    "MirrorWorker",
    "Result",
    "Upload",
    "make_store",
]
