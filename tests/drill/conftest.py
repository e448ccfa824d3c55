"""Prints the hostile-endpoint drill's table at the end of the session (when it ran)."""

from __future__ import annotations

DRILL_ROWS: dict[str, dict] = {}  # case -> seconds, delivered, outboxed, replayed_once, exit_after;
# "no hooks" -> seconds


def pytest_terminal_summary(terminalreporter):
    if not DRILL_ROWS:
        return
    base = DRILL_ROWS.get("no hooks", {}).get("seconds")
    write = terminalreporter.write_line
    write("")
    write("hostile-endpoint drill: a 1-epoch coco8 training per endpoint (time as a multiple of the same training "
          "without hooks)")
    write(f"{'endpoint':<26}{'train time':>12}{'delivered':>11}{'outboxed':>10}{'replayed once':>15}"
          f"{'exit after final val':>22}")
    for case, row in DRILL_ROWS.items():
        if case == "no hooks":
            continue
        ratio = f"{row['seconds'] / base:.2f}x" if base else f"{row['seconds']:.1f}s"
        write(f"{case:<26}{ratio:>12}{row['delivered']:>11}{row['outboxed']:>10}"
              f"{'yes' if row['replayed_once'] else 'NO':>15}{row['exit_after']:>21.1f}s")
    if base:
        write(f"{'(no hooks)':<26}{base:>11.1f}s")
