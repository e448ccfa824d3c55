"""A local or mounted folder as a mirror store: ``os.replace`` of an fsync'ed temporary in the same folder
(atomic on POSIX and Windows), then an fsync of the folder; a second name of a verified file is a hard link, and
a staged copy's bytes reach the temporary without passing through Python (a hard link, else a kernel copy)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import BinaryIO

from .base import Store, temp_name
from .checks import FileCheck, MirrorError, file_check


class LocalStore(Store):
    """A local or mounted directory. Its last path component is created when missing, never its parents: a
    missing parent usually means an unmounted share, and writing to the bare mount point would only look safe.
    """

    # False: every byte goes through _write_chunks, even a staged copy's (test doubles that throttle or break writes)
    kernel_copies = True

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.display = str(self.root)

    def prepare(self) -> None:
        if self.root.is_dir():
            return
        if not self.root.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, "store's parent folder is missing (not mounted?)", str(self.root.parent))
        self.root.mkdir(exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / name

    def names(self, folder: str = "") -> list[str]:
        try:
            return sorted(os.listdir(self._path(folder)))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def _walk(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def delete_folder(self, folder: str) -> None:
        shutil.rmtree(self._path(folder), ignore_errors=True)

    def _open_write(self, name: str) -> BinaryIO:
        path = self._path(name)
        if path.parent != self.root:  # a file of an exported folder
            path.parent.mkdir(parents=True, exist_ok=True)
        return _SyncedFile(path)

    def _open_read(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def _rename(self, src: str, dst: str) -> None:
        os.replace(self._path(src), self._path(dst))
        _fsync_dir(self._path(dst).parent)  # make the rename itself durable, not only the bytes

    def _size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None

    def _read_back(self, name: str) -> FileCheck:
        return file_check(self._path(name))

    def put_staged(self, staged: Path, name: str, expected: FileCheck) -> FileCheck:
        """The temporary is a hard link to ``staged`` where both are on one filesystem (a staged copy is never
        rewritten, only deleted: the link is as good as a copy, and costs no write), else a kernel copy
        (``sendfile``: no bytes through Python); then fsync, read back and compare with ``expected`` (hashed from the
        source's bytes as it was staged), rename. That is the second of the two sha256 passes and no more: a streamed
        copy would read, hash and write the bytes once again."""
        if not self.kernel_copies:
            return super().put_staged(staged, name, expected)
        self._begin()
        tmp = temp_name(name)

        def fill() -> FileCheck:
            path = self._path(tmp)
            if path.parent != self.root:  # a resume set's folder
                path.parent.mkdir(parents=True, exist_ok=True)
            if not _link(staged, path):
                shutil.copyfile(staged, path)
            _fsync_file(path)
            got = file_check(path)  # read back from the store: what the source's bytes must come to
            if got != expected:
                raise MirrorError(f"verification failed for {name}: wrote {got.size} bytes sha256 {got.sha256[:12]}, "
                                  f"source has {expected.size} bytes sha256 {expected.sha256[:12]}")
            return expected

        return self._commit(tmp, name, fill)

    def _duplicate(self, src: str, dst: str) -> bool:
        # A hard link: the second name of a verified file costs no write, no fsync and no hashing. Safe because
        # every name is only ever replaced by a rename, never rewritten in place.
        return _link(self._path(src), self._path(dst))

    def _verify_duplicate(self, src: str, dst: str, expected: FileCheck) -> None:
        a, b = self._path(src).stat(), self._path(dst).stat()
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) or b.st_size != expected.size:
            raise MirrorError(f"hard link {dst} is not {src} ({b.st_size} bytes, expected {expected.size})")

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


# link(2) errors meaning "this filesystem has no hard links here" (FAT, some network shares): copy instead.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS}


def _link(src: Path, dst: Path) -> bool:
    """Hard-link ``src`` as ``dst``; False where the filesystem has none for them (then copy instead)."""
    try:
        os.link(src, dst)
    except OSError as e:
        if e.errno in _NO_LINKS:
            return False
        raise
    return True


def _fsync_file(path: Path) -> None:
    """Make the bytes of ``path`` durable (opened for writing: Windows flushes only such a handle)."""
    with path.open("rb+", buffering=0) as f:
        os.fsync(f.fileno())


class _SyncedFile:
    """A file opened for writing that is flushed and fsync'ed before close (the copy must survive a power cut)."""

    def __init__(self, path: Path):
        self._f = path.open("wb")

    def write(self, data: bytes) -> int:
        return self._f.write(data)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *_):
        try:
            if exc_type is None:
                self._f.flush()
                os.fsync(self._f.fileno())
        finally:
            self._f.close()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # not supported (e.g. Windows); the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

