"""``yolo-hooks recover RUN_DIR [hooks=hooks.yaml] [force=True]``: finish what a killed run left undone.

Exit codes: 0 done (or nothing to do), 1 something could not be done (said why), 2 bad usage or config.
"""

from __future__ import annotations

import sys


def _hooks(path: str | None) -> list:
    """The hooks of ``path``, named as ``attach`` names them; empty without a path."""
    if not path:
        return []
    from ..core.attach import give_unique_names
    from ..core.config import build_hooks, load_config

    hooks = build_hooks(load_config(path))
    give_unique_names(hooks)
    return hooks


def recover_command(argv: list[str]) -> int:
    """``yolo-hooks recover RUN_DIR [hooks=hooks.yaml] [force=True]``."""
    from ..cli import parse_pairs
    from ..core import ConfigError
    from .recover import recover_below

    folders = [a for a in argv if "=" not in a]
    if len(folders) != 1:
        print(f"usage: yolo-hooks recover RUN_DIR [hooks=hooks.yaml] [force=True]\n{__doc__}", file=sys.stderr)
        return 2
    options = parse_pairs([a for a in argv if "=" in a])
    try:
        hooks = _hooks(options.get("hooks"))
    except ConfigError as e:
        print(f"yolo-hooks: {e}", file=sys.stderr)
        return 2
    reports = recover_below(folders[0], hooks, force=bool(options.get("force", False)))
    if not reports:
        print(f"{folders[0]}: no yolo_hooks run found (no yolo_hooks_run.json)")
        return 0
    for report in reports:
        for line in report.lines():
            print(line)
    return 1 if any(r.skipped for r in reports) else 0
