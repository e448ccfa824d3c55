"""What ``model.export()`` made: the entries next to its source that the export created or rewrote.

Ultralytics names an export after its source (``best.torchscript``, ``best_openvino_model/``...) and writes it next
to it; read the folder when the export starts (:func:`entries`) and again when it ends (:func:`outputs`).

Examples:
    >>> before = entries(Path("weights"), "best")  # doctest: +SKIP
    >>> outputs(Path("weights/best.pt"), before)  # doctest: +SKIP
    [PosixPath('weights/best.torchscript')]
"""

from __future__ import annotations

from pathlib import Path


def entries(folder: Path, stem: str) -> dict[str, int]:
    """Files and folders named ``stem*`` in ``folder`` (hidden ones aside) with their modification times (ns)."""
    out = {}
    try:
        for path in folder.iterdir():
            if path.name.startswith(stem) and not path.name.startswith("."):
                out[str(path)] = path.stat().st_mtime_ns
    except OSError:
        pass
    return out


def outputs(source: Path, before: dict[str, int]) -> list[Path]:
    """The entries next to ``source`` that are new or changed since ``before`` (newest first), ``source`` aside."""
    after = entries(source.parent, source.stem)
    changed = [(mtime, path) for path, mtime in after.items() if path != str(source) and before.get(path) != mtime]
    return [Path(path) for _, path in sorted(changed, reverse=True)]
