"""Stores and folders for the best_mirror tests: real files, real servers, deliberately slow or broken."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from yolo_hooks.mirror.checks import FileCheck
from yolo_hooks.mirror.fsspec_url import FsspecStore
from yolo_hooks.mirror.local import LocalStore


class SlowStore(LocalStore):
    """A real local folder whose writes are throttled to ``seconds_per_mib`` per MiB written.

    The throttle sleeps (no busy wait, the GIL is released), like a slow network share would block in ``write``.
    """

    kernel_copies = False  # a staged copy's bytes go through _write_chunks too

    def __init__(self, root, seconds_per_mib: float = 0.05):
        super().__init__(root)
        self.seconds_per_mib = seconds_per_mib

    def _write_chunks(self, chunks, name):
        def slow():
            for chunk in chunks:
                time.sleep(self.seconds_per_mib * len(chunk) / (1 << 20))
                yield chunk

        super()._write_chunks(slow(), name)


def progress(path: Path) -> int:
    """The number a training wrote to ``path`` (its completed epochs), 0 before it wrote one."""
    try:
        return int(path.read_text() or 0)
    except (OSError, ValueError):
        return 0


class Lagging:
    """A store that holds every write of a last.pt until the training has gone ``lag`` epochs further than when the
    write began (it reads the completed epochs the training writes to ``progress``): a slow store that is always
    ``lag`` epochs behind with the resumable checkpoint. Other files (best.pt, sidecars, state files) go at once.
    When a last.pt is written, the training's progress at that moment is written to ``<progress>.last_written``."""

    progress_file: Path
    lag: int
    holding = False  # a last.pt write waits for the training to go on
    kernel_copies = False  # a staged copy's bytes go through _write_chunks too

    def _write_chunks(self, chunks, name):
        chunks = iter(chunks)
        first = next(chunks, b"")
        if "last.pt" not in name.rpartition("/")[2]:  # its temporary: .last.pt.tmp-...
            super()._write_chunks(itertools.chain([first], chunks), name)
            return
        start = progress(self.progress_file)
        self.holding = True
        while progress(self.progress_file) < start + self.lag:
            time.sleep(0.05)
        self.holding = False
        super()._write_chunks(itertools.chain([first], chunks), name)
        self.progress_file.with_suffix(".last_written").write_text(str(progress(self.progress_file)))


class LaggingStore(Lagging, LocalStore):
    def __init__(self, root, progress_file: Path, lag: int = 2):
        super().__init__(root)
        self.progress_file, self.lag = Path(progress_file), lag


class LaggingFsspecStore(Lagging, FsspecStore):
    def __init__(self, url: str, storage_options: dict, progress_file: Path, lag: int = 2):
        super().__init__(url, storage_options)
        self.progress_file, self.lag = Path(progress_file), lag


class FlakyStore(LocalStore):
    """Fails the first ``failures`` writes with ``error`` (like a full disk that gets cleaned up)."""

    kernel_copies = False  # a staged copy's bytes go through _write_chunks too

    def __init__(self, root, failures: int, error: OSError):
        super().__init__(root)
        self.failures, self.error, self.calls = failures, error, 0

    def _write_chunks(self, chunks, name):
        self.calls += 1
        if self.calls <= self.failures:
            with self._open_write(name) as out:  # a half-written temporary, as a real ENOSPC leaves
                out.write(b"partial")
            raise self.error
        super()._write_chunks(chunks, name)


class CorruptingStore(LocalStore):
    """Flips one byte of everything it stores: verification must catch it."""

    kernel_copies = False  # a staged copy's bytes go through _write_chunks too

    def _write_chunks(self, chunks, name):
        data = bytearray(b"".join(chunks))
        data[len(data) // 2] ^= 0xFF
        super()._write_chunks(iter([bytes(data)]), name)


def _writable(path: Path) -> bool:
    try:
        (path / ".probe").write_bytes(b"x")
    except OSError:
        return False
    (path / ".probe").unlink()
    return True


@contextlib.contextmanager
def read_only_dir(path: Path):
    """A folder nobody can write to: chmod for normal users, ``chattr +i`` for root (which chmod does not stop)."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o555)
    immutable = False
    if _writable(path) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
    try:
        if _writable(path):
            pytest.skip("cannot make a read-only folder here (root without chattr)")
        yield path
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        os.chmod(path, 0o755)


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in a store folder (there must be none)."""
    return sorted(p.name for p in folder.rglob(".*tmp-*")) if folder.exists() else []


def stored_check(store, name: str) -> FileCheck:
    """Size and sha256 of ``name`` as it lies in ``store``, read back through the filesystem itself."""
    if isinstance(store, LocalStore):
        data = (store.root / name).read_bytes()
    else:
        data = store.fs.cat(f"{store.url.split('://', 1)[-1]}/{name}")
    return FileCheck(len(data), hashlib.sha256(data).hexdigest())
