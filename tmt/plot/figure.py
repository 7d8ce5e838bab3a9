"""What a picture holds, whatever draws it: curves, markers, axes; and the helpers every
renderer shares (run colours, nice ticks, per-column downsampling).

A `Figure` is built once from the data (smoothing and log masking already applied) and
drawn by the terminal renderer (`tmt.plot.terminal`), the SVG writer (`tmt.plot.svg`) and
matplotlib (`tmt.plot.png`), so the three pictures say the same thing.
"""
from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: Tableau 10: distinct on dark and light backgrounds, and for most colour-blind readers.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
           "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


@dataclass(slots=True)
class Curve:
    """One line (or set of points) of the figure.

    `xs` ascending; `ys` finite and, on a log axis, positive (masked values are left out).
    `raw` holds the unsmoothed values at the same xs, drawn faintly behind a smoothed curve
    in files. `key` is the short tag that labels the curve's end and its legend row.
    """

    label: str
    xs: list[float]
    ys: list[float]
    color: str
    key: str = ""
    kind: str = "line"  # "line" | "points"
    raw: tuple[list[float], list[float]] | None = None  # (xs, ys) before smoothing
    stats: dict[str, float] = field(default_factory=dict)  # last, min, max of the raw values


@dataclass(frozen=True, slots=True)
class Marker:
    """A numbered vertical mark at `x` (a timeline's jump)."""

    x: float
    label: str


@dataclass(slots=True)
class Figure:
    title: str
    curves: list[Curve]
    x_label: str = "step"
    y_label: str = ""
    x_kind: str = "number"  # "number" | "time" (unix seconds) | "duration" (seconds) | "index" (1-based runs)
    logy: bool = False
    markers: list[Marker] = field(default_factory=list)
    legend: bool = True  # a row per curve: key, colour, label, stats
    #: lines under the legend, as (text, style) segments: a timeline's causes of each jump
    captions: list[list[tuple[str, str | None]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # last, dimmed: smoothing, masked values

    def x_range(self) -> tuple[float, float] | None:
        los = [c.xs[0] for c in self.curves if c.xs]
        his = [c.xs[-1] for c in self.curves if c.xs]
        los += [m.x for m in self.markers]
        his += [m.x for m in self.markers]
        if not los:
            return None
        if self.x_kind == "index":  # half a run of room each side: the first and last points show whole
            return min(los) - 0.5, max(his) + 0.5
        return min(los), max(his)

    def y_range(self) -> tuple[float, float] | None:
        """The range of the drawn values (log10 of them on a log axis)."""
        los = [min(c.ys) for c in self.curves if c.ys]
        his = [max(c.ys) for c in self.curves if c.ys]
        if not los:
            return None
        lo, hi = min(los), max(his)
        if self.logy:
            lo, hi = math.log10(lo), math.log10(hi)
        return lo, hi

    def ty(self, y: float) -> float:
        """A value in axis space (log10 on a log axis)."""
        return math.log10(y) if self.logy else y


# -- colours --------------------------------------------------------------------------------


def run_colors(run_ids: Sequence[str]) -> list[str]:
    """A colour per run that stays the same from plot to plot: picked from the run id, the
    next free one when two runs of this figure would share it (in the order given)."""
    taken: set[int] = set()
    out = []
    for rid in run_ids:
        try:
            n = int(rid[:8], 16) % len(PALETTE)
        except ValueError:
            n = sum(rid.encode()) % len(PALETTE)
        if len(taken) < len(PALETTE):
            while n in taken:
                n = (n + 1) % len(PALETTE)
        taken.add(n)
        out.append(PALETTE[n])
    return out


# -- ticks ----------------------------------------------------------------------------------


def padded(lo: float, hi: float) -> tuple[float, float]:
    """The drawn range: 3% of room above and below, so no point sits on the frame; a flat
    series gets a band around its value."""
    if hi > lo:
        d = (hi - lo) * 0.03
        return lo - d, hi + d
    d = abs(lo) * 0.05 or 0.5
    return lo - d, hi + d


def nice_step(span: float, n: int, integer: bool = False) -> float:
    """The round step (1, 2, 2.5 or 5 times a power of ten) that cuts `span` into about n
    parts; with `integer`, a whole number that is not 2.5 or 25 (steps of training)."""
    e = math.floor(math.log10(span / max(n, 1)))
    steps = [m * 10.0 ** k for k in (e - 1, e, e + 1) for m in (1.0, 2.0, 2.5, 5.0)]
    if integer:
        steps = [st for st in steps if st >= 1 and st == int(st) and st not in (2.5, 25.0)] or [1.0]
    return min(steps, key=lambda st: (abs(span / st - n), -st))


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    """Round values (1, 2, 2.5, 5 times a power of ten) inside [lo, hi], about n of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    step = nice_step(hi - lo, n, integer)
    k0 = math.ceil(lo / step - 1e-9)
    k1 = math.floor(hi / step + 1e-9)
    return [k * step for k in range(k0, k1 + 1)]


def log_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Ticks in log10 space: 1, 2 and 5 times each decade when that gives few enough,
    else whole decades (every k-th when there are many)."""
    k0, k1 = max(math.floor(lo), -320), min(math.ceil(hi), 307)  # 10.0 ** 308 * 2 overflows
    inside = [t for t in (math.log10(m * 10.0 ** k) for k in range(k0, k1 + 1) for m in (1, 2, 5))
              if lo - 1e-9 <= t <= hi + 1e-9] if k1 - k0 <= 12 else []
    if 2 <= len(inside) <= max(n, 2) * 1.5:
        return inside
    decades = list(range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1))
    if len(decades) >= 2:
        every = max(1, math.ceil(len(decades) / max(n, 1)))
        return [float(k) for k in decades[::every]]
    return [math.log10(t) for t in nice_ticks(10 ** lo, 10 ** hi, n) if t > 0]


def fmt_number(t: float, step: float) -> str:
    """A tick label with as many decimals as the step between ticks needs."""
    if t == 0:
        return "0"
    a = abs(t)
    if a >= 1e6 or a < 1e-4:
        return f"{t:.3g}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and round(step / 10 ** math.floor(math.log10(step)), 6) == 2.5:
        decimals += 1
    text = f"{t:.{decimals}f}"
    return text


def fmt_stat(v: float) -> str:
    """A value in a legend: five significant digits."""
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return f"{v:.5g}"


def fmt_log(t: float) -> str:
    """A log-axis tick (t is log10 of the value)."""
    v = 10 ** t
    if abs(t - round(t)) < 1e-9:
        k = int(round(t))
        return f"{v:g}" if -3 <= k <= 4 else f"1e{k}"
    return f"{v:.3g}"


def fmt_duration(seconds: float) -> str:
    s = abs(seconds)
    sign = "-" if seconds < 0 else ""
    if s < 60:
        return f"{sign}{s:g}s" if s == int(s) else f"{sign}{s:.1f}s"
    if s < 3600:
        m, r = divmod(round(s), 60)
        return f"{sign}{m}m" if not r else f"{sign}{m}m{r:02d}s"
    if s < 86400:
        h, r = divmod(round(s / 60), 60)
        return f"{sign}{h}h" if not r else f"{sign}{h}h{r:02d}m"
    d, r = divmod(round(s / 3600), 24)
    return f"{sign}{d}d" if not r else f"{sign}{d}d{r:02d}h"


DURATION_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def x_ticks(fig: Figure, lo: float, hi: float, n: int) -> tuple[list[float], Callable[[float], str]]:
    """Tick positions and their label function for the figure's x axis kind."""
    if fig.x_kind == "index":
        ticks = nice_ticks(math.ceil(lo) + 1, math.floor(hi) + 1, n, integer=True) or [lo + 1]
        return [t - 1 for t in ticks], lambda t: str(int(round(t + 1)))
    if fig.x_kind in ("duration", "time") and hi > lo:
        raw = (hi - lo) / max(n, 1)
        step: float | None = next((s for s in DURATION_STEPS if s >= raw), None)
        if step is None:
            step = nice_step(hi - lo, n)
        k0, k1 = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        ticks = [k * step for k in range(k0, k1 + 1)]
        if fig.x_kind == "duration":
            return ticks, fmt_duration
        return ticks, _time_formatter(lo, hi)
    ticks = nice_ticks(lo, hi, n, integer=lo == int(lo) and hi == int(hi) and hi - lo >= 2)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else (abs(lo) or 1.0)
    return ticks, lambda t: fmt_number(t, step)


def _time_formatter(lo: float, hi: float) -> Callable[[float], str]:
    import time

    fmt = "%H:%M" if hi - lo < 86400 * 0.9 else "%m-%d %H:%M"
    if hi - lo < 120:
        fmt = "%H:%M:%S"
    return lambda t: time.strftime(fmt, time.localtime(t))


# -- downsampling ---------------------------------------------------------------------------


def columns(xs: Sequence[float], ys: Sequence[float], x0: float, x1: float, n: int, order: bool = True
            ) -> list[tuple[int, float, float, float, float, bool]]:
    """The points of one curve bucketed into n columns spanning [x0, x1].

    One tuple per non-empty column: (column, first, low, high, last, low_first) where
    low_first says whether the low came before the high (always True unless `order`: only
    a polyline needs to know). This keeps every extreme, so a
    spike survives any width. `xs` must be ascending; slicing per column (bisect, then C
    min/max) keeps a 10,000-point curve to a few hundred Python steps.
    """
    out: list[tuple[int, float, float, float, float, bool]] = []
    if not xs or n <= 0:
        return out
    span = x1 - x0
    if span <= 0:
        lo, hi = min(ys), max(ys)
        return [(0, ys[0], lo, hi, ys[-1], ys.index(lo) <= ys.index(hi))]
    start = 0
    total = len(xs)
    for c in range(n):
        if start >= total:
            break
        edge = x0 + span * (c + 1) / n
        end = total if c == n - 1 else bisect_left(xs, edge, start)
        if end > start:
            chunk = ys[start:end]
            lo, hi = min(chunk), max(chunk)
            low_first = True if lo == hi or not order else chunk.index(lo) <= chunk.index(hi)
            out.append((c, chunk[0], lo, hi, chunk[-1], low_first))
            start = end
    return out
