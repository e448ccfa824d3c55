"""In-tree PEP 517 backend: setuptools, plus ``yolo_hooks.pth`` at the root of every wheel, editable ones included.

A ``.pth`` file only runs when it sits directly in site-packages, and setuptools has no declarative way to put a
file there (``data-files`` land in the data scheme). pytest-cov and coverage.py ship theirs through setup.py
command overrides, which do not reach PEP 660 editable wheels. This wrapper uses only setuptools' public PEP 517
functions and the wheel format: build the wheel, then add the file and its line in ``RECORD``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from pathlib import Path

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 (every hook we do not override is setuptools' own)

PTH = Path(__file__).resolve().parent.parent / "yolo_hooks.pth"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = _setuptools.build_wheel(wheel_directory, config_settings, metadata_directory)
    add_to_wheel(Path(wheel_directory) / name, PTH.name, PTH.read_bytes())
    return name


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    name = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    add_to_wheel(Path(wheel_directory) / name, PTH.name, PTH.read_bytes())
    return name


def add_to_wheel(wheel: Path, arcname: str, data: bytes) -> None:
    """Rewrite ``wheel`` with ``arcname`` added at its root and recorded (sha256, size) in its ``RECORD``."""
    with zipfile.ZipFile(wheel) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    record_name = next(info.filename for info, _ in entries if info.filename.endswith(".dist-info/RECORD"))
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as target:
        for info, content in entries:
            if info.filename == arcname:
                continue
            if info.filename == record_name:
                rows = [row for row in csv.reader(io.StringIO(content.decode())) if row and row[0] != arcname]
                rows.insert(len(rows) - 1, [arcname, f"sha256={digest}", str(len(data))])  # RECORD's own row last
                out = io.StringIO()
                csv.writer(out, lineterminator="\n").writerows(rows)
                content = out.getvalue().encode()
                target.writestr(arcname, data)
            target.writestr(info, content)
