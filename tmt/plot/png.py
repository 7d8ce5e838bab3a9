"""A Figure as PNG through matplotlib (the `[plot]` extra), imported only here."""
from __future__ import annotations

import io
import math

from tmt.errors import MissingDependency
from tmt.plot.figure import Figure


def render_png(fig: Figure, width_px: int = 1000, height_px: int = 560, dpi: int = 100) -> bytes:
    """The figure drawn by matplotlib's Agg backend (no display needed), as PNG bytes."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.figure import Figure as MplFigure
    except ImportError:
        raise MissingDependency(
            "writing a PNG needs matplotlib, which is not installed",
            "pip install 'ThatMetricTimeline[plot]', or write an .svg or .html file instead",
        ) from None
    mfig = MplFigure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = mfig.add_subplot(1, 1, 1)
    for c in fig.curves:
        if not c.xs:
            continue
        if c.kind == "points":
            ax.scatter(c.xs, c.ys, s=9, color=c.color, label=c.label, zorder=3)
            continue
        if c.raw is not None:
            ax.plot(c.raw[0], c.raw[1], color=c.color, alpha=0.25, linewidth=0.8)
        ax.plot(c.xs, c.ys, color=c.color, linewidth=1.5, label=f"{c.key} {c.label}".strip())
    for m in fig.markers:
        ax.axvline(m.x, color="#888888", linestyle="--", linewidth=0.8)
        ax.annotate(m.label, (m.x, 1.0), xycoords=("data", "axes fraction"), ha="center", va="bottom",
                    fontweight="bold")
    if fig.logy:
        ax.set_yscale("log")
    if fig.x_kind == "index":
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda t, _p: f"{t + 1:g}"))
    elif fig.x_kind == "time":
        import matplotlib.dates as mdates

        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda t, _p: mdates.num2date(t / 86400.0).strftime("%H:%M") if math.isfinite(t) else ""))
    ax.set_title(fig.title, loc="left", fontweight="bold")
    ax.set_xlabel(fig.x_label)
    if fig.y_label:
        ax.set_ylabel(fig.y_label)
    ax.grid(True, color="#e6e6e6")
    if fig.legend and fig.curves:
        ax.legend(loc="best", fontsize="small", frameon=False)
    lines = ["".join(text for text, _ in cap) for cap in fig.captions] + fig.notes
    if lines:
        mfig.text(0.01, 0.01, "\n".join(lines), fontsize=8, va="bottom", family="monospace", color="#555555")
        mfig.subplots_adjust(bottom=min(0.5, 0.12 + 0.028 * len(lines)))
    buf = io.BytesIO()
    mfig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
