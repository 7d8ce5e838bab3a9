"""Deterministic runs with step series, for the plot and timeline tests (golden outputs)."""
from __future__ import annotations

import math
from pathlib import Path

from cli_helpers import make_run
from tmt.records.series import Series, encode_series

GOLDEN = Path(__file__).resolve().parent / "data" / "plot"


def series_blob(repo, name: str, values, steps=None, t0: float = 1_704_110_400.0) -> str:
    """Store a series blob: steps 0..n-1 unless given, one point a second from t0."""
    values = [float(v) for v in values]
    steps = list(range(len(values))) if steps is None else steps
    times = [t0 + i for i in range(len(values))]
    return repo.store.put(encode_series(Series(name, steps, values, times)))


def loss_curve(n: int, scale: float, floor: float, wobble: float) -> list[float]:
    """A training loss: exponential decay to a floor with a deterministic wiggle."""
    return [floor + scale * math.exp(-i / (n / 4)) + wobble * math.sin(i * 1.7) for i in range(n)]


def plot_store(repo) -> list:
    """Three runs (ids 111…, 222…, 333…) with a 200-step `loss` and an `acc`; the third
    also has a `loss` value <= 0 late (a bug), for the log axis."""
    runs = []
    specs = [(1, "baseline", 2.0, 0.30, 0.02), (2, "wide", 1.6, 0.20, 0.03), (3, "deep", 2.4, 0.10, 0.05)]
    for n, name, scale, floor, wobble in specs:
        loss = loss_curve(200, scale, floor, wobble)
        if n == 3:
            loss[150] = 0.0
            loss[151] = -0.5
        acc = [1 - v / 3 for v in loss]
        series = {"loss": series_blob(repo, "loss", loss), "acc": series_blob(repo, "acc", acc)}
        runs.append(make_run(repo, n, name, series=series, metrics={"loss": loss[-1]}))
    return runs
