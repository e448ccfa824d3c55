"""Private snapshots of a checkpoint, so an upload never reads a file that Ultralytics is rewriting.

A hard link is not a snapshot here: Ultralytics rewrites ``best.pt`` in place (``write_bytes`` truncates and
writes the same inode), so a link would change under the upload. The copy itself is made *off* the training
thread (a 26 MB training checkpoint of yolo11n takes 20-200 ms to copy on a busy machine): the training thread
only records the file's identity (inode, size, mtime in ns) right after Ultralytics wrote it; the snapshot thread
copies it (reflink when the filesystem can, else ``shutil.copyfile``) and checks the identity before and after
the copy. If the file changed in between (the next best, or the final optimizer strip, was already written), the
snapshot is dropped as *superseded*, never uploaded torn; the newer version has its own job.

One staged file may feed several destinations; it is deleted when the last of them is done with it.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from pathlib import Path

from .destinations import FileCheck, file_check

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


class Superseded(Exception):
    """The source changed after it was queued; a newer version exists and is queued on its own."""


def identity(path: Path) -> tuple[int, int, int]:
    """What tells one written version of a file from the next: inode, size, mtime in ns (one ``stat``)."""
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def reflink(src: Path, dst: Path) -> bool:
    """Clone ``src`` to ``dst`` copy-on-write when the filesystem supports it; False (and no ``dst``) otherwise."""
    try:
        import fcntl
    except ImportError:  # Windows
        return False
    try:
        with src.open("rb") as fin, dst.open("wb") as fout:
            fcntl.ioctl(fout.fileno(), FICLONE, fin.fileno())
        return True
    except OSError:
        dst.unlink(missing_ok=True)
        return False


def snapshot_copy(src: Path, dst: Path) -> str:
    """Copy ``src`` to ``dst`` as fast as the filesystem allows; returns the method used (reflink|copy|tree)."""
    if src.is_dir():
        shutil.copytree(src, dst)
        return "tree"
    if reflink(src, dst):
        return "reflink"
    shutil.copyfile(src, dst)
    return "copy"


class StagedFile:
    """A private copy of a source file in the staging folder, shared by every destination's job.

    ``check`` (size + sha256) is computed lazily, on the first worker that needs it, never on the training thread.
    """

    def __init__(self, source: Path, path: Path, method: str, refs: int):
        self.source = source
        self.path = path
        self.method = method
        self._refs = refs
        self._check: FileCheck | None = None
        self._lock = threading.Lock()

    @classmethod
    def take(cls, source: Path, staging_dir: Path, refs: int, expected: tuple | None = None) -> StagedFile:
        """Snapshot ``source`` into ``staging_dir`` for ``refs`` consumers.

        Raises:
            Superseded: ``source`` no longer has (or changed away from) the ``expected`` identity.
        """
        if expected is not None and not source.is_dir() and identity(source) != expected:
            raise Superseded(f"{source.name} was rewritten before it could be copied")
        staging_dir.mkdir(parents=True, exist_ok=True)
        path = staging_dir / f"{uuid.uuid4().hex[:8]}-{source.name}"
        method = snapshot_copy(source, path)
        if expected is not None and not source.is_dir() and identity(source) != expected:
            path.unlink(missing_ok=True)
            raise Superseded(f"{source.name} was rewritten while it was being copied")
        return cls(source, path, method, refs)

    @property
    def check(self) -> FileCheck:
        with self._lock:
            if self._check is None:
                self._check = file_check(self.path)
            return self._check

    def files(self) -> list[tuple[Path, str]]:
        """``(local path, relative name)`` of every file: one for a file, all files of an exported folder."""
        if self.path.is_file():
            return [(self.path, self.source.name)]
        return [(p, f"{self.source.name}/{p.relative_to(self.path).as_posix()}") for p in sorted(self.path.rglob("*")) if p.is_file()]

    def release(self) -> None:
        """One consumer is done; the last one deletes the staged copy."""
        with self._lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            if self.path.is_dir():
                shutil.rmtree(self.path, ignore_errors=True)
            else:
                self.path.unlink(missing_ok=True)
            try:
                os.rmdir(self.path.parent)  # only when empty
            except OSError:
                pass

    def __repr__(self) -> str:
        return f"StagedFile({self.source.name})"
