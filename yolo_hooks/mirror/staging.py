"""Private staged copies of a checkpoint, so an upload never reads a file that Ultralytics is rewriting.

A hard link is not a staged copy here: Ultralytics rewrites ``best.pt`` in place (``write_bytes`` truncates and
writes the same inode), so a link would change under the upload. The training thread only records the file's
identity (inode, size, mtime in ns: one ``stat``) right after Ultralytics wrote it; the staging thread copies it
at once (:meth:`StagedFile.materialize`; at once, because the next epoch or the optimizer strip rewrites it), unless
every store already dropped that version for a newer one. The copy is a reflink where the filesystem can (then the
private clone is hashed), else one read of the source hashed as it is written (:func:`~.checks.copy_hashed`); the
identity is checked before and after. If the file changed in between (the next best, or the final optimizer strip,
was already written), the staged copy is dropped as *superseded*, never uploaded torn; the newer version has its own
job. Hashing here, from the source's own bytes, is the first of the two sha256 passes a verified copy needs: every
store checks its copy, read back, against it, and a local store then takes the staged file without passing its
bytes through Python again (:meth:`~.base.Store.put_staged`: a hard link or a kernel copy).

One staged file may feed several stores; it is deleted when the last of them is done with it.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
import uuid
from pathlib import Path

from .checks import FileCheck, copy_hashed, file_check

STAGING = ".mirror_staging"  # in the run folder: the staged copies being uploaded (recover cleans up a killed run's)

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)


class Superseded(Exception):
    """The source changed after it was queued; a newer version exists and is queued on its own."""


def identity(path: Path) -> tuple[int, int, int]:
    """What tells one written version of a file from the next: inode, size, mtime in ns (one ``stat``)."""
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def file_identity(path: Path) -> tuple[int, int, int] | None:
    """:func:`identity` of a regular file, or None when ``path`` is missing or not a file (still one ``stat``)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


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


def stage_copy(src: Path, dst: Path) -> tuple[str, FileCheck | None]:
    """Copy ``src`` to ``dst`` as cheaply as the filesystem allows; returns how (``reflink``, ``copy`` or ``tree``)
    and the size and sha256 of the bytes copied (None for a folder: each of its files is hashed by its upload)."""
    if src.is_dir():
        shutil.copytree(src, dst)
        return "tree", None
    if reflink(src, dst):
        return "reflink", file_check(dst)  # the clone is private: mapping it is safe
    return "copy", copy_hashed(src, dst)


class StagedFile:
    """A private copy of one version of a source file, made on first use and shared by every store's job.

    Args:
        source: the file (or exported folder) to stage.
        staging_dir: where the copy goes (``save_dir/.mirror_staging``).
        refs: how many stores will use it; the last :meth:`release` deletes the copy.
        expected: the :func:`identity` recorded when the version was queued (None: take whatever is there).
    """

    def __init__(self, source: Path, staging_dir: Path, refs: int, expected: tuple | None = None):
        self.source = source
        self.staging_dir = staging_dir
        self.expected = expected
        self.path: Path | None = None
        self.method: str | None = None
        self._refs = refs
        self._check: FileCheck | None = None
        self._failure: BaseException | None = None
        self._lock = threading.Lock()  # refs and state only, never held during I/O: release() runs on the training thread
        self._copy_lock = threading.Lock()  # one copy (or hash) at a time

    def materialize(self) -> Path:
        """The staged copy, made now if no store made it yet (thread-safe; the copy is made once).

        Raises:
            Superseded: the source was rewritten before or while it was copied (a newer version is queued).
            OSError: the source could not be read or the staging folder not written.
        """
        with self._copy_lock:
            with self._lock:
                if self.path is not None:
                    return self.path
                if self._failure is not None:
                    raise self._failure
                if self._refs <= 0:
                    raise Superseded(f"{self.source.name}: no store needs this version any more")
            try:
                path, method, check = self._copy()
            except (Superseded, OSError) as e:
                with self._lock:
                    self._failure = e
                raise
            with self._lock:
                if self._refs > 0:
                    self.path, self.method, self._check = path, method, check
                    return path
            _remove(path)  # every consumer let go while it was being copied
            raise Superseded(f"{self.source.name}: no store needs this version any more")

    def _copy(self) -> tuple[Path, str, FileCheck | None]:
        source, expected = self.source, self.expected
        if expected is not None and file_identity(source) != expected:
            raise Superseded(f"{source.name} was rewritten before it could be copied")
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        path = self.staging_dir / f"{uuid.uuid4().hex[:8]}-{source.name}"
        try:
            method, check = stage_copy(source, path)
        except BaseException:
            _remove(path)
            raise
        if expected is not None and file_identity(source) != expected:
            _remove(path)
            raise Superseded(f"{source.name} was rewritten while it was being copied")
        return path, method, check

    @property
    def check(self) -> FileCheck:
        """Size and sha256 of the staged copy: hashed while it was staged (a file), else computed once here."""
        path = self.materialize()
        with self._copy_lock:
            with self._lock:
                if self._check is not None:
                    return self._check
            check = file_check(path)  # a private copy: mapping it is safe
            with self._lock:
                self._check = check
            return check

    def files(self) -> list[tuple[Path, str]]:
        """``(local path, relative name)`` of every file: one for a file, all files of an exported folder."""
        path = self.materialize()
        if path.is_file():
            return [(path, self.source.name)]
        return [(p, f"{self.source.name}/{p.relative_to(path).as_posix()}") for p in sorted(path.rglob("*")) if p.is_file()]

    def release(self) -> None:
        """One consumer is done (or skipped it); the last one deletes the staged copy, if one was made."""
        with self._lock:
            self._refs -= 1
            path = self.path if self._refs <= 0 else None
        if path is not None:
            _remove(path)
            try:
                os.rmdir(path.parent)  # only when empty
            except OSError:
                pass

    def __repr__(self) -> str:
        return f"StagedFile({self.source.name})"


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
