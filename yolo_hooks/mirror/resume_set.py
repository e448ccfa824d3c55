"""The resume set: ``last.pt`` and the run's small files of ONE epoch, published in a store as one set.

A store holds each set in a folder of its own, and the set becomes visible only when its manifest is written,
after every member was copied and verified::

    resume/epoch0005/last.pt
    resume/epoch0005/run/args.yaml, run/results.csv, run/fitness.csv, run/fitness.jsonl, run/weights/*.state.json
    resume/epoch0005.json          the manifest: epoch, run facts, and each member's size and sha256 (written last)

A set without its manifest is incomplete (the copy was cut off) and never read. A set is never rewritten in place
while its manifest exists: the manifest goes first. After a set is published, the newest :data:`KEPT` complete
sets stay and every older one (and every incomplete set older than the newest complete one) is removed, manifest
first. The stripped ``last.pt`` Ultralytics leaves after training is published as ``resume/epoch0006-final``: the
run's last weights, not resumable. ``yolo-hooks resume`` (:mod:`yolo_hooks.recovery.resume`) takes the newest
complete set whose members all verify, else the one before, and never mixes the files of two sets.

Examples:
    >>> SetName(5).folder, SetName(5).manifest, SetName(6, final=True).folder
    ('resume/epoch0005', 'resume/epoch0005.json', 'resume/epoch0006-final')
    >>> SetName.parse("epoch0006-final.json")
    SetName(epoch=6, final=True)
    >>> cut_results(b"epoch,time\\n1,2.0\\n2,4.0\\n3,6", 1)
    b'epoch,time\\n1,2.0\\n'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .base import Store
from .checks import FileCheck
from .sidecar import encode, sidecar
from .staging import StagedFile

FOLDER = "resume"
KEPT = 2  # complete sets kept per store: the newest, and one to fall back on if it is damaged
CHECKPOINT = "last.pt"  # the member that is the checkpoint; the run's files are under run/
_NAME = re.compile(r"epoch(\d+)(-final)?(\.json)?")


@dataclass(frozen=True, order=True)
class SetName:
    """Which set: the epoch its checkpoint completed (1-based), and whether it is the run's final, stripped one."""

    epoch: int
    final: bool = False

    @property
    def folder(self) -> str:
        return f"{FOLDER}/epoch{self.epoch:04d}{'-final' if self.final else ''}"

    @property
    def manifest(self) -> str:
        return f"{self.folder}.json"

    @classmethod
    def parse(cls, name: str) -> SetName | None:
        """The set a name in ``resume/`` belongs to (its folder or its manifest), or None."""
        match = _NAME.fullmatch(name)
        return cls(int(match.group(1)), bool(match.group(2))) if match else None

    def __str__(self) -> str:
        return f"epoch {self.epoch}" + (" (final)" if self.final else "")


def cut_results(data: bytes, epoch: int) -> bytes:
    """results.csv cut to its header and the complete rows of epochs ``1..epoch``: Ultralytics appends the next
    epoch's row on the training thread, so the file may already hold it when the set is taken (a resumed run would
    then have that epoch twice)."""
    lines = data.split(b"\n")
    kept = [lines[0] + b"\n"] if len(lines) > 1 else []
    for line in lines[1:-1]:  # the last piece has no newline: empty, or a row still being written
        try:
            row_epoch = int(float(line.split(b",", 1)[0].strip()))
        except ValueError:
            continue
        if row_epoch <= epoch:
            kept.append(line + b"\n")
    return b"".join(kept)


def manifest(name: SetName, checkpoint: FileCheck, members: dict[str, FileCheck], info: dict[str, Any],
             versions: list[str]) -> dict[str, Any]:
    """The manifest document of set ``name``: the checkpoint's sidecar fields, and every member's size and sha256."""
    doc = sidecar(f"{name.folder}/{CHECKPOINT}", "final" if name.final else "last", checkpoint, info, versions)
    doc.update(set=name.folder, epoch=name.epoch, final=name.final, resumable=not name.final,
               members={member: {"size": c.size, "sha256": c.sha256} for member, c in members.items()})
    return doc


def members_of(doc: dict[str, Any]) -> dict[str, FileCheck]:
    """``{member: FileCheck}`` of a manifest (raises ValueError for a manifest that does not name them properly)."""
    members = doc.get("members")
    if not isinstance(members, dict) or CHECKPOINT not in members:
        raise ValueError(f"the manifest does not list {CHECKPOINT}")
    out = {}
    for member, check in members.items():
        if not isinstance(check, dict) or ".." in member.split("/") or member.startswith("/"):
            raise ValueError(f"the manifest lists {member!r} oddly")
        out[member] = FileCheck(int(check["size"]), str(check["sha256"]))
    return out


def complete_sets(store: Store) -> list[SetName]:
    """The sets of ``store`` whose manifest is written, newest first (the final one before the epoch's own)."""
    names = [SetName.parse(n) for n in store.names(FOLDER) if n.endswith(".json")]
    return sorted((n for n in names if n is not None), reverse=True)


def obsolete(present: list[str], kept: int = KEPT) -> list[SetName]:
    """The sets to remove, given the names in ``resume/``: complete ones past the newest ``kept``, and incomplete
    ones older than the newest complete set (a copy cut off by a kill; the run has gone past it)."""
    complete = sorted({s for n in present if n.endswith(".json") and (s := SetName.parse(n))}, reverse=True)
    folders = {s for n in present if not n.endswith(".json") and (s := SetName.parse(n))}
    newest = complete[0] if complete else None
    stale = [s for s in folders - set(complete) if newest is not None and s < newest]
    return sorted(complete[kept:] + stale, reverse=True)


def remove(store: Store, name: SetName) -> None:
    """Remove a set: its manifest first (it is then incomplete), then its folder."""
    store.delete(name.manifest)
    store.delete_folder(name.folder)


def publish(store: Store, name: SetName, staged: StagedFile, files: list[tuple[str, bytes]], info: dict[str, Any],
            versions: list[str]) -> FileCheck:
    """Copy one set to ``store``, each member verified, then write its manifest; then remove obsolete sets.

    Runs on the store's upload thread. ``staged`` is the staged copy of last.pt; ``files`` the run's small files
    (``run/...`` names and their bytes, taken when the epoch's state was complete). Returns last.pt's check.
    """
    store.delete(name.manifest)  # a set being (re)written is incomplete until its new manifest is there
    checkpoint = store.put_staged(staged.path, f"{name.folder}/{CHECKPOINT}", staged.check)
    members = {CHECKPOINT: checkpoint}
    for member, data in files:
        members[member] = store.put_bytes(data, f"{name.folder}/{member}")
    store.put_bytes(encode(manifest(name, checkpoint, members, info, versions)), name.manifest)
    for old in obsolete(store.names(FOLDER)):
        if old != name:
            remove(store, old)
    return checkpoint


def read_manifest(store: Store, name: SetName) -> dict[str, Any]:
    """The manifest of set ``name``.

    Raises:
        FileNotFoundError: the set has no manifest (any more).
        ValueError: the manifest is not a JSON object that lists its members.
    """
    doc = json.loads(store.read_bytes(name.manifest).decode("utf-8"))
    if not isinstance(doc, dict):
        raise ValueError("the manifest is not a JSON object")
    members_of(doc)
    return doc
