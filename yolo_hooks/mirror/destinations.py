"""Where mirrored files go: a local (or mounted) directory, or any fsspec URL, behind one small interface.

Every write goes to a temporary name in the destination, is read back and checked (size and sha256) against the
source, and only then is renamed into place, so a reader never sees a half-written ``best.pt``:

* local directory: ``os.replace`` of a temporary file in the same directory (atomic on POSIX and Windows);
* fsspec: write ``.<name>.tmp-<id>``, verify it, then ``fs.mv`` to the final key. On object stores (S3, GCS,
  Azure) ``mv`` is a server-side copy plus delete; the final object appears in one piece because a PUT/COPY of
  one object is atomic there. The final key's size is checked again after the move.

Credentials come from the backend's usual sources (environment, profiles, instance metadata); pass extra fsspec
options per destination as ``{"url": "s3://bucket/run", "storage_options": {"endpoint_url": ...}}``.

Examples:
    >>> dest = LocalDestination("/tmp/backup")  # doctest: +SKIP
    >>> dest.put_file(Path("runs/detect/train/weights/best.pt"), "best.pt")  # doctest: +SKIP
    FileCheck(size=5468922, sha256='...')
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from ..core.redact import redact_url

# 8 MiB: few Python iterations per checkpoint (each C call - read, sha256, write - releases the GIL, and every
# re-acquisition may contend with the training thread), still small enough to keep memory flat for multi-GB files.
CHUNK = 8 << 20
TMP_MARK = ".tmp-"


class MirrorError(Exception):
    """A copy that could not be made or did not verify (the message never contains credentials)."""


@dataclass(frozen=True)
class FileCheck:
    """What a verified copy is: its size in bytes and its sha256 hex digest."""

    size: int
    sha256: str


def file_check(path: Path) -> FileCheck:
    """Size and sha256 of a local file: one ``sha256`` call over a memory map, which releases the GIL throughout
    (a chunked loop re-takes the GIL after every read and every update, and each time may make the training
    thread wait a switch interval, 5 ms, for it)."""
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return FileCheck(0, hashlib.sha256().hexdigest())
        try:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                return FileCheck(len(mapped), hashlib.sha256(mapped).hexdigest())
        except (OSError, ValueError):  # a filesystem without mmap: read it in chunks
            return stream_check(path.open("rb", buffering=0))


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[memoryview]:
    """Everything left in ``stream`` as views of one reused buffer (use each before asking for the next)."""
    readinto = getattr(stream, "readinto", None)
    if readinto is None:
        yield from (memoryview(c) for c in iter(lambda: stream.read(size), b""))
        return
    buffer = bytearray(size)
    view = memoryview(buffer)
    while True:
        n = readinto(buffer)
        if not n:
            return
        yield view[:n]


def stream_check(stream: BinaryIO) -> FileCheck:
    """Size and sha256 of everything left in ``stream`` (which is closed afterwards)."""
    digest, size = hashlib.sha256(), 0
    with stream:
        for chunk in read_chunks(stream):
            digest.update(chunk)  # releases the GIL for large buffers
            size += len(chunk)
    return FileCheck(size, digest.hexdigest())


def temp_name(name: str) -> str:
    """A hidden, unique temporary name next to ``name``: ``.<name>.tmp-<host>-<pid>-<random>``.

    Host and pid say who writes it, so that a later process can remove what a killed one left half-written.
    """
    folder, _, base = name.rpartition("/")
    return f"{folder + '/' if folder else ''}.{base}{TMP_MARK}{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:12]}"


_HOST = socket.gethostname().replace("-", "_") or "host"


def abandoned(tmp: str) -> bool:
    """True for a temporary written by a process of this host that no longer exists (killed mid-copy)."""
    try:
        host, pid, _ = tmp.rsplit(TMP_MARK, 1)[1].rsplit("-", 2)
        pid = int(pid)
    except ValueError:
        return False
    if host != _HOST or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Destination:
    """One place to mirror to. Subclasses implement the five primitive operations; the rest is shared.

    Attributes:
        display: how the destination appears in logs and published events (fsspec URLs are redacted).
    """

    display: str = "?"

    # --- primitives ---------------------------------------------------------------------------------------------
    def _open_write(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def _open_read(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def _rename(self, src: str, dst: str) -> None:
        raise NotImplementedError

    def _size(self, name: str) -> int | None:
        raise NotImplementedError

    def delete(self, name: str) -> None:
        """Remove ``name`` if it exists."""
        raise NotImplementedError

    def prepare(self) -> None:
        """Make sure the destination can be written (create its folder where that is safe); called before each job."""

    def _list(self) -> list[str]:
        """Names directly in the destination (for cleaning up abandoned temporaries)."""
        return []

    def clean_abandoned(self) -> list[str]:
        """Delete temporaries that a killed process of this host left half-written; returns their names."""
        removed = []
        for name in self._list():
            if TMP_MARK in name and abandoned(name):
                self._discard(name)
                removed.append(name)
        return removed

    def secrets(self) -> list[str]:
        """Strings of this destination that must never be logged (full URLs, keys in storage options)."""
        return []

    # --- shared logic -------------------------------------------------------------------------------------------
    def _write_chunks(self, chunks: Iterator[bytes], name: str) -> None:
        with self._open_write(name) as out:
            for chunk in chunks:
                out.write(chunk)

    def put_file(self, source: Path, name: str, expected: FileCheck | None = None) -> FileCheck:
        """Copy local ``source`` to ``name`` through a verified temporary; returns the verified check.

        The source is read once: each chunk is hashed as it is written (``expected``, when given, is what that
        hash must come to: the source did not change since it was checked).

        Raises:
            MirrorError: the copy read back differs from the source (size or sha256), or the source changed.
            OSError: the destination failed (missing, read-only, full, network); the temporary is removed.
        """
        digest, sent = hashlib.sha256(), [0]

        def chunks() -> Iterator[bytes]:  # fresh bytes per chunk: a backend may keep them (multipart buffers)
            with source.open("rb", buffering=0) as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)  # releases the GIL (large buffer), like the read and the write
                    sent[0] += len(chunk)
                    yield chunk

        return self._put(chunks(), name, expected, lambda: FileCheck(sent[0], digest.hexdigest()))

    def put_copy(self, existing: str, name: str, expected: FileCheck) -> bool:
        """Make ``name`` a copy of ``existing``, a file already verified in this destination, without sending its
        bytes again (hard link in a folder, server-side copy in an object store); temporary, check, rename as in
        :meth:`put_file`. False when the backend cannot: then upload the file again with :meth:`put_file`.
        """
        tmp = temp_name(name)

        def fill() -> FileCheck | None:
            if not self._duplicate(existing, tmp):
                return None
            self._verify_duplicate(existing, tmp, expected)
            return expected

        return self._commit(tmp, name, fill) is not None

    def _commit(self, tmp: str, name: str, fill: Callable[[], FileCheck | None]) -> FileCheck | None:
        """``fill()`` the temporary and verify it (its check; None: nothing was made), rename it to ``name``, check
        the size it has there; a failure anywhere removes the temporary."""
        try:
            expected = fill()
            if expected is None:
                return None
            self._rename(tmp, name)
        except BaseException:
            self._discard(tmp)
            raise
        size = self._size(name)
        if size != expected.size:
            raise MirrorError(f"{name} has {size} bytes after the rename, expected {expected.size}")
        return expected

    def _duplicate(self, src: str, dst: str) -> bool:
        """Copy ``src`` to ``dst`` inside the destination; False when the backend has no such operation."""
        return False

    def _verify_duplicate(self, src: str, dst: str, expected: FileCheck) -> None:
        got = stream_check(self._open_read(dst))
        if got != expected:
            raise MirrorError(f"verification failed for the copy of {src}: {got.size} bytes sha256 {got.sha256[:12]}, "
                              f"expected {expected.size} bytes sha256 {expected.sha256[:12]}")

    def put_bytes(self, data: bytes, name: str) -> FileCheck:
        """Write ``data`` to ``name`` through a verified temporary (sidecars)."""
        expected = FileCheck(len(data), hashlib.sha256(data).hexdigest())
        return self._put(iter([data]), name, expected)

    def _put(self, chunks: Iterator[bytes], name: str, expected: FileCheck | None,
             sent: Callable[[], FileCheck] | None = None) -> FileCheck:
        """Write ``chunks`` to a temporary, check it, rename it to ``name``; returns the verified check.

        ``sent()`` is the check of the bytes ``chunks`` produced (hashed on the way); the read-back copy must match
        it, and it must match ``expected`` when that is given.
        """
        self.prepare()
        if getattr(self, "_cleaned_in", None) != os.getpid():  # once per process: a killed earlier run's leftovers
            self._cleaned_in = os.getpid()
            self.clean_abandoned()
        tmp = temp_name(name)

        def fill() -> FileCheck:
            self._write_chunks(chunks, tmp)
            source = sent() if sent is not None else expected
            if expected is not None and source != expected:
                raise MirrorError(
                    f"the source of {name} changed while it was copied: read {source.size} bytes sha256 "
                    f"{source.sha256[:12]}, expected {expected.size} bytes sha256 {expected.sha256[:12]}"
                )
            got = self._read_back(tmp)  # read back from the destination, not from our buffer
            if got != source:
                raise MirrorError(
                    f"verification failed for {name}: wrote {got.size} bytes sha256 {got.sha256[:12]}, "
                    f"source has {source.size} bytes sha256 {source.sha256[:12]}"
                )
            return source

        return self._commit(tmp, name, fill)

    def read_check(self, name: str) -> FileCheck:
        """Size and sha256 of ``name`` as stored in the destination (recovery verifies a copy it did not make)."""
        return self._read_back(name)

    def _read_back(self, name: str) -> FileCheck:
        return stream_check(self._open_read(name))

    def exists(self, name: str) -> bool:
        """True when ``name`` is present."""
        return self._size(name) is not None

    def _discard(self, tmp: str) -> None:
        try:
            self.delete(tmp)
        except Exception:  # the original error matters more; a leftover temp is hidden and recognisable
            pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.display})"


class LocalDestination(Destination):
    """A local or mounted directory. Its last path component is created when missing, never its parents: a
    missing parent usually means an unmounted share, and writing to the bare mount point would only look safe.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        self.display = str(self.root)

    def prepare(self) -> None:
        if self.root.is_dir():
            return
        if not self.root.parent.is_dir():
            raise FileNotFoundError(errno.ENOENT, "destination's parent folder is missing (not mounted?)", str(self.root.parent))
        self.root.mkdir(exist_ok=True)

    def _path(self, name: str) -> Path:
        return self.root / name

    def _list(self) -> list[str]:
        return sorted(os.listdir(self.root)) if self.root.is_dir() else []

    def _open_write(self, name: str) -> BinaryIO:
        path = self._path(name)
        if path.parent != self.root:  # a file of an exported folder
            path.parent.mkdir(parents=True, exist_ok=True)
        return _SyncedFile(path)

    def _open_read(self, name: str) -> BinaryIO:
        return self._path(name).open("rb")

    def _rename(self, src: str, dst: str) -> None:
        os.replace(self._path(src), self._path(dst))
        _fsync_dir(self.root)  # make the rename itself durable, not only the bytes

    def _size(self, name: str) -> int | None:
        try:
            return self._path(name).stat().st_size
        except FileNotFoundError:
            return None

    def _read_back(self, name: str) -> FileCheck:
        return file_check(self._path(name))

    def _duplicate(self, src: str, dst: str) -> bool:
        # A hard link: the second name of a verified file costs no write, no fsync and no hashing. Safe because
        # every name is only ever replaced by a rename, never rewritten in place.
        try:
            os.link(self._path(src), self._path(dst))
        except OSError as e:
            if e.errno in _NO_LINKS:
                return False
            raise
        return True

    def _verify_duplicate(self, src: str, dst: str, expected: FileCheck) -> None:
        a, b = self._path(src).stat(), self._path(dst).stat()
        if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) or b.st_size != expected.size:
            raise MirrorError(f"hard link {dst} is not {src} ({b.st_size} bytes, expected {expected.size})")

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)


# link(2) errors meaning "this filesystem has no hard links here" (FAT, some network shares): copy instead.
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.EXDEV, errno.ENOSYS}


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


class FsspecDestination(Destination):
    """Any fsspec URL (``s3://``, ``gs://``, ``az://``, ``sftp://``, ``memory://`` ...); needs the ``cloud`` extra.

    The filesystem object is created lazily (on the worker thread) so that the hook stays picklable.
    """

    def __init__(self, url: str, storage_options: dict[str, Any] | None = None):
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.display = redact_url(self.url)
        self._fs = None
        self._root = ""

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None}

    @property
    def fs(self):
        if self._fs is None:
            from fsspec.core import url_to_fs

            self._fs, self._root = url_to_fs(self.url, **self.storage_options)
            self._root = self._root.rstrip("/")
        return self._fs

    def _path(self, name: str) -> str:
        _ = self.fs  # connecting resolves self._root
        return f"{self._root}/{name}" if self._root else name

    def prepare(self) -> None:
        fs = self.fs
        if self._root and not fs.exists(self._root):
            try:
                fs.makedirs(self._root, exist_ok=True)  # a no-op "folder" on object stores
            except (FileExistsError, NotImplementedError):
                pass

    def _list(self) -> list[str]:
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(self._root or "", detail=False))
        except (FileNotFoundError, NotImplementedError):
            return []

    def _open_write(self, name: str) -> BinaryIO:
        return self.fs.open(self._path(name), "wb")

    def _open_read(self, name: str) -> BinaryIO:
        self.fs.invalidate_cache()
        return self.fs.open(self._path(name), "rb")

    def _rename(self, src: str, dst: str) -> None:
        self.fs.mv(self._path(src), self._path(dst))

    def _duplicate(self, src: str, dst: str) -> bool:
        try:
            self.fs.cp_file(self._path(src), self._path(dst))  # server-side on object stores
        except NotImplementedError:
            return False
        return True

    def _size(self, name: str) -> int | None:
        self.fs.invalidate_cache()
        try:
            return int(self.fs.info(self._path(name))["size"])
        except FileNotFoundError:
            return None

    def delete(self, name: str) -> None:
        try:
            self.fs.rm(self._path(name))
        except FileNotFoundError:
            pass

    def secrets(self) -> list[str]:
        values = [self.url]
        for key, value in self.storage_options.items():
            if isinstance(value, str) and any(w in key.lower() for w in ("key", "secret", "token", "password", "cred")):
                values.append(value)
        return values


FSSPEC_HINT = 'fsspec URLs need the cloud extra: pip install "yolo-hooks[cloud]"'
DEST_KEYS = ("url", "storage_options")


def make_destination(hook: str, value: Any) -> Destination:
    """A :class:`Destination` from a config value: a path, a URL, ``{url, storage_options}``, or a Destination.

    Raises:
        ConfigError: wrong shape, unknown key, or an fsspec URL without fsspec installed (with the pip line).
    """
    from ..core.errors import ConfigError

    if isinstance(value, Destination):
        return value
    options: dict[str, Any] = {}
    if isinstance(value, dict):
        for key in value:
            if key not in DEST_KEYS:
                raise ConfigError.unknown_key(hook, f"to.{key}", [f"to.{k}" for k in DEST_KEYS])
        options = value.get("storage_options") or {}
        if not isinstance(options, dict):
            raise ConfigError.bad_value(hook, "to.storage_options", options, "a mapping of fsspec options")
        value = value.get("url")
    if isinstance(value, Path):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError.bad_value(
            hook, "to", value, "a folder, an fsspec URL, or {url: ..., storage_options: {...}} (or a list of them)"
        )
    value = value.strip()
    if "://" not in value or value.startswith("file://"):
        if options:
            raise ConfigError.bad_value(hook, "to.storage_options", options, "used only with fsspec URLs")
        return LocalDestination(value.removeprefix("file://"))
    try:
        import fsspec
    except ImportError:
        raise ConfigError(f"{hook}: `to` {redact_url(value)} needs fsspec; {FSSPEC_HINT}") from None
    protocol = value.split("://", 1)[0]
    try:
        fsspec.get_filesystem_class(protocol)
    except (ImportError, ValueError) as e:
        raise ConfigError(f"{hook}: `to` {redact_url(value)}: no fsspec backend for {protocol}:// ({e})") from None
    return FsspecDestination(value, options)
