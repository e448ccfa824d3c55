"""The parts of :class:`yolo_hooks.best_mirror.BestMirror`, one concern per module.

destinations.py  local folder / fsspec URL: temp name, verify (size + sha256), rename; list and delete
staging.py       the private snapshot of a checkpoint (reflink or sendfile), shared by every destination
queue.py         a destination's jobs on the one background worker (core/worker.py), latest wins
upload.py        one job at one destination: copies, sidecar, ``keep`` pruning, retries with back-off
naming.py        the versioned-copy name template and its fields
sidecar.py       best.json / last.json
"""

from ..core.worker import LatestWinsQueue
from .destinations import Destination, FileCheck, FsspecDestination, LocalDestination, MirrorError, make_destination
from .queue import Job, MirrorWorker
from .upload import Result, Upload

__all__ = [
    "Destination",
    "FileCheck",
    "FsspecDestination",
    "Job",
    "LatestWinsQueue",
    "LocalDestination",
    "MirrorError",
    "MirrorWorker",
    "Result",
    "Upload",
    "make_destination",
]
