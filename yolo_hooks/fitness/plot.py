"""``fitness.png``: fitness and validation metrics per epoch (best epoch marked) above train/val loss.

Uses matplotlib's object API with the Agg canvas, so it never touches pyplot's global state or the user's
backend, works without a display, and uses only the fonts bundled with matplotlib (nothing is downloaded).
"""

from __future__ import annotations

from pathlib import Path


def plot_fitness(records: list[dict], path: str | Path, title: str = "") -> Path:
    """Draw the epoch ``records`` (see :func:`yolo_hooks.fitness.record.build_record`) into ``path``.

    Raises:
        OSError: ``path`` cannot be written (the caller reports it).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    epochs = [r["epoch"] for r in records]
    fig = Figure(figsize=(9, 6), dpi=100)
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    # fixed margins: constrained layout measured every text box and was half of the plot's CPU time
    fig.subplots_adjust(left=0.08, right=0.98, top=0.94, bottom=0.08, hspace=0.06)

    metric_keys = [k for k in (records[0] if records else {}) if k.startswith("metrics/")]
    for key in metric_keys:
        top.plot(epochs, [r.get(key) for r in records], lw=1, alpha=0.8, label=key.split("/", 1)[1])
    top.plot(epochs, [r.get("fitness") for r in records], lw=2.5, color="black", label="fitness")
    best = records[-1].get("best_epoch") if records else None
    best_rec = next((r for r in records if r["epoch"] == best), None)
    if best_rec is not None and best_rec.get("fitness") is not None:
        top.axvline(best, color="green", ls="--", lw=1)
        top.plot([best], [best_rec["fitness"]], marker="*", ms=14, color="green", ls="",
                 label=f"best epoch {best} ({best_rec['fitness']:.4f})")
    top.set_ylabel("fitness / metric")
    top.grid(alpha=0.3)
    top.legend(fontsize=8, loc="best")
    top.set_title(title or "fitness per epoch")

    shown = []
    for key, style in (("train/loss", "-"), ("val/loss", "--")):
        values = [r.get(key) for r in records]
        if any(v is not None for v in values):
            bottom.plot(epochs, values, ls=style, marker=".", label=key)
            shown += [v for v in values if v is not None and v > 0]
    if shown and max(shown) / min(shown) > 100:  # a diverging loss would flatten everything else
        bottom.set_yscale("log")
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("loss (sum)")
    bottom.grid(alpha=0.3)
    if bottom.get_legend_handles_labels()[0]:
        bottom.legend(fontsize=8)

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
