"""Jumps in a metric across runs: the noise estimated robustly, then change points (PELT).

Noise. Runs whose recorded inputs are the same (code tree, params that are not reseeded
at every run, packages) are *repeats*: their differences are noise by construction, so
when there are enough of them sigma comes from the differences between successive repeats
(median absolute difference, which a few outliers cannot move). Otherwise it comes from
the run-to-run differences of the whole timeline, which is robust as long as fewer than
half the boundaries are jumps. For a difference d of two runs with noise sigma,
median(|d|) = 0.6745 * sqrt(2) * sigma.

Change points. The segmentation minimizing sum((y - segment mean)^2) / sigma^2 plus a
penalty per jump, found exactly by PELT (Killick, Fearnhead and Eckley 2012: optimal
partitioning with pruning, about linear in the number of runs). The penalty is calibrated
so that pure noise of 10 to 1,000 runs gives a false jump in under about 5% of timelines
(tests/test_timeline_property.py prints the figures).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: median(|d|) of the difference of two N(0, sigma^2) draws is this times sigma
_MAD_DIFF = 0.6744897501960817 * math.sqrt(2.0)
#: fewest repeat differences that make the repeat-based estimate the one used
MIN_REPEAT_DIFFS = 3


@dataclass(frozen=True, slots=True)
class Noise:
    sigma: float
    method: str  # "repeats" | "differences" | "none" (too few runs)
    samples: int  # differences the estimate is the median of


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def estimate_noise(values: Sequence[float], groups: Sequence[object] | None = None) -> Noise:
    """Sigma of the run-to-run noise, from repeats (runs of one group) when there are
    at least MIN_REPEAT_DIFFS of them, else from all successive differences."""
    floor = 1e-9 * max((abs(v) for v in values), default=0.0) or 1e-12
    if groups is not None:
        last: dict[object, float] = {}
        diffs = []
        for v, g in zip(values, groups):
            if g in last:
                diffs.append(abs(v - last[g]))
            last[g] = v
        if len(diffs) >= MIN_REPEAT_DIFFS:
            return Noise(max(_median(diffs) / _MAD_DIFF, floor), "repeats", len(diffs))
    diffs = [abs(b - a) for a, b in zip(values, values[1:])]
    if not diffs:
        return Noise(floor, "none", 0)
    return Noise(max(_median(diffs) / _MAD_DIFF, floor), "differences", len(diffs))


def penalty(n: int) -> float:
    """The cost of one more jump, in units of sigma^2 (see the module docstring)."""
    return 3.0 * math.log(max(n, 2)) + 6.0


def change_points(values: Sequence[float], sigma: float, beta: float | None = None) -> list[int]:
    """Indices k where a new level starts (values[k - 1] and values[k] differ in level).

    Exact penalized least squares by PELT over cumulative sums: O(n) segments kept alive
    per step in the worst case, far fewer when there are jumps.
    """
    n = len(values)
    if n < 2 or sigma <= 0:
        return []
    scale = 1.0 / (sigma * sigma)
    beta = penalty(n) if beta is None else beta
    s1 = [0.0] * (n + 1)
    s2 = [0.0] * (n + 1)
    center = sum(values) / n  # sums of squares about the mean: no cancellation for 1e6 +- 0.01
    for i, v in enumerate(values):
        v -= center
        s1[i + 1] = s1[i] + v
        s2[i + 1] = s2[i] + v * v

    best = [0.0] * (n + 1)  # best[t]: optimal cost of values[:t]
    prev = [0] * (n + 1)
    # candidate starts of the last segment: (start, best cost before it, s1, s2 at it);
    # best[0] = -beta so that the first segment pays no penalty
    alive = [(0, -beta, 0.0, 0.0)]
    for t in range(1, n + 1):
        a1, a2 = s1[t], s2[t]
        # cost of values[s:t] = sum of squares about its mean, in sigma^2 units; one list
        # comprehension per step keeps the quadratic worst case (no jump at all) fast
        totals = [b + (a2 - q2 - (a1 - q1) * (a1 - q1) / (t - s)) * scale for s, b, q1, q2 in alive]
        low = min(totals)
        f = low + beta
        best[t] = f
        prev[t] = alive[totals.index(low)][0]
        # PELT's pruning: a start already worse than the optimum at t can never become
        # optimal later (the cost is additive and splitting a segment never costs more).
        alive = [c for c, v in zip(alive, totals) if v <= f]
        alive.append((t, f, a1, a2))
    cps = []
    t = n
    while t > 0:
        s = prev[t]
        if s > 0:
            cps.append(s)
        t = s
    return sorted(cps)


def segment_cost(values: Sequence[float], a: int, b: int) -> float:
    seg = values[a:b]
    if not seg:
        return 0.0
    m = sum(seg) / len(seg)
    return sum((v - m) ** 2 for v in seg)


def snap(values: Sequence[float], cps: list[int], sigma: float, preferred: set[int], reach: int = 2,
         slack: float = 4.0) -> list[int]:
    """Move each change point to a nearby boundary in `preferred` (where a recorded input
    changed) when that fits the data about as well: the noise may put a jump one run off
    the edit that made it. `slack` is the largest cost increase allowed, in sigma^2."""
    out = list(cps)
    for i, k in enumerate(out):
        if k in preferred:
            continue
        lo = out[i - 1] + 1 if i > 0 else 1
        hi = out[i + 1] - 1 if i + 1 < len(out) else len(values) - 1
        a = out[i - 1] if i > 0 else 0
        b = out[i + 1] if i + 1 < len(out) else len(values)
        here = segment_cost(values, a, k) + segment_cost(values, k, b)
        options = []
        for j in range(max(lo, k - reach), min(hi, k + reach) + 1):
            if j != k and j in preferred:
                extra = (segment_cost(values, a, j) + segment_cost(values, j, b) - here) / (sigma * sigma)
                if extra <= slack:
                    options.append((extra, abs(j - k), j))
        if options:
            out[i] = min(options)[2]
    return out


def levels(values: Sequence[float], cps: Sequence[int]) -> list[float]:
    """The mean of each run's segment, one per run (the fitted step line)."""
    if not values:
        return []
    bounds = [0, *cps, len(values)]
    out: list[float] = []
    for a, b in zip(bounds, bounds[1:]):
        m = sum(values[a:b]) / (b - a)
        out.extend([m] * (b - a))
    return out
