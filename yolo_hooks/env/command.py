"""``yolo-hooks env hooks.yaml``: check a config, then print the line that switches hooks on in this shell.

Its standard output is read by the shell (``eval "$(yolo-hooks env hooks.yaml)"``), so it carries that one line
and nothing else: this module imports nothing heavy, and Ultralytics (which prints a notice on stdout the first time
it creates its settings file) is imported only while stdout points at stderr.
"""

from __future__ import annotations

import contextlib
import sys

USAGE = "usage: yolo-hooks env hooks.yaml   (then: eval \"$(yolo-hooks env hooks.yaml)\")"


def env_command(args: list[str]) -> int:
    """``yolo-hooks env hooks.yaml``: check the config, then print the ``export YOLO_HOOKS=...`` line."""
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    out = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # whatever else is printed while the config is checked
        from ..cli import say
        from ..core.errors import ConfigError
        from .activate import export_line

        try:
            line = export_line(args[0])
        except ConfigError as e:
            say(f"yolo-hooks: {e}", err=True)
            return 2
    print(line, file=out)
    return 0
