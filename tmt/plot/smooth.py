"""Smoothing of step series: TensorBoard's debiased EMA and a trailing moving average.

Both run over the full series, before any downsampling for the screen: smoothing what is
drawn (one value per pixel column) would make the curve depend on the window width.
Non-finite values (NaN, inf) pass through unsmoothed and do not enter the average, as in
TensorBoard.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from tmt.errors import UsageError


@dataclass(frozen=True, slots=True)
class Smoothing:
    """`kind` is "ema" (value = the weight in [0, 1)) or "ma" (value = the window N >= 1)."""

    kind: str
    value: float

    def apply(self, values: Sequence[float]) -> list[float]:
        if self.kind == "ema":
            return ema(values, self.value)
        return moving_average(values, int(self.value))

    @property
    def label(self) -> str:
        return f"EMA {self.value:g}" if self.kind == "ema" else f"moving average of {int(self.value)}"


def parse_smoothing(text: "str | float | Smoothing | None") -> Smoothing | None:
    """`0.6` (EMA weight, 0 means none) or `ma:N` (moving average of N points)."""
    if text is None or isinstance(text, Smoothing):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(float(text))
    s = str(text).strip()
    if s.startswith("ma:"):
        n = s[3:]
        if not n.isdigit() or int(n) < 1:
            raise UsageError(f"--smooth {s!r}: the moving-average window must be a whole number >= 1",
                             "e.g. --smooth ma:20")
        return Smoothing("ma", int(n)) if int(n) > 1 else None
    try:
        w = float(s)
    except ValueError:
        raise UsageError(f"--smooth {s!r} is neither an EMA weight nor ma:N",
                         "e.g. --smooth 0.6 (EMA weight in [0, 1), as TensorBoard's slider) or --smooth ma:20") from None
    if not (0.0 <= w < 1.0):
        raise UsageError(f"--smooth {s!r}: the EMA weight must be at least 0 and below 1",
                         "e.g. --smooth 0.6; 0 means no smoothing")
    return Smoothing("ema", w) if w > 0 else None


def ema(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average.

    last = last * w + (1 - w) * v, divided by (1 - w ** n) after n finite values, so the
    start is not pulled towards 0. A constant series is returned as is (no float drift).
    """
    if not values:
        return []
    first = values[0]
    if all(v == first for v in values):
        return list(values)
    out = []
    last = 0.0
    n = 0
    isfinite = math.isfinite
    for v in values:
        if not isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1.0 - weight) * v
        n += 1
        out.append(last / (1.0 - weight ** n))
    return out


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """The mean of the last `window` finite values up to each point (fewer at the start)."""
    out = []
    kept: list[float] = []
    total = 0.0
    isfinite = math.isfinite
    for v in values:
        if not isfinite(v):
            out.append(v)
            continue
        kept.append(v)
        total += v
        if len(kept) > window:
            total -= kept[len(kept) - window - 1]
        k = min(len(kept), window)
        out.append(total / k)
    return out
