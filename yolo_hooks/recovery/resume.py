"""Go on with a training from its mirror, on a fresh machine: ``yolo-hooks resume DEST [hooks=hooks.yaml]``.

``best_mirror`` with ``last_every`` keeps a verified ``last.pt`` in the mirror, with ``last.json`` (its sha256) and
the run's small files under ``run/`` (``args.yaml``, ``results.csv``, fitness files, hooks' state). This fetches
them into a new local run folder, checks last.pt against its sha256, points the checkpoint at the new folder and
resumes there with the given hooks: fitness.csv goes on with every epoch once, alerts, early stop and LR state
go on where they were.

Usage:
    yolo-hooks resume s3://bucket/exp1 hooks=hooks.yaml [dir=runs/detect/exp1] [key=value ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..mirror.base import Store
from ..mirror.checks import FileCheck, MirrorError, stream_check
from ..mirror.stores import make_store


def _store(dest: str, hooks: list) -> Store:
    """The mirror ``dest``: the ``best_mirror`` store of ``hooks`` with that URL (it carries the storage
    options, e.g. an endpoint), else one made from the URL alone."""
    from ..mirror.hook import BestMirror

    for hook in (h for h in hooks if isinstance(h, BestMirror)):
        for d in hook.stores:
            if getattr(d, "url", None) == dest.rstrip("/") or str(getattr(d, "root", "")) == dest.rstrip("/"):
                return d
    return make_store("resume", dest)


def _read(dest: Store, name: str) -> bytes:
    with dest._open_read(name) as f:
        return f.read()


def fetch(dest: Store, run_dir: Path) -> dict[str, Any]:
    """Copy the newest verified last.pt and the run files into ``run_dir``; returns ``last.json``.

    Raises:
        MirrorError: no last.json, or last.pt does not match its sha256.
    """
    try:
        doc = json.loads(_read(dest, "last.json"))
    except FileNotFoundError:
        raise MirrorError(f"{dest.display} has no last.json: mirror last.pt with best_mirror's last_every") from None
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    last = weights / "last.pt"
    with dest._open_read("last.pt") as src, open(last, "wb") as out:
        for chunk in iter(lambda: src.read(8 << 20), b""):
            out.write(chunk)
    got = stream_check(open(last, "rb"))
    if got != FileCheck(doc.get("size"), doc.get("sha256")):
        last.unlink(missing_ok=True)
        raise MirrorError(f"last.pt from {dest.display} does not match last.json: {got.size} bytes sha256 "
                          f"{got.sha256[:12]}, expected {doc.get('size')} bytes sha256 {str(doc.get('sha256'))[:12]}")
    for name in doc.get("run_files") or []:
        target = run_dir / name.removeprefix("run/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_read(dest, name))
    return doc


def retarget(last: Path, run_dir: Path) -> None:
    """Make the checkpoint resume into ``run_dir`` (Ultralytics takes the run folder from its ``train_args``)."""
    import torch

    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    args = dict(ckpt.get("train_args") or {})
    args.update(save_dir=str(run_dir), project=str(run_dir.parent), name=run_dir.name)
    ckpt["train_args"] = args
    torch.save(ckpt, last)


def resume_command(argv: list[str]) -> int:
    """``yolo-hooks resume DEST [hooks=hooks.yaml] [dir=RUN_DIR] [key=value ...]``."""
    from ..cli import parse_pairs
    from ..core import ConfigError, attach
    from .cli import _hooks

    positional = [a for a in argv if "=" not in a]
    if len(positional) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    options = parse_pairs([a for a in argv if "=" in a])
    hooks_path = options.pop("hooks", None)
    try:
        hooks = _hooks(hooks_path)
    except ConfigError as e:
        print(f"yolo-hooks: {e}", file=sys.stderr)
        return 2
    dest = _store(positional[0], hooks)
    run_dir = Path(str(options.pop("dir", ""))) if options.get("dir") else None
    try:
        if run_dir is None:  # the run's own name, under ./runs/<task>/
            args = json.loads(_read(dest, "last.json"))
            run_dir = Path("runs") / "resumed" / str(args.get("name") or "train")
        if run_dir.exists() and any(run_dir.iterdir()):
            print(f"yolo-hooks resume: {run_dir} is not empty; choose another dir=", file=sys.stderr)
            return 2
        doc = fetch(dest, run_dir.resolve())
    except (OSError, MirrorError, ValueError) as e:
        from ..core.redact import scrub

        print(scrub(f"yolo-hooks resume: {e}", dest.secrets()), file=sys.stderr)
        return 1
    run_dir = run_dir.resolve()
    last = run_dir / "weights" / "last.pt"
    retarget(last, run_dir)
    print(f"yolo-hooks resume: last.pt of epoch {doc.get('epoch')} from {dest.display} verified "
          f"(sha256 {str(doc.get('sha256'))[:12]}); resuming in {run_dir}")
    from ultralytics import YOLO

    model = YOLO(str(last))
    if hooks_path:
        attach(model, str(hooks_path))
    model.train(resume=True, **options)
    return 0
