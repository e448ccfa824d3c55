"""Any fsspec URL as a mirror store: write ``.<name>.tmp-<id>``, verify it, then ``fs.mv`` to the final key.

On object stores (S3, GCS, Azure) ``mv`` is a server-side copy plus delete; the final object appears in one piece
because a PUT/COPY of one object is atomic there. The final key's size is checked again after the move (in
:class:`~yolo_hooks.mirror.base.Store`). Credentials come from the backend's usual sources (environment,
profiles, instance metadata); extra fsspec options come per store as ``storage_options``.
"""

from __future__ import annotations

from typing import Any, BinaryIO

from ..core.redact import SECRET_KEY, redact_url
from .base import Store


class FsspecStore(Store):
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

    def names(self, folder: str = "") -> list[str]:
        self.fs.invalidate_cache()
        path = self._path(folder) if folder else (self._root or "")
        try:
            return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(path, detail=False))
        except (FileNotFoundError, NotImplementedError):
            return []

    def _walk(self) -> list[str]:
        self.fs.invalidate_cache()
        root = self._root.strip("/")
        try:
            found = self.fs.find(self._root or "")
        except (FileNotFoundError, NotImplementedError):
            return []
        return sorted(p.strip("/")[len(root):].lstrip("/") for p in found if p.strip("/").startswith(root))

    def delete_folder(self, folder: str) -> None:
        try:
            self.fs.rm(self._path(folder), recursive=True)
        except FileNotFoundError:
            pass

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
            if isinstance(value, str) and SECRET_KEY.search(str(key)) and not str(key).lower().endswith("url"):
                values.append(value)
        return values
