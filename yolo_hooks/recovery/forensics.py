"""What a person needs after a run died: what went wrong, where the weights are, and how to go on.

:func:`crash_facts` reads a trainer once, in ``teardown`` (the exception being propagated is still in
``sys.exc_info()``), and :func:`file_facts` rebuilds the same facts from a run folder after a SIGKILL. Both give a
plain dict (JSON-ready, secrets scrubbed) that the ``crash`` / ``interrupt`` / ``killed`` messages and
``fitness_summary.json`` carry.

Examples:
    >>> resume_command("runs/detect/train/weights/last.pt", resumable=True)
    'yolo-hooks train resume=True model=runs/detect/train/weights/last.pt hooks=<your hooks.yaml>'
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, Iterable

from ..core import run_info
from ..core.recorded import recorded_times
from ..core.redact import scrub
from ..core.run import run_duration, to_float

TRACEBACK_LINES = 12  # the last lines of the traceback: where it failed, not the whole Ultralytics call stack
FACTS_ATTR = "_yolo_hooks_crash_facts"  # where a trainer keeps its facts once read (one read per teardown)


def traceback_tail(error: BaseException | None, secrets: Iterable[str] = (), lines: int = TRACEBACK_LINES) -> list[str]:
    """The last ``lines`` lines of ``error``'s traceback, each scrubbed of ``secrets``."""
    if error is None:
        return []
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return [scrub(line, secrets) for line in text.rstrip().splitlines()[-lines:]]


def resume_command(last: str | Path | None, resumable: bool, mirrored_last: str | None = None,
                   run_dir: str | Path | None = None) -> str:
    """The exact command that goes on from where the run stopped (or finishes its end-of-run work)."""
    if last and resumable:
        return f"yolo-hooks train resume=True model={last} hooks=<your hooks.yaml>"
    if mirrored_last:
        return f"yolo-hooks resume {mirrored_last} hooks=<your hooks.yaml>"
    if run_dir:
        return f"yolo-hooks recover {run_dir} hooks=<your hooks.yaml>"
    return ""


def _mirrored(history: Iterable[Any]) -> dict[str, str]:
    """``{"best": "store/best.pt", "last": "store/resume/epoch0005/last.pt", "last_store": "store"}`` from the bus'
    ``mirror_done`` records (newest wins; ``yolo-hooks resume`` takes the store)."""
    out: dict[str, str] = {}
    for event in history:
        if getattr(event, "kind", None) != "mirror_done":
            continue
        data = event.data
        kind = "last" if data.get("kind") == "last" else "best" if data.get("kind") in {"best", "final"} else None
        if kind:
            store = str(data.get("store", "")).rstrip("/")
            out[kind] = f"{store}/{data.get('file', '')}"
            if kind == "last":
                out["last_store"] = store
    return out


def _resumable(path: Path) -> bool:
    """A last.pt that still carries its optimizer (Ultralytics strips it after the final epoch)."""
    if not path.is_file():
        return False
    try:
        import torch

        try:  # a memory map reads only what is looked at
            ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        except RuntimeError:
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        return ckpt.get("optimizer") is not None
    except Exception:  # unreadable: not something to resume from
        return False


def crash_facts(trainer: Any, history: Iterable[Any] = (), secrets: Iterable[str] = ()) -> dict[str, Any]:
    """Forensics of a run ending in ``teardown``: call it there, while the exception is still being propagated.

    Read once per trainer; later calls (other hooks' teardown) get the same dict.
    """
    cached = trainer.__dict__.get(FACTS_ATTR)
    if cached is not None:
        return cached
    _, error, _ = sys.exc_info()
    save_dir = Path(getattr(trainer, "save_dir", "") or ".")
    last = Path(getattr(trainer, "last", save_dir / "weights" / "last.pt"))
    best = Path(getattr(trainer, "best", save_dir / "weights" / "best.pt"))
    completed = max(recorded_times(save_dir), default=None)  # results.csv has a row per completed epoch
    stopper = getattr(trainer, "stopper", None)
    best_fitness = getattr(trainer, "best_fitness", None)
    mirrored = _mirrored(history)
    resumable = _resumable(last)
    facts = {
        "exc_type": type(error).__name__ if error is not None else None,
        "message": scrub(str(error), secrets) if error is not None else None,
        "traceback": traceback_tail(error, secrets),
        "host": run_info.HOST,
        **run_info.versions(),
        "device": str(getattr(trainer, "device", "") or getattr(getattr(trainer, "args", None), "device", "") or ""),
        "duration": run_duration(trainer),
        "last_completed_epoch": completed,
        "epochs": getattr(trainer, "epochs", None),
        "best_fitness": to_float(best_fitness),
        "best_epoch": getattr(stopper, "best_epoch", None) if best_fitness is not None else None,
        "nan_recoveries": int(getattr(trainer, "nan_recovery_attempts", 0) or 0),
        "last_pt": str(last) if last.is_file() else None,
        "best_pt": str(best) if best.is_file() else None,
        "mirrored_last": mirrored.get("last"),
        "mirrored_best": mirrored.get("best"),
        "resumable": resumable,
        "resume": resume_command(last, resumable, mirrored.get("last_store"), save_dir),
    }
    trainer.__dict__[FACTS_ATTR] = facts
    return facts




def fact_lines(facts: dict[str, Any]) -> dict[str, str]:
    """The facts as short labelled lines for a message (empty ones left out)."""
    lines = {
        "Last completed epoch": f"{facts.get('last_completed_epoch')}/{facts.get('epochs')}"
        if facts.get("last_completed_epoch") is not None else "",
        "Best": f"{facts['best_fitness']:.4f} (epoch {facts.get('best_epoch')})"
        if isinstance(facts.get("best_fitness"), float) else "",
        "NaN recoveries": f"{facts['nan_recoveries']} of 3" if facts.get("nan_recoveries") else "",
        "last.pt": facts.get("last_pt") or "",
        "best.pt": facts.get("best_pt") or "",
        "Mirrored last.pt": facts.get("mirrored_last") or "",
        "Mirrored best.pt": facts.get("mirrored_best") or "",
        "Versions": " ".join(f"{k} {facts[k]}" for k in ("python", "torch", "ultralytics") if facts.get(k)),
        "Device": facts.get("device") or "",
        "Resume": facts.get("resume") or "",
    }
    return {k: v for k, v in lines.items() if v}
