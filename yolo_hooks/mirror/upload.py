"""What the background worker does with one job for one store: copy, verify, sidecar (or resume set), prune, retry.

Runs only on the store's worker thread. Every outcome (done or failed) is handed to ``report`` as a
:class:`Result` at once, on this thread (the hook publishes it to the bus from here). Back-off waits follow the one
retry policy (:mod:`yolo_hooks.core.retry`) and end at once when the end of the run sets ``abort``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..core.retry import RetryPolicy
from . import resume_set
from .base import Store
from .naming import prune
from .queue import Job
from .resume_set import SetName
from .sidecar import encode, sidecar
from .staging import StagedFile, Superseded

_CLAIMS = threading.Lock()


@dataclass
class Upload:
    """The payload of a :class:`Job`: a staged copy and the names it gets in the store.

    Attributes:
        kind: best | final | last | export.
        staged: the private staged copy (released by the worker when done).
        targets: names for the file, in order (a versioned copy first, then ``best.pt``); ignored for folders.
        versioned: which of ``targets`` is a versioned copy counted by ``keep``.
        sidecar: ``best.json``, or None.
        info: epoch, fitness, metrics and run facts for the sidecar (or manifest) and the published event.
    """

    kind: str
    staged: StagedFile
    targets: list[str]
    versioned: str | None = None
    sidecar: str | None = None
    info: dict[str, Any] = field(default_factory=dict)
    resume_set: SetName | None = None  # last.pt: published as this resume set, with ``files``
    files: list[tuple[str, bytes]] = field(default_factory=list)  # the run's small files of the set's epoch
    settled: bool = field(default=False, repr=False)  # its one outcome was reported (see claim)

    def claim(self) -> bool:
        """True once: for the first outcome of this copy (verified, failed, or still missing at the end of the run);
        a later one is not reported (one copy, one outcome)."""
        with _CLAIMS:
            first, self.settled = not self.settled, True
        return first

    def absorb(self, replaced: Upload) -> None:
        """Take over the versioned name of the waiting best this final replaces (the last epoch's best.pt, rewritten
        by the optimizer strip before it could be uploaded): that version is then kept, stripped, under its name."""
        if self.kind == "final" and replaced.versioned and not self.versioned:
            self.versioned = replaced.versioned
            self.targets = [replaced.versioned, *self.targets]

    def __repr__(self) -> str:
        return f"Upload({self.kind}, {self.targets}, epoch={self.info.get('epoch')})"


@dataclass(frozen=True)
class Result:
    """The outcome of one job at one store."""

    ok: bool
    kind: str
    store: str
    file: str
    epoch: int | None
    fitness: float | None
    sha256: str | None = None
    size: int | None = None
    error: str | None = None
    attempts: int = 1
    seconds: float = 0.0
    final: bool = False  # the copy made after training (the optimizer-stripped file)


class Uploader:
    """Processes the jobs of one store: verified copies, the sidecar, ``keep`` pruning, retries with back-off.

    Args:
        store: where to write.
        keep: versioned copies to keep (None: all).
        retries: extra attempts after the first failure; back-off with full jitter, ``backoff * 2**n`` at most
            (and 60 s), cut short by ``abort``.
        report: receives every :class:`Result` (on the worker thread).
    """

    def __init__(self, store: Store, *, keep: int | None, retries: int, backoff: float,
                 report: Callable[[Result], None], log: Callable[[str, str], None]):
        self.store = store
        self.keep = keep
        self.retries = retries
        self.backoff = backoff
        self.policy = RetryPolicy(retries=retries, backoff=backoff, max_backoff=60.0)
        self.abort = threading.Event()  # set by the end of the run: a back-off wait ends at once
        self.report = report
        self.log = log
        self.versions: list[str] = []  # versioned copies this run wrote here, oldest first (for `keep`)
        self._lost: Upload | None = None  # a best whose file was rewritten before it could be copied
        self._lock = threading.Lock()

    def __call__(self, job: Job) -> None:
        upload: Upload = job.payload
        start, attempts, error = time.monotonic(), 0, None
        try:
            try:
                upload.staged.materialize()  # the first store to get here copies; the others share it
            except Superseded as e:  # a newer version was written meanwhile and has its own job
                self.log(f"skipped {upload.kind} of epoch {upload.info.get('epoch')} for {self.store.display}: {e}", "info")
                if upload.kind == "best":  # the newer one may be the final strip: it then takes this one's name
                    self._lost = upload
                return
            except OSError as e:  # the source itself is gone or unreadable: retrying will not bring it back
                self._settle(upload, self._result(upload, False, 1, start,
                                                  error=f"could not stage {upload.staged.source}: {e}"))
                return
            if upload.kind == "best":
                self._lost = None  # a newer best gets its own name
            elif upload.kind == "final" and self._lost is not None:
                upload.absorb(self._lost)
                self._lost = None
            while True:
                attempts += 1
                try:
                    check = self._attempt(upload)
                except Exception as e:  # disk full, read-only, missing, network, verification: all retried
                    error = f"{type(e).__name__}: {e}"
                    if self.policy.should_retry(attempts) and not self.policy.sleep(self.policy.delay(attempts),
                                                                                      self.abort):
                        continue
                    break
                self._settle(upload, self._result(upload, True, attempts, start, sha256=check.sha256,
                                                  size=check.size))
                return
            self._settle(upload, self._result(upload, False, attempts, start, error=error))
        finally:
            upload.staged.release()

    def _settle(self, upload: Upload, result: Result) -> None:
        """Report ``result``, unless the end of the run already reported this copy as missing."""
        if upload.claim():
            self.report(result)
        elif result.ok:
            self.log(f"{result.kind} {result.file} reached {result.store} (verified) after the end of the run had "
                     f"reported it missing", "info")

    def _result(self, upload: Upload, ok: bool, attempts: int, start: float, **kw: Any) -> Result:
        return Result(
            ok=ok,
            kind=upload.kind,
            store=self.store.display,
            file=upload.targets[-1] if upload.targets else upload.staged.source.name,
            epoch=upload.info.get("epoch"),
            fitness=upload.info.get("fitness"),
            attempts=attempts,
            seconds=time.monotonic() - start,
            final=upload.kind == "final" or bool(upload.info.get("final")),
            **kw,
        )

    def _attempt(self, upload: Upload):
        staged = upload.staged
        if upload.resume_set is not None:  # last.pt and the run's files of one epoch, visible as one set
            return resume_set.publish(self.store, upload.resume_set, staged, upload.files, upload.info,
                                      self.versions_now())
        if staged.path.is_dir():  # an exported folder (saved_model, openvino...): every file, each verified
            for path, name in staged.files():
                self.store.put_file(path, name)
            return _folder_check(staged)
        first, *others = upload.targets
        check = self.store.put_staged(staged.path, first, staged.check)  # the check: hashed while it was staged
        for name in others:  # the same bytes under another name: no second upload where the backend can copy
            if not self.store.put_copy(first, name, check):
                self.store.put_staged(staged.path, name, check)
        if upload.versioned:
            with self._lock:
                self.versions.append(upload.versioned)
                self.versions, obsolete = prune(self.versions, self.keep)
            for name in obsolete:
                try:
                    self.store.delete(name)
                except Exception as e:  # the new copy is safe; an old one left behind is only untidy
                    self.log(f"could not delete old copy {name} at {self.store.display}: {e}", "warning")
        if upload.sidecar:
            doc = sidecar(upload.targets[-1], upload.kind, check, upload.info, self.versions_now())
            self.store.put_bytes(encode(doc), upload.sidecar)
        return check

    def versions_now(self) -> list[str]:
        """The versioned copies kept here (a copy, for state_dict on another thread)."""
        with self._lock:
            return list(self.versions)


def _folder_check(staged: StagedFile):
    from .checks import FileCheck

    files = staged.files()
    return FileCheck(sum(p.stat().st_size for p, _ in files), "")
