"""Cameras: the name of each source of a predict/track run, and the rule each camera gets.

A camera's name is what ``camera_names`` says for its source (or its stream index), else the source's own name: a
video's file name without extension (``gate.mp4`` -> ``gate``), the last part of a stream URL's path (never its
credentials), ``webcam0`` for device 0, the folder of an image (``images`` for arrays). Names are made safe for
file names, and two streams of one ``.streams`` file that would share a name get their index appended.

Examples:
    >>> camera_name("rtsp://admin:secret@10.0.0.5:554/streams/gate?tcp")
    'gate'
    >>> shown_source("rtsp://admin:secret@10.0.0.5:554/streams/gate?token=abc")
    'rtsp://10.0.0.5:554/streams/gate'
    >>> camera_names(["/videos/gate.mp4", "/backup/gate.mp4", "0"], {"2": "desk"})  # by stream index
    ['gate', 'gate_1', 'desk']
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePath
from typing import Any
from urllib.parse import urlsplit

from .rules import Rule

UNSAFE = re.compile(r"[^\w.-]+")


def safe_name(name: str) -> str:
    """``name`` with anything but letters, digits, ``_``, ``.`` and ``-`` turned into ``_`` (a file name part)."""
    return UNSAFE.sub("_", name).strip("._") or "camera"


def camera_name(source: Any, names: dict[str, str] | None = None, index: int | None = None) -> str:
    """The name of one source (see the module docstring)."""
    names = names or {}
    text = str(source)
    if text in names:
        return safe_name(names[text])
    if index is not None and str(index) in names:
        return safe_name(names[str(index)])
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


def camera_names(sources: list[Any], names: dict[str, str] | None = None) -> list[str]:
    """The names of the streams of one run, in order; a name already taken gets the stream's index appended."""
    out: list[str] = []
    for i, source in enumerate(sources):
        name = camera_name(source, names, i)
        out.append(f"{name}_{i}" if name in out else name)
    return out


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
