"""What a verified copy is (:class:`FileCheck`: size and sha256) and how it is measured, hashing in large chunks.

Examples:
    >>> file_check(Path("runs/detect/train/weights/best.pt"))  # doctest: +SKIP
    FileCheck(size=5468922, sha256='...')
"""

from __future__ import annotations

import hashlib
import mmap
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

# 1 MiB: few Python iterations per checkpoint (each C call - read, sha256, write - releases the GIL, and every
# re-acquisition may contend with the training thread), and a buffer that stays in the CPU's caches between the read,
# the hash and the write: with 8 MiB chunks, writing a 26.7 MB checkpoint cost 38 ms of CPU instead of 8 (measured,
# AMD EPYC: the cost jumps between 5 and 6 MiB, where the buffer falls out of the cache).
CHUNK = 1 << 20


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


def copy_hashed(source: Path, target: Path) -> FileCheck:
    """Copy ``source`` to a new file ``target`` and return the size and sha256 of the bytes copied, hashed as they
    pass (one read of the source, through one reused buffer). Never a memory map of ``source``: Ultralytics may
    truncate it meanwhile, and touching a mapped page past the new end kills the process (SIGBUS); a short read is
    caught by the caller, which compares the file's identity before and after."""
    with source.open("rb", buffering=0) as src, target.open("wb") as out:
        return copy_stream_hashed(src, out)


def copy_stream_hashed(src: BinaryIO, out: BinaryIO) -> FileCheck:
    """Write everything left in ``src`` to ``out``; the size and sha256 of the bytes copied, hashed as they pass."""
    digest, size = hashlib.sha256(), 0
    for chunk in read_chunks(src):
        digest.update(chunk)  # releases the GIL (large buffer), like the read and the write
        out.write(chunk)
        size += len(chunk)
    return FileCheck(size, digest.hexdigest())


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

