"""The terminal chart: a Figure drawn with Unicode braille (2 x 4 dots per character cell).

`Chart(figure, width, height)` renders to lines of (text, style) segments, to plain text,
or, as a rich renderable, to whatever width rich gives it, so `tmt plot`, `tmt timeline`
and the TUI's run and compare screens draw the same picture. Styles are rich style
strings (a curve's "#rrggbb", "dim" for axes) and are dropped in plain text.

Each curve is bucketed into one column per dot column (`figure.columns`), keeping the
first, lowest, highest and last value of each, then drawn as vertical spans joined to the
neighbouring columns, so extremes survive any width and drawing costs a few hundred steps
per curve whatever its length. A cell shared by two curves takes the colour of the curve
drawn last (the legend order).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tmt.plot.figure import Curve, Figure, columns, fmt_log, fmt_number, fmt_stat, log_ticks, nice_ticks, padded, x_ticks
from tmt.text import printable

Segment = tuple[str, "str | None"]
Line = list[Segment]

AXIS_STYLE = "dim"
#: braille dot bits by (dot row 0-3, dot column 0-1), Unicode's numbering
_DOTS = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))


def _span_masks() -> list[list[list[int]]]:
    """SPAN[col][a][b]: the bits of dot rows a..b (inclusive) in one dot column of a cell."""
    table = []
    for col in (0, 1):
        rows = []
        for a in range(4):
            rows.append([sum(_DOTS[r][col] for r in range(a, b + 1)) if b >= a else 0 for b in range(4)])
        table.append(rows)
    return table


_SPAN = _span_masks()


class Canvas:
    """Cells of dots: `cw` x `ch` dots per cell (2 x 4 braille, 1 x 1 for ASCII)."""

    def __init__(self, cells_w: int, cells_h: int, unicode: bool = True) -> None:
        self.w, self.h = cells_w, cells_h
        self.unicode = unicode
        self.cw, self.ch = (2, 4) if unicode else (1, 1)
        self.pw, self.ph = cells_w * self.cw, cells_h * self.ch
        self.mask = [0] * (cells_w * cells_h)
        self.style: list[str | None] = [None] * (cells_w * cells_h)
        self.text: dict[int, str] = {}  # cells overwritten by a label

    def vspan(self, px: int, py0: int, py1: int, style: str | None) -> None:
        """Set the dots of dot column px from dot row py0 to py1 (either order)."""
        if py0 > py1:
            py0, py1 = py1, py0
        if px < 0 or px >= self.pw or py1 < 0 or py0 >= self.ph:
            return
        py0, py1 = max(py0, 0), min(py1, self.ph - 1)
        cx = px // self.cw
        if not self.unicode:
            for cy in range(py0, py1 + 1):
                i = cy * self.w + cx
                self.mask[i] = 1
                self.style[i] = style
            return
        side = _SPAN[px & 1]
        r0, r1 = py0 >> 2, py1 >> 2
        for cy in range(r0, r1 + 1):
            a = py0 & 3 if cy == r0 else 0
            b = py1 & 3 if cy == r1 else 3
            i = cy * self.w + cx
            self.mask[i] |= side[a][b]
            self.style[i] = style

    def segment(self, px0: int, py0: int, px1: int, py1: int, style: str | None) -> None:
        """A straight line as one vertical span per dot column it crosses."""
        dx = px1 - px0
        if dx <= 0:
            self.vspan(px1, py0, py1, style)
            return
        slope = (py1 - py0) / dx
        for k in range(dx + 1):
            ya = py0 + slope * max(k - 0.5, 0)
            yb = py0 + slope * min(k + 0.5, dx)
            self.vspan(px0 + k, round(ya), round(yb), style)

    def label(self, cx: int, cy: int, text: str, style: str | None) -> None:
        for k, ch in enumerate(text):
            if 0 <= cx + k < self.w and 0 <= cy < self.h:
                i = cy * self.w + cx + k
                self.text[i] = ch
                self.style[i] = style

    def rows(self) -> list[Line]:
        out = []
        for cy in range(self.h):
            line: Line = []
            for cx in range(self.w):
                i = cy * self.w + cx
                ch = self.text.get(i)
                if ch is None:
                    m = self.mask[i]
                    ch = (chr(0x2800 + m) if m else " ") if self.unicode else ("*" if m else " ")
                style = self.style[i] if ch != " " else None
                if line and line[-1][1] == style:
                    line[-1] = (line[-1][0] + ch, style)
                else:
                    line.append((ch, style))
            out.append(line)
        return out


@dataclass
class Chart:
    """A Figure at a size in character cells: `.lines()`, `.plain()`, or print it with rich."""

    figure: Figure
    width: int | None = None  # None: the width rich offers (or 80)
    height: int = 16  # rows of the plot area
    unicode: bool = True

    def __rich_console__(self, console, options):
        from rich.text import Text

        width = self.width or options.max_width
        for line in self.lines(width):
            t = Text(no_wrap=True, overflow="crop")
            for text, style in line:
                t.append(text, style=style or None)
            yield t

    def plain(self, width: int | None = None) -> str:
        return "\n".join("".join(text for text, _ in line).rstrip() for line in self.lines(width))

    def lines(self, width: int | None = None) -> list[Line]:
        fig = self.figure
        width = max(width or self.width or 80, 20)
        height = max(self.height, 3)
        yr, xr = fig.y_range(), fig.x_range()
        if yr is None or xr is None:
            nothing: list[Line] = [[("(nothing to draw)", AXIS_STYLE)]]
            return nothing + self._legend(width)
        ylo, yhi = padded(*yr)
        x0, x1 = xr
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        nt = max(2, height // 3)
        yt = log_ticks(ylo, yhi, nt) if fig.logy else nice_ticks(ylo, yhi, nt)
        ystep = yt[1] - yt[0] if len(yt) > 1 else abs(ylo) or 1.0
        ylabels = [fmt_log(t) if fig.logy else fmt_number(t, ystep) for t in yt]
        lw = max([len(s) for s in ylabels] + [1])
        pw = max(width - lw - 2, 8)  # label, axis character, one cell of margin on the right
        canvas = Canvas(pw, height, self.unicode)

        def px(x: float) -> int:
            return min(canvas.pw - 1, max(0, int((x - x0) / (x1 - x0) * canvas.pw)))

        def py(y: float) -> int:
            return round((yhi - y) / (yhi - ylo) * (canvas.ph - 1))

        ty = math.log10 if fig.logy else None
        many = len(fig.curves) > 1
        for curve in fig.curves:
            if not curve.xs:
                continue
            ys = [ty(v) for v in curve.ys] if ty else curve.ys
            if curve.kind == "points":
                self._draw_points(canvas, curve.xs, ys, curve.color, px, py)
            else:
                self._draw_line(canvas, curve, ys, x0, x1, ylo, yhi, label=many)

        out: list[Line] = []
        if fig.markers:
            out.append(self._marker_row(fig, lw, pw, px, canvas.cw))
        out.extend(self._plot_rows(canvas, yt, ylabels, lw, height, py))
        out.extend(self._x_axis(fig, lw, pw, x0, x1, px, canvas.cw))
        out.extend(self._legend(width))
        return out

    def _draw_points(self, canvas: Canvas, xs: Sequence[float], ys: Sequence[float], color: str,
                     px: Callable[[float], int], py: Callable[[float], int]) -> None:
        for x, y in zip(xs, ys):  # a 2 x 2 dot blob: one dot is too faint to see
            p, q = py(y), px(x)
            p = min(p, canvas.ph - 2)
            canvas.vspan(q, p, p + 1, color)
            canvas.vspan(q ^ 1 if self.unicode else q, p, p + 1, color)

    @staticmethod
    def _draw_line(canvas: Canvas, curve: Curve, ys: Sequence[float], x0: float, x1: float, ylo: float,
                   yhi: float, label: bool) -> None:
        """A curve column by column (every extreme kept), its key at its end if `label`."""
        prev = None
        k = (canvas.ph - 1) / (yhi - ylo)
        for c, first, lo, hi, last, _ in columns(curve.xs, ys, x0, x1, canvas.pw, order=False):
            top, bottom = round((yhi - hi) * k), round((yhi - lo) * k)
            if prev is not None:
                if c - prev[0] == 1:  # the usual, dense case: one span joins and covers the column
                    joint = prev[1]
                    if joint < top:
                        top = joint
                    elif joint > bottom:
                        bottom = joint
                else:
                    canvas.segment(prev[0], prev[1], c, round((yhi - first) * k), curve.color)
            canvas.vspan(c, top, bottom, curve.color)
            prev = (c, round((yhi - last) * k))
        if label and curve.key and prev is not None:
            canvas.label(min(prev[0] // canvas.cw, canvas.w - len(curve.key)), prev[1] // canvas.ch,
                         curve.key, curve.color)

    def _plot_rows(self, canvas: Canvas, yt: list[float], ylabels: list[str], lw: int, height: int,
                   py: Callable[[float], int]) -> list[Line]:
        """The canvas's rows behind the y axis and its tick labels."""
        label_rows: dict[int, str] = {}
        for t, text in zip(yt, ylabels):
            row = py(t) // canvas.ch
            if 0 <= row < height:
                label_rows.setdefault(row, text)
        out: list[Line] = []
        for row, cells in enumerate(canvas.rows()):
            tick = label_rows.get(row)
            lead = (tick.rjust(lw) + ("┤" if self.unicode else "+")) if tick else (" " * lw + ("│" if self.unicode else "|"))
            out.append([(lead, AXIS_STYLE), *cells])
        return out

    def _marker_row(self, fig: Figure, lw: int, pw: int, px, cw: int) -> Line:
        row = [" "] * pw
        for m in fig.markers:
            col = px(m.x) // cw
            col = min(col, pw - len(m.label))
            if all(c == " " for c in row[max(col - 1, 0):col + len(m.label) + 1]):
                row[col:col + len(m.label)] = list(m.label)
        return [(" " * (lw + 1), None), ("".join(row), "bold")]

    def _x_axis(self, fig: Figure, lw: int, pw: int, x0: float, x1: float, px, cw: int) -> list[Line]:
        ticks, fmt = x_ticks(fig, x0, x1, max(2, pw // 14))
        axis = ["─" if self.unicode else "-"] * pw
        labels = [" "] * (pw + lw + 1)
        for t in ticks:
            if t < x0 - 1e-9 or t > x1 + 1e-9:
                continue
            col = px(t) // cw
            axis[col] = "┬" if self.unicode else "+"
            text = fmt(t)
            start = lw + 1 + col - len(text) // 2
            start = max(0, min(start, len(labels) - len(text)))
            if all(c == " " for c in labels[max(start - 1, 0):start + len(text) + 1]):
                labels[start:start + len(text)] = list(text)
        corner = "└" if self.unicode else "+"
        lines: list[Line] = [[(" " * lw + corner + "".join(axis), AXIS_STYLE)],
                             [("".join(labels).rstrip(), AXIS_STYLE)]]
        if fig.x_label:
            lines.append([(fig.x_label.center(pw + lw + 1).rstrip(), AXIS_STYLE)])
        return lines

    def _legend(self, width: int) -> list[Line]:
        fig = self.figure
        out: list[Line] = []
        if fig.legend:
            keyw = max([len(c.key) for c in fig.curves] + [0])
            labw = max([len(printable(c.label)) for c in fig.curves] + [0])
            for c in fig.curves:
                mark = "━━" if self.unicode else "--"
                stats = "  ".join(f"{k} {fmt_stat(v)}" for k, v in c.stats.items())
                line: Line = []
                if keyw:
                    line.append((c.key.rjust(keyw) + " ", c.color))
                line.append((mark, c.color))
                line.append((" " + printable(c.label).ljust(labw) + ("  " + stats if stats else ""), None))
                out.append(line)
        for caption in fig.captions:
            out.append([(printable(text), style) for text, style in caption])
        for note in fig.notes:
            out.append([(printable(note), AXIS_STYLE)])
        return out
