"""Cameras: the name of each source of a predict/track run, and the rule each camera gets.

A camera's name is what ``camera_names`` says for its source (or its stream index), else the source's own name: a
video's file name without extension (``gate.mp4`` -> ``gate``), the last part of a URL's path (never its
credentials), ``webcam0`` for device 0, the folder of an image (``images`` for arrays). The streams of a
``.streams`` file (or one stream URL) are ``stream0``, ``stream1``, ... in their order, unless ``camera_names``
names them: Ultralytics keeps only a mangled form of a stream's source (its ``/`` and ``:`` turned into ``_``), so a
``camera_names`` key is matched in that form too. Names are made safe for file names.

Examples:
    >>> camera_name("rtsp://admin:secret@10.0.0.5:554/streams/gate?tcp")
    'gate'
    >>> shown_source("rtsp://admin:secret@10.0.0.5:554/streams/gate?token=abc")
    'rtsp://10.0.0.5:554/streams/gate'
    >>> stream_cameras(["rtsp___10.0.0.5_554_gate", "rtsp___10.0.0.6_554_yard", "0"],
    ...                {"rtsp://10.0.0.5:554/gate": "gate", "2": "desk"})
    ['gate', 'stream1', 'desk']
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from .rules import Rule

UNSAFE = re.compile(r"[^\w.-]+")
ULTRALYTICS_MANGLED = re.compile("[|@#!¡·$€%&()=?¿^*;:,¨`><+]")  # ultralytics.utils.ops.clean_str's characters


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``_``, ``.`` and ``-`` turned into ``_`` (a file name part)."""
    return UNSAFE.sub("_", name).strip("._") or "camera"


def camera_name(source: Any, names: dict[str, str] | None = None) -> str:
    """The name of one video or URL source (see the module docstring)."""
    names = names or {}
    text = str(source)
    if text in names:
        return safe_name(names[text])
    if text.isdigit():
        return f"webcam{text}"
    if "://" in text:
        parts = urlsplit(text)
        segments = [s for s in parts.path.split("/") if s]
        return safe_name(PurePath(segments[-1]).stem if segments else (parts.hostname or "stream"))
    return safe_name(PurePath(text).stem)


def image_camera(path: Any, names: dict[str, str] | None = None) -> str:
    """The camera of images: what ``camera_names`` says for their folder, else the folder's name (``images`` for
    arrays, which Ultralytics names ``image0.jpg``)."""
    folder = PurePath(str(path)).parent
    if str(folder) in (names or {}):
        return safe_name(names[str(folder)])
    return safe_name(folder.name) if folder.name else "images"


def stream_cameras(sources: list[Any], names: dict[str, str] | None = None) -> list[str]:
    """The names of the streams of one run (Ultralytics' ``LoadStreams.sources``, mangled), in order."""
    names = names or {}
    mangled = {ULTRALYTICS_MANGLED.sub("_", key).replace(os.sep, "_"): name for key, name in names.items()}
    return [safe_name(names.get(str(i)) or mangled.get(str(source)) or f"stream{i}") for i, source in enumerate(sources)]


@dataclasses.dataclass
class CameraRules:
    """The rule as each camera sees it: limited to ``cameras`` (None: all), with its zones or line per camera when
    they were given as a mapping (a camera without one is not watched)."""

    rule: Rule
    cameras: tuple[str, ...] | None = None
    zones: dict[str, tuple] | None = None
    lines: dict[str, Any] | None = None
    _cache: dict[str, Rule | None] = dataclasses.field(default_factory=dict)

    def for_camera(self, camera: str) -> Rule | None:
        """The rule for ``camera``, or None when it does not watch it."""
        try:
            return self._cache[camera]
        except KeyError:
            pass
        rule: Rule | None = self.rule
        if self.cameras is not None and camera not in self.cameras:
            rule = None
        elif self.zones is not None:
            rule = dataclasses.replace(self.rule, zones=self.zones[camera]) if camera in self.zones else None
        elif self.lines is not None:
            rule = dataclasses.replace(self.rule, line=self.lines[camera]) if camera in self.lines else None
        self._cache[camera] = rule
        return rule

    def renamed(self, name: str) -> CameraRules:
        """The same with the rule named ``name`` (a hook takes its unique name when attached)."""
        return dataclasses.replace(self, rule=dataclasses.replace(self.rule, name=name), _cache={})


def shown_source(source: Any) -> str:
    """A source as records and messages show it: a URL without its credentials, query and fragment (a stream's
    password or token never reaches a file or a message); anything else as it is."""
    text = str(source)
    if "://" not in text:
        return text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"
