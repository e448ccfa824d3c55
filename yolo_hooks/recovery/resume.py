"""Go on with a training from its mirror, on a fresh machine: ``yolo-hooks resume DEST [hooks=hooks.yaml]``.

``best_mirror`` with ``last_every`` publishes resume sets (:mod:`yolo_hooks.mirror.resume_set`): last.pt and the
run's small files (``args.yaml``, ``results.csv``, fitness files, hooks' state) of one epoch, made visible by a
manifest that names each file's sha256. This takes the newest complete set, fetches it into a new local run folder
and checks every file against the manifest; a set that does not verify is skipped for the one before it, and the
files of two sets are never mixed. Then it points the checkpoint at the new folder and resumes there with the given
hooks: fitness.csv goes on with every epoch once, alerts, early stop and LR state go on where they were. A resume
that fails before the training starts leaves nothing behind: the set is fetched into a hidden folder next to
``dir`` that takes its name only when everything verified.

Usage:
    yolo-hooks resume s3://bucket/exp1 hooks=hooks.yaml [dir=runs/detect/exp1] [key=value ...]
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from pathlib import Path
from typing import Any, Callable

from ..mirror import resume_set
from ..mirror.base import Store
from ..mirror.checks import MirrorError
from ..mirror.resume_set import CHECKPOINT, SetName
from ..mirror.stores import make_store

NO_SET = "mirror last.pt with best_mirror's last_every"


def _store(dest: str, hooks: list) -> Store:
    """The mirror ``dest``: the ``best_mirror`` store of ``hooks`` with that URL (it carries the storage
    options, e.g. an endpoint), else one made from the URL alone."""
    from ..mirror.hook import BestMirror

    for hook in (h for h in hooks if isinstance(h, BestMirror)):
        for d in hook.stores:
            if getattr(d, "url", None) == dest.rstrip("/") or str(getattr(d, "root", "")) == dest.rstrip("/"):
                return d
    return make_store("resume", dest)


def local_name(member: str) -> str:
    """Where a member of a set goes in the run folder: the checkpoint in ``weights/``, ``run/...`` at the top."""
    return "weights/last.pt" if member == CHECKPOINT else member.removeprefix("run/")


def fetch_set(store: Store, name: SetName, folder: Path, doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fetch every member of set ``name`` into ``folder`` and verify each against the manifest (``doc``, when it
    was read already); returns it.

    Raises:
        MirrorError: a member is missing or differs from the manifest (size or sha256), or the set is not one
            epoch (last.pt of another epoch, a hook state of a later one).
        OSError, ValueError: the store failed, or the manifest cannot be read.
    """
    doc = doc if doc is not None else resume_set.read_manifest(store, name)
    for member, expected in resume_set.members_of(doc).items():
        target = folder / local_name(member)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            got = store.get_file(f"{name.folder}/{member}", target)
        except FileNotFoundError:
            raise MirrorError(f"{member} is missing") from None
        if got != expected:
            raise MirrorError(f"{member} does not match the manifest: {got.size} bytes sha256 {got.sha256[:12]}, "
                              f"expected {expected.size} bytes sha256 {expected.sha256[:12]}")
    check_one_epoch(folder, name.epoch)
    return doc


def check_one_epoch(folder: Path, epoch: int) -> None:
    """The fetched checkpoint holds ``epoch`` and carries its optimizer, and no hook state is of a later epoch."""
    import torch

    try:
        ckpt = torch.load(folder / "weights" / "last.pt", map_location="cpu", weights_only=False)
    except Exception as e:
        raise MirrorError(f"last.pt cannot be loaded: {type(e).__name__}: {e}") from None
    if not isinstance(ckpt, dict) or ckpt.get("epoch", -2) + 1 != epoch or ckpt.get("optimizer") is None:
        raise MirrorError(f"last.pt is not the resumable checkpoint of epoch {epoch}")
    for path in sorted((folder / "weights").glob("*.state.json")):
        try:
            state_epoch = json.loads(path.read_text(encoding="utf-8")).get("epoch")
        except (OSError, ValueError, AttributeError):
            raise MirrorError(f"{path.name} cannot be read") from None
        if isinstance(state_epoch, int) and state_epoch > epoch:
            raise MirrorError(f"{path.name} is of epoch {state_epoch}, after the set's epoch {epoch}")


def fetch_newest(store: Store, parent: Path, say: Callable[[str], None]) -> tuple[SetName, dict[str, Any], Path]:
    """Fetch the newest complete, verified set of ``store`` into a new hidden folder in ``parent``; an older set
    when a newer one does not verify (each refusal is said). Returns the set, its manifest and the folder.

    Raises:
        MirrorError: no set can be resumed (none, only the final one, or none that verifies).
    """
    sets = resume_set.complete_sets(store)
    if not sets:
        if store.exists("last.json"):
            raise MirrorError(f"{store.display} holds last.pt and last.json as yolo_hooks 0.1 mirrored them, without a "
                              f"manifest: their files may come from different epochs, so they are not resumed here; "
                              f"take last.pt and go on with `yolo train resume=True model=last.pt` (the hooks then "
                              f"start afresh), or mirror again with this version")
        raise MirrorError(f"{store.display} has no resume set: {NO_SET}")
    refused = []
    for name in sets:
        if name.final:
            refused.append(f"{name.folder}: the run's final last.pt (training was over), not resumable")
            continue
        folder = parent / f".resume-{uuid.uuid4().hex[:12]}"
        try:
            doc = resume_set.read_manifest(store, name)
            epochs = doc.get("epochs")
            if isinstance(epochs, int) and name.epoch >= epochs:
                refused.append(f"{name.folder}: every epoch ({name.epoch}/{epochs}) is done, nothing to resume")
                continue
            doc = fetch_set(store, name, folder, doc)
        except (OSError, MirrorError, ValueError, KeyError, TypeError) as e:
            shutil.rmtree(folder, ignore_errors=True)
            refused.append(f"{name.folder}: {e}")
            say(f"set {name.folder} at {store.display} cannot be used ({e}); trying the one before")
            continue
        return name, doc, folder
    raise MirrorError(f"no resume set of {store.display} can be resumed: " + "; ".join(refused))


def retarget(last: Path, run_dir: Path) -> None:
    """Make the checkpoint resume into ``run_dir`` (Ultralytics takes the run folder from its ``train_args``)."""
    import torch

    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    args = dict(ckpt.get("train_args") or {})
    args.update(save_dir=str(run_dir), project=str(run_dir.parent), name=run_dir.name)
    ckpt["train_args"] = args
    torch.save(ckpt, last)


def _default_dir(store: Store) -> Path:
    """``runs/resumed/<the run's name>``, the name read from the newest set's manifest."""
    name = "train"
    for found in resume_set.complete_sets(store)[:1]:
        name = str(resume_set.read_manifest(store, found).get("name") or name)
    return Path("runs") / "resumed" / name


def prepare(store: Store, run_dir: Path, say: Callable[[str], None]) -> tuple[SetName, dict[str, Any]]:
    """Fetch, verify and retarget the newest usable set, then give it the name ``run_dir`` (empty or missing).
    Anything made on the way (the hidden folder, ``run_dir``'s missing parents) is removed when it fails."""
    made = [p for p in [run_dir.parent, *run_dir.parent.parents] if not p.exists()]
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    folder = None
    try:
        name, doc, folder = fetch_newest(store, run_dir.parent, say)
        retarget(folder / "weights" / "last.pt", run_dir)
        if run_dir.exists():
            run_dir.rmdir()  # empty (checked): the fetched folder takes its name
        folder.rename(run_dir)
        return name, doc
    except BaseException:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        for path in made:  # deepest first
            try:
                path.rmdir()
            except OSError:
                break
        raise


def resume_command(argv: list[str]) -> int:
    """``yolo-hooks resume DEST [hooks=hooks.yaml] [dir=RUN_DIR] [key=value ...]``."""
    from ..cli import parse_pairs, say
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
        say(f"yolo-hooks: {e}", err=True)
        return 2
    dest = _store(positional[0], hooks)

    def note(text: str) -> None:
        say(f"yolo-hooks resume: {text}", err=True, secrets=dest.secrets())

    run_dir = Path(str(options.pop("dir"))) if options.get("dir") else None
    try:
        run_dir = (run_dir or _default_dir(dest)).resolve()
        if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
            note(f"{run_dir} is not empty; choose another dir=")
            return 2
        name, doc = prepare(dest, run_dir, note)
    except (OSError, MirrorError, ValueError) as e:
        note(str(e))
        return 1
    last = run_dir / "weights" / "last.pt"
    say(f"yolo-hooks resume: {name.folder} of {dest.display} verified ({len(doc['members'])} files, last.pt sha256 "
        f"{str(doc.get('sha256'))[:12]}): resuming after epoch {name.epoch}/{doc.get('epochs')} in {run_dir}",
        secrets=dest.secrets())
    from ultralytics import YOLO

    model = YOLO(str(last))
    if hooks_path:
        attach(model, str(hooks_path))
    model.train(resume=True, **options)
    return 0
