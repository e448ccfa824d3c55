"""``yolo-hooks review DIR [port=8000]``: the review page of an alerts folder, served on loopback.

``DIR`` is an alerts folder (it holds ``alerts.jsonl``) or a folder below which there is one (a predict run's
folder, ``runs/detect``): the newest is served. The page is written again from ``alerts.jsonl`` first (a folder
copied from a camera box, or one written with ``review: false``, gets its page), then the folder is served at
``http://127.0.0.1:<port>/`` until Ctrl-C; ``port=0`` takes any free port. The page itself needs no server
(``index.html`` opens from the folder): serving it lets a browser on the same machine, or through an SSH tunnel,
open the clips and images without ``file://`` restrictions.

Exit codes: 0 stopped with Ctrl-C, 1 no alerts folder, 2 bad usage.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path


def find_alerts(path: Path) -> Path | None:
    """``path`` when it holds ``alerts.jsonl``, else the newest folder below it that does."""
    from .folder import ALERTS_LOG

    if (path / ALERTS_LOG).is_file():
        return path
    found = sorted(path.rglob(ALERTS_LOG), key=lambda p: p.stat().st_mtime) if path.is_dir() else []
    return found[-1].parent if found else None


def review_command(argv: list[str]) -> int:
    """``yolo-hooks review DIR [port=8000]``."""
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from ..cli import say
    from ..core.files import atomic_write_text
    from .folder import PAGE, AlertsFolder
    from .review import events_of, render

    # parsed here, not by Ultralytics' value parser: serving a folder needs neither Ultralytics nor torch (nor its
    # settings notice on stdout, whose first line names the page's address)
    folders = [a for a in argv if "=" not in a]
    options = dict(a.split("=", 1) for a in argv if "=" in a)
    if len(folders) != 1 or set(options) - {"port"} or not options.get("port", "8000").isdigit():
        say(f"usage: yolo-hooks review DIR [port=8000]\n{__doc__}", err=True)
        return 2
    folder = find_alerts(Path(folders[0]))
    if folder is None:
        say(f"yolo-hooks review: no alerts.jsonl in or below {folders[0]}", err=True)
        return 1
    summaries = AlertsFolder(folder.resolve()).summaries()
    atomic_write_text(folder / PAGE, render(summaries, folder.name), fsync=False)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no line per request on the console
            pass

    server = ThreadingHTTPServer(("127.0.0.1", int(options.get("port", 8000))),
                                 functools.partial(Quiet, directory=str(folder)))  # fmt: skip
    say(f"yolo-hooks review: {len(events_of(summaries))} events in {folder}: http://127.0.0.1:{server.server_port}/ "
        "(Ctrl-C stops)")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
