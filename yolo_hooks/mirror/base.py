"""The shared half of every mirror store: write to a temporary name, read it back and check it (size and
sha256) against the source, and only then rename it into place, so a reader never sees a half-written ``best.pt``.

A backend (:mod:`.local`, :mod:`.fsspec_url`) implements the primitives (open, rename, size, delete, list); the
copy, the verification and the clean-up of temporaries a killed process left behind live here once.

Examples:
    >>> dest = make_store("best_mirror", "/tmp/backup")  # doctest: +SKIP
    >>> dest.put_file(Path("runs/detect/train/weights/best.pt"), "best.pt")  # doctest: +SKIP
    FileCheck(size=5468922, sha256='...')
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ..core.run_info import process_alive
from .checks import CHUNK, FileCheck, MirrorError, copy_stream_hashed, stream_check

TMP_MARK = ".tmp-"


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
    return host == _HOST and pid != os.getpid() and not process_alive(pid)


class Store:
    """One place to mirror to. Subclasses implement the five primitive operations; the rest is shared.

    Attributes:
        display: how the store appears in logs and published events (fsspec URLs are redacted).
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
        """Make sure the store can be written (create its folder where that is safe); called before each job."""

    def names(self, folder: str = "") -> list[str]:
        """Names directly in ``folder`` of the store (files and folders; empty when it does not exist)."""
        return []

    def _walk(self) -> list[str]:
        """Every file of the store, as names relative to it (for cleaning up abandoned temporaries)."""
        return self.names()

    def delete_folder(self, folder: str) -> None:
        """Remove ``folder`` and everything in it, if it exists."""
        raise NotImplementedError

    def clean_abandoned(self) -> list[str]:
        """Delete temporaries that a killed process of this host left half-written, in any folder of the store;
        returns their names."""
        removed = []
        for name in self._walk():
            if TMP_MARK in name.rpartition("/")[2] and abandoned(name):
                self._discard(name)
                removed.append(name)
        return removed

    def secrets(self) -> list[str]:
        """Strings of this store that must never be logged (full URLs, keys in storage options)."""
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
            OSError: the store failed (missing, read-only, full, network); the temporary is removed.
        """
        digest, sent = hashlib.sha256(), [0]

        def chunks() -> Iterator[bytes]:  # fresh bytes per chunk: a backend may keep them (multipart buffers)
            with source.open("rb", buffering=0) as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)  # releases the GIL (large buffer), like the read and the write
                    sent[0] += len(chunk)
                    yield chunk

        return self._put(chunks(), name, expected, lambda: FileCheck(sent[0], digest.hexdigest()))

    def put_staged(self, staged: Path, name: str, expected: FileCheck) -> FileCheck:
        """Copy ``staged``, a private local file that nothing rewrites (a staged copy), to ``name`` through a
        verified temporary; ``expected`` is its check, hashed from the source's bytes as it was staged, and the copy
        read back from the store must match it. Here the bytes are sent as by :meth:`put_file`; a local folder takes
        them without passing them through Python (:meth:`LocalStore.put_staged`).
        """
        return self.put_file(staged, name, expected)

    def put_copy(self, existing: str, name: str, expected: FileCheck) -> bool:
        """Make ``name`` a copy of ``existing``, a file already verified in this store, without sending its
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
        """Copy ``src`` to ``dst`` inside the store; False when the backend has no such operation."""
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
        self._begin()
        tmp = temp_name(name)

        def fill() -> FileCheck:
            self._write_chunks(chunks, tmp)
            source = sent() if sent is not None else expected
            if expected is not None and source != expected:
                raise MirrorError(
                    f"the source of {name} changed while it was copied: read {source.size} bytes sha256 "
                    f"{source.sha256[:12]}, expected {expected.size} bytes sha256 {expected.sha256[:12]}"
                )
            got = self._read_back(tmp)  # read back from the store, not from our buffer
            if got != source:
                raise MirrorError(
                    f"verification failed for {name}: wrote {got.size} bytes sha256 {got.sha256[:12]}, "
                    f"source has {source.size} bytes sha256 {source.sha256[:12]}"
                )
            return source

        return self._commit(tmp, name, fill)

    def _begin(self) -> None:
        """Before a new file is written: the store can be written, and a killed earlier run's temporaries are gone
        (looked for once per process)."""
        self.prepare()
        if getattr(self, "_cleaned_in", None) != os.getpid():
            self._cleaned_in = os.getpid()
            self.clean_abandoned()

    def read_bytes(self, name: str) -> bytes:
        """The whole of ``name`` (a small file: a sidecar, a manifest).

        Raises:
            FileNotFoundError: there is no ``name``.
        """
        with self._open_read(name) as f:
            return f.read()

    def get_file(self, name: str, target: Path) -> FileCheck:
        """Copy ``name`` to the local file ``target``; returns the size and sha256 of what was read (hashed as it is
        written, in one pass)."""
        with self._open_read(name) as src, open(target, "wb") as out:
            return copy_stream_hashed(src, out)

    def read_check(self, name: str) -> FileCheck:
        """Size and sha256 of ``name`` as stored in the store (recovery verifies a copy it did not make)."""
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
