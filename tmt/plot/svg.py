"""A Figure as SVG, written by tmt itself: the same figure always gives the same bytes.

Determinism: no dates, no random ids, every coordinate printed with two decimals, elements
in the figure's order. Dense curves are reduced to the first, lowest, highest and last
value of each pixel column (`figure.columns`), so a 10,000-step curve stays a few
kilobytes and keeps its spikes; curves with fewer points than twice the plot's width keep
every point. Text from the store is escaped (XML, and control characters as in the CLI).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from tmt.plot.figure import Figure, columns, fmt_log, fmt_number, fmt_stat, log_ticks, nice_ticks, padded, x_ticks
from tmt.text import printable

FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
ROW = 18  # px per legend, caption or note line
TEXT = "#333333"
GRID = "#e6e6e6"
AXIS = "#888888"
#: data coordinate -> picture coordinate
_Scale = Callable[[float], float]


def _n(v: float) -> str:
    """A coordinate: two decimals, no trailing zeros, never "-0"."""
    text = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def esc(text: object) -> str:
    s = printable(text)
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _style_attrs(style: str | None) -> str:
    """A caption segment's rich style as SVG attributes: "#hex" colours, bold, dim."""
    if not style:
        return ""
    attrs = []
    for part in style.split():
        if part.startswith("#"):
            attrs.append(f' fill="{esc(part)}"')
        elif part == "bold":
            attrs.append(' font-weight="bold"')
        elif part == "dim":
            attrs.append(f' fill="{AXIS}"')
    return "".join(attrs)


@dataclass(frozen=True, slots=True)
class _Frame:
    """Where the plot sits in the picture, and the data ranges its edges show."""

    left: int
    top: int
    pw: int  # plot width and height, px
    ph: int
    x0: float
    x1: float
    ylo: float
    yhi: float

    @property
    def bottom(self) -> int:
        return self.top + self.ph


def render_svg(fig: Figure, width: int = 800, plot_height: int = 320) -> str:
    """The whole picture as an SVG document (UTF-8 text, ends with a newline)."""
    yr, xr = fig.y_range(), fig.x_range()
    ylo, yhi = padded(*yr) if yr else (0.0, 1.0)
    x0, x1 = xr if xr else (0.0, 1.0)
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x1 + 0.5
    yt = log_ticks(ylo, yhi, 6) if fig.logy else nice_ticks(ylo, yhi, 6)
    ystep = yt[1] - yt[0] if len(yt) > 1 else abs(ylo) or 1.0
    ylabels = [fmt_log(t) if fig.logy else fmt_number(t, ystep) for t in yt]
    left = 16 + 7 * max([len(s) for s in ylabels] + [1])
    right = 24
    top = 44 if fig.markers else 36
    f = _Frame(left, top, width - left - right, plot_height, x0, x1, ylo, yhi)
    legend_rows = len(fig.curves) if fig.legend else 0
    extra = legend_rows + len(fig.captions) + len(fig.notes)
    height = f.bottom + 52 + ROW * extra + (8 if extra else 0)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * f.pw

    def sy(y: float) -> float:
        return top + (yhi - y) / (yhi - ylo) * f.ph

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        f'<defs><clipPath id="plot"><rect x="{left}" y="{top - 2}" width="{f.pw}" height="{f.ph + 4}"/></clipPath></defs>',
        f'<text x="{left}" y="22" font-size="15" font-weight="bold" fill="{TEXT}">{esc(fig.title)}</text>',
    ]
    out.extend(_axes(fig, f, yt, ylabels, sx, sy))
    out.extend(_curves(fig, f, sx, sy))
    out.extend(_legend(fig, f))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _axes(fig: Figure, f: _Frame, yt: list[float], ylabels: list[str], sx: _Scale, sy: _Scale) -> list[str]:
    """Grid, axes, tick labels, axis labels and the markers (all under the data)."""
    left, top, pw, bottom_axis = f.left, f.top, f.pw, f.bottom
    out = [f'<g stroke="{GRID}" stroke-width="1">']
    for t in yt:
        y = sy(t)
        out.append(f'<line x1="{left}" y1="{_n(y)}" x2="{left + pw}" y2="{_n(y)}"/>')
    xt, xfmt = x_ticks(fig, f.x0, f.x1, max(2, pw // 110))
    xt = [t for t in xt if f.x0 - 1e-9 <= t <= f.x1 + 1e-9]
    for t in xt:
        x = sx(t)
        out.append(f'<line x1="{_n(x)}" y1="{top}" x2="{_n(x)}" y2="{bottom_axis}"/>')
    out.append("</g>")
    out.append(f'<g stroke="{AXIS}" stroke-width="1"><line x1="{left}" y1="{top}" x2="{left}" y2="{bottom_axis}"/>'
               f'<line x1="{left}" y1="{bottom_axis}" x2="{left + pw}" y2="{bottom_axis}"/></g>')
    out.append(f'<g fill="{TEXT}" font-size="11" text-anchor="end">')
    for t, label in zip(yt, ylabels):
        out.append(f'<text x="{left - 6}" y="{_n(sy(t) + 4)}">{esc(label)}</text>')
    out.append("</g>")
    out.append(f'<g fill="{TEXT}" font-size="11" text-anchor="middle">')
    for t in xt:
        out.append(f'<text x="{_n(sx(t))}" y="{bottom_axis + 16}">{esc(xfmt(t))}</text>')
    out.append("</g>")
    if fig.x_label:
        out.append(f'<text x="{_n(left + pw / 2)}" y="{bottom_axis + 34}" text-anchor="middle" fill="{AXIS}">'
                   f'{esc(fig.x_label)}</text>')
    if fig.y_label:
        out.append(f'<text x="{left}" y="{top - 8}" fill="{AXIS}" font-size="11">{esc(fig.y_label)}</text>')
    for m in fig.markers:
        mx = _n(sx(m.x))
        out.append(f'<g><line x1="{mx}" y1="{top}" x2="{mx}" y2="{bottom_axis}" stroke="{AXIS}" '
                   f'stroke-dasharray="4 3"/><text x="{mx}" y="{top - 6}" text-anchor="middle" '
                   f'font-weight="bold" fill="{TEXT}">{esc(m.label)}</text></g>')
    return out


def _curves(fig: Figure, f: _Frame, sx: _Scale, sy: _Scale) -> list[str]:
    ty = math.log10 if fig.logy else None
    out = ['<g fill="none" stroke-width="1.6" stroke-linejoin="round" clip-path="url(#plot)">']
    for c in fig.curves:
        if not c.xs:
            continue
        if c.kind == "points":
            ys = [ty(v) for v in c.ys] if ty else c.ys
            out.append(f'<g fill="{c.color}" stroke="none"><title>{esc(c.label)}</title>')
            out.extend(f'<circle cx="{_n(sx(x))}" cy="{_n(sy(y))}" r="2.6"/>' for x, y in zip(c.xs, ys))
            out.append("</g>")
            continue
        if c.raw is not None:
            rx, ry = c.raw
            ry = [ty(v) for v in ry] if ty else ry
            out.append(f'<polyline stroke="{c.color}" stroke-opacity="0.25" stroke-width="1" '
                       f'points="{_points(rx, ry, f.x0, f.x1, f.pw, sx, sy)}"/>')
        ys = [ty(v) for v in c.ys] if ty else c.ys
        out.append(f'<polyline stroke="{c.color}" points="{_points(c.xs, ys, f.x0, f.x1, f.pw, sx, sy)}">'
                   f'<title>{esc(c.label)}</title></polyline>')
    out.append("</g>")
    return out


def _legend(fig: Figure, f: _Frame) -> list[str]:
    """Legend, captions and notes, one row each below the x axis."""
    left = f.left
    out = []
    y = f.bottom + 52 + 4
    if fig.legend:
        for c in fig.curves:
            stats = "   ".join(f"{k} {fmt_stat(v)}" for k, v in c.stats.items())
            out.append(f'<g><line x1="{left}" y1="{_n(y - 4)}" x2="{left + 22}" y2="{_n(y - 4)}" stroke="{c.color}" '
                       f'stroke-width="3"/><text x="{left + 30}" y="{_n(y)}" fill="{TEXT}">'
                       f'<tspan font-weight="bold">{esc(c.key)}</tspan> <tspan font-family="{MONO}">{esc(c.label)}'
                       f'</tspan>{"   " + esc(stats) if stats else ""}</text></g>')
            y += ROW
    for caption in fig.captions:
        spans = "".join(f"<tspan{_style_attrs(style)}>{esc(text)}</tspan>" for text, style in caption)
        out.append(f'<text x="{left}" y="{_n(y)}" fill="{TEXT}" xml:space="preserve">{spans}</text>')
        y += ROW
    for note in fig.notes:
        out.append(f'<text x="{left}" y="{_n(y)}" fill="{AXIS}" font-size="11">{esc(note)}</text>')
        y += ROW
    return out


def _points(xs, ys, x0: float, x1: float, pw: int, sx, sy) -> str:
    if len(xs) <= 2 * pw:
        return " ".join(f"{_n(sx(x))},{_n(sy(y))}" for x, y in zip(xs, ys))
    pts = []
    step = (x1 - x0) / pw
    for c, first, lo, hi, last, low_first in columns(xs, ys, x0, x1, pw):
        x = _n(sx(x0 + (c + 0.5) * step))
        for v in (first, lo, hi, last) if low_first else (first, hi, lo, last):
            pts.append(f"{x},{_n(sy(v))}")
    return " ".join(pts)
