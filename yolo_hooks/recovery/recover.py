"""Finish what a killed run left undone, from the files it left on disk.

A run killed by SIGKILL (OOM killer, preempted VM, Colab disconnect) never reaches ``teardown``: no summary, no
``train_end`` / ``crash`` message, the final best.pt never mirrored, staged copies left in ``.mirror_staging`` and
half-written ``.tmp-`` files in the mirror. One killed during its end-of-run work (its marker says ``ending``: the
outcome is known, the uploads and deliveries were under way) lacks part of the same. :func:`recover` does each of
these once, from the run folder:

* ``fitness_summary.json`` with status ``killed`` and the last epoch seen (from ``fitness.jsonl`` / ``results.csv``),
  unless the run wrote its own summary before it died;
* the ``killed`` message, with an id derived from the run's identity (so it is never sent twice): delivered with
  the given hooks, or written to the run's outbox for ``yolo-hooks outbox replay``;
* ``weights/best.pt`` mirrored to every ``best_mirror`` store whose ``best.json`` has another sha256, and a
  ``mirror_done`` announced per store that holds it verified (to the given hooks' destinations that take it, with
  the id the run would have given it);
* staged copies and abandoned temporaries (in any folder of a store) removed; messages left in flight moved to the
  outbox.

What was done is recorded in the run's marker (:mod:`yolo_hooks.core.marker`) after each step: running it again
does nothing, and a recovery that is itself killed is taken up where it stopped.
It runs from ``yolo-hooks recover RUN_DIR [hooks=hooks.yaml]``, from ``yolo-hooks outbox`` and when a later run
starts in the same folder (with that run's hooks).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..core import marker as run_marker
from ..core.redact import scrub
from ..mirror.staging import STAGING
from ..notify.message import message_id
from .killed import killed_facts, write_summary


@dataclass
class Report:
    """What one recovery did (``done``) and what it could not do (``skipped``, with the reason)."""

    run_dir: Path
    killed: bool = False
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI and the log."""
        if not self.killed or not (self.done or self.skipped):
            return [f"{self.run_dir}: not a killed run (or already recovered): nothing to do"]
        return [f"{self.run_dir}: {line}" for line in self.done] + [f"{self.run_dir}: not done: {s}" for s in self.skipped]


# --- the steps ----------------------------------------------------------------------------------------------------
def clean_staging(run_dir: Path) -> str | None:
    """Remove the staged copies a killed process left in ``.mirror_staging``."""
    staging = run_dir / STAGING
    if not staging.is_dir():
        return None
    count = sum(1 for _ in staging.iterdir())
    shutil.rmtree(staging, ignore_errors=True)
    return f"removed {count} staged {'copy' if count == 1 else 'copies'} left in {STAGING}"


def mirror_best(run_dir: Path, mirror, facts: dict[str, Any], run_id: str | None) -> tuple[list[str], list]:
    """Make every store of ``mirror`` (a BestMirror) hold ``weights/best.pt``, verified by sha256; returns what was
    done and the ``mirror_done`` events to announce, one per store that holds it (with the id the run would have
    given them: a second recovery announces the same)."""
    from ..core.bus import Published, event_id
    from ..core.run_info import run_info
    from ..mirror.checks import file_check
    from ..mirror.sidecar import encode, sidecar
    from ..mirror.upload import Result
    from ..mirror.workers import describe

    best = run_dir / "weights" / "best.pt"
    out, events = [], []
    check = file_check(best) if best.is_file() else None
    epoch = facts.get("best_epoch") or facts.get("last_completed_epoch")
    for dest in mirror.stores:
        removed = dest.clean_abandoned()
        if removed:
            out.append(f"removed {len(removed)} half-written temporary file(s) from {dest.display}")
        if check is None:
            continue
        sidecar_doc = _read_sidecar(dest)
        if sidecar_doc.get("sha256") == check.sha256 and dest.exists("best.pt") and dest.read_check("best.pt") == check:
            out.append(f"best.pt at {dest.display} already verified (sha256 {check.sha256[:12]})")
        else:
            dest.put_file(best, "best.pt", check)
            info = {"epoch": facts.get("best_epoch"), "fitness": facts.get("best_fitness"), "recovered": True,
                    "source": str(best), **run_info(type("Run", (), {"save_dir": run_dir})())}
            dest.put_bytes(encode(sidecar("best.pt", "final", check, info, sidecar_doc.get("versions") or [])),
                           "best.json")
            out.append(f"best.pt mirrored to {dest.display}: {check.size / 1e6:.1f} MB verified sha256 "
                       f"{check.sha256[:12]}")
        report = describe(Result(ok=True, kind="final", final=True, store=dest.display, file="best.pt", epoch=epoch,
                                 fitness=facts.get("best_fitness"), sha256=check.sha256, size=check.size))
        data = {**report.data, "recovered": True}
        events.append(Published(report.kind, mirror.name, report.severity, f"{report.text} (by recovery)", data,
                                id=event_id(run_id, mirror.name, report.kind, data)))
    return out, events


def _read_sidecar(dest) -> dict[str, Any]:
    import json

    try:
        with dest._open_read("best.json") as f:
            doc = json.loads(f.read().decode("utf-8"))
    except Exception:  # missing or unreadable: the copy is not known to be verified
        return {}
    return doc if isinstance(doc, dict) else {}


def _run(run_dir: Path, marker: dict[str, Any]) -> dict[str, str]:
    """The run a recovery's messages are about (its ``run_id`` makes their ids stable)."""
    run = {"name": marker.get("name") or run_dir.name, "save_dir": str(run_dir), "host": marker.get("host") or "",
           "run_id": marker.get("run_id") or ""}
    return {k: v for k, v in run.items() if v}


def killed_message(run_dir: Path, marker: dict[str, Any], facts: dict[str, Any]):
    """The ``killed`` message, with its stable id."""
    from ..notify.compose import killed_message as build

    run = _run(run_dir, marker)
    run.pop("run_id", None)
    return build(facts, run, message_id({"run_id": marker["run_id"]}, "killed"))


# --- the whole recovery -------------------------------------------------------------------------------------------
def recover(run_dir: str | Path, hooks: list | None = None, *, send=None, force: bool = False) -> Report:
    """Finish the work a killed run left undone in ``run_dir``; a no-op for a live, finished or recovered run.

    Args:
        run_dir: the run folder (``runs/detect/train``).
        hooks: hook objects (from hooks.yaml, or the hooks of a later run in the same folder): their ``best_mirror``
            destinations get best.pt, their ``notify`` destinations the message. Without them the message goes to
            the outbox of every destination the run had (``yolo-hooks outbox replay`` sends it).
        send: ``send(message, notify_hooks) -> str`` that delivers the message (default: deliver now, the rest to the
            outbox); a later run passes one that hands it to its own background delivery.
        force: the marker names another host: recover anyway (the folder was copied from a dead machine).
    """
    from ..notify import journal

    run_dir = Path(run_dir)
    report = Report(run_dir)
    marker = run_marker.read(run_dir)
    if not run_marker.is_killed(marker, force=force):
        return report
    report.killed = True
    done = marker.setdefault("recovery", {})
    marker["status"] = "killed"
    facts = killed_facts(run_dir, marker)
    hooks = list(hooks or [])
    from ..mirror.hook import BestMirror
    from ..notify.hook import Notify

    notifiers = [h for h in hooks if isinstance(h, Notify)]
    mirrors = [h for h in hooks if isinstance(h, BestMirror)]
    run_marker.write(run_dir, marker)  # `killed` from now on: a recovery that is itself killed is taken up again
    if "summary" not in done:
        report.done.append(write_summary(run_dir, marker, facts))
        done["summary"] = time.time()
        run_marker.write(run_dir, marker)
    moved = journal.recover(run_dir)
    if moved:
        report.done.append(f"{moved} message(s) left in flight moved to the outbox")
    staged = clean_staging(run_dir)
    if staged:
        report.done.append(staged)
    for mirror in mirrors:
        key = f"mirror:{mirror.name}"
        if key in done:
            continue
        try:
            lines, events = mirror_best(run_dir, mirror, facts, marker.get("run_id"))
        except Exception as e:  # the store is down: the next recovery tries again
            report.skipped.append(scrub(f"mirroring best.pt with {mirror.name} failed: {type(e).__name__}: {e}",
                                        mirror.secrets()))
            continue
        report.done.extend(lines)
        wanted = [e for e in events if any(h.wants(e.kind, e.severity) for h in notifiers)]
        if wanted:  # what the run would have published: the copies recovery made (or found) and verified
            from ..notify.compose import published_message

            for event in wanted:
                report.done.append((send or _deliver)(published_message(event, _run(run_dir, marker)), notifiers,
                                                      run_dir))
        done[key] = time.time()
        run_marker.write(run_dir, marker)
    if not mirrors and marker.get("mirrors") and (run_dir / "weights" / "best.pt").is_file():
        report.skipped.append("best.pt not checked against the mirror: pass hooks=hooks.yaml")
    if "message" not in done:
        message = killed_message(run_dir, marker, facts)
        if notifiers:
            report.done.append((send or _deliver)(message, notifiers, run_dir))
        else:
            report.done.append(_to_outbox(message, marker, run_dir))
        done["message"] = message.id
    marker["status"] = "killed" if report.skipped else "recovered"  # `killed`: the next recovery tries the rest
    run_marker.write(run_dir, marker)
    return report


def _deliver(message, notifiers: list, run_dir: Path) -> str:
    """Deliver now (CLI); what fails goes to the run's outbox, with the same id."""
    from ..notify import outbox

    results = []
    for hook in notifiers:
        if not hook.wants(message.event, message.severity):
            continue
        hook.set_run(SimpleNamespace(save_dir=run_dir, args=None))  # the killed run's folder holds its outbox
        delivery = hook.delivery
        result = delivery.send(message, report=False)
        if result.ok:
            results.append(f"{hook.name}: delivered")
        else:
            outbox.append(delivery.outbox, [outbox.make_record(message, delivery.destination, f"recovery: {result.error}")],
                          hook.secrets())
            results.append(scrub(f"{hook.name}: kept in the outbox ({result.error})", hook.secrets()))
        delivery.close()
    return f"{message.event} message {message.id[:12]}: " + (", ".join(results) or
                                                               f"no destination takes `{message.event}`")


def _to_outbox(message, marker: dict[str, Any], run_dir: Path) -> str:
    """No hooks given: the message waits in the outbox of every destination the run had."""
    from ..notify import outbox
    from ..notify.delivery import Destination

    destinations = [Destination(**d) for d in marker.get("notify") or [] if isinstance(d, dict)]
    if not destinations:
        return "no notify destination in this run: no message to send"
    records = [outbox.make_record(message, d, "run killed; written by recovery") for d in destinations]
    outbox.append(run_dir / outbox.OUTBOX_NAME, records)
    return (f"killed message {message.id[:12]} written to {run_dir / outbox.OUTBOX_NAME} for {len(destinations)} "
            f"destination(s); send with: yolo-hooks outbox replay hooks=<your hooks.yaml> dir={run_dir}")


def recover_below(root: str | Path, hooks: list | None = None, force: bool = False) -> list[Report]:
    """:func:`recover` every run folder below ``root`` (those with a marker)."""
    root = Path(root)
    folders = [root] if run_marker.marker_path(root).is_file() else \
        sorted(p.parent for p in root.rglob(run_marker.MARKER)) if root.is_dir() else []
    return [recover(folder, hooks, force=force) for folder in folders]


def _hand_over(message, notifiers: list, run_dir: Path) -> str:
    """A later run in the folder: its own notify hooks send the message in the background (journaled)."""
    sent = [hook.name for hook in notifiers if hook.send(message)]
    return f"{message.event} message {message.id[:12]} handed to " + (", ".join(sent) or
                                                                      f"no destination (none takes `{message.event}`)")


def recover_previous_run(trainer, hooks: list, log) -> None:
    """A run-start step (registered in :mod:`yolo_hooks.catalog`): a killed run that used the same folder gets its
    end now, with this run's hooks; the core then marks this run as running."""
    report = recover(trainer.save_dir, hooks, send=_hand_over)
    for line in report.lines() if report.killed else ():
        log(f"previous run was killed; recovered: {line}", "warning")
