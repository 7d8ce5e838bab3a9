"""A step series of several runs as one picture: the runs chosen, their curves built.

Order of work for each run, and why: x values (step, wall time or time since the run's
first point), sorted if the run logged out of order; smoothing over *every* point; then
masking (non-finite values, and values <= 0 on a log axis) of what is drawn. Downsampling
happens only when drawing, per pixel column, so the picture never depends on smoothing
a thinned-out series.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tmt.errors import UsageError
from tmt.plot.figure import Curve, Figure, run_colors
from tmt.plot.picture import Picture
from tmt.plot.smooth import Smoothing, parse_smoothing

if TYPE_CHECKING:  # pragma: no cover
    from tmt.query.run import Run
    from tmt.repo import Repo

X_MODES = ("step", "time", "rel")
#: Runs drawn when they are chosen by filters and no limit is given: more are unreadable.
DEFAULT_RUNS = 10
_X_LABELS = {"step": "step", "time": "time", "rel": "time since the run's first point"}
_X_KINDS = {"step": "number", "time": "time", "rel": "duration"}


def choose_runs(repo: "Repo", series: str, refs: Sequence[Any] = (), *, filters: dict[str, Any] | None = None,
                sort: str | None = None, ascending: bool = False, limit: int | None = None) -> list["Run"]:
    """The runs to draw.

    Refs are drawn in the order given, and each must have the series. Without refs, the
    filters choose (the same as `tmt ls`): the newest `limit` runs (default 10) that have
    the series, oldest first, or with `sort` the best ones, best first.
    """
    from tmt.query.refs import resolve
    from tmt.query.run import Run
    from tmt.query.runs import Runs, select

    filters = {k: v for k, v in (filters or {}).items() if v not in (None, [], ())}
    if refs:
        if filters or sort:
            raise UsageError("give the runs either as refs or with filters, not both",
                             "e.g. `tmt plot loss last last~1` or `tmt plot loss --name '^sweep'`")
        out: dict[str, Run] = {}
        for ref in refs:
            items = list(ref) if isinstance(ref, Runs) else [ref]
            for item in items:
                run = item if isinstance(item, Run) else resolve(repo, item)
                out.setdefault(run.id, run)
        runs = list(out.values())
        for run in runs:
            if series not in run.series_names:
                run.series(series)  # raises MissingItem naming the run's series
        return runs[:limit] if limit is not None else runs
    if sort:
        candidates = select(repo, **filters).sort(sort, descending=not ascending)
    else:
        candidates = select(repo, **filters, newest_first=True)
    want = DEFAULT_RUNS if limit is None else limit
    chosen: list[Run] = []
    for run in candidates:
        if len(chosen) >= want:
            break
        try:
            has = series in run.series_names
        except Exception:  # an unreadable record: skipped like any run without the series
            has = False
        if has:
            chosen.append(run)
    if not chosen:
        _no_run_has(series, candidates)
    if not sort:
        chosen.reverse()  # oldest first: the legend reads in the order the runs were made
    return chosen


def _no_run_has(series: str, candidates) -> None:
    names: set[str] = set()
    for run in list(candidates)[:200]:
        try:
            names.update(run.series_names)
        except Exception:
            pass
    if not len(candidates):
        raise UsageError("no runs match these filters", "list runs with `tmt ls`")
    raise UsageError(
        f"no run among these {len(candidates)} has a series {series!r}",
        f"series they have: {', '.join(sorted(names))}" if names else "log step metrics with tmt.log({...}, step=N)",
    )


def x_values(steps: Sequence[int | None], times: Sequence[float], mode: str) -> list[float]:
    if mode == "step":
        if None in steps:
            return [float(i if s is None else s) for i, s in enumerate(steps)]
        return steps  # type: ignore[return-value]  # never modified: no copy of 10,000 steps
    if mode == "time":
        return list(times)
    t0 = times[0] if times else 0.0
    return [t - t0 for t in times]


def build_curve(label: str, color: str, key: str, xs: list[float], values: list[float],
                smoothing: Smoothing | None, logy: bool) -> tuple[Curve, int, int]:
    """One curve, with the counts of values not drawn: (curve, non-finite, <= 0 on a log axis)."""
    if xs != sorted(xs):  # C-level, linear on the usual sorted input
        order = sorted(range(len(xs)), key=xs.__getitem__)  # stable: equal steps keep log order
        xs = [xs[i] for i in order]
        values = [values[i] for i in order]
    finite = math.isfinite(sum(values))  # NaN and inf propagate; an overflow only costs the slow path
    raw_x, raw_y = xs, values
    if not finite:
        keep = [i for i, v in enumerate(values) if math.isfinite(v)]
        raw_x, raw_y = [xs[i] for i in keep], [values[i] for i in keep]
    nonfinite = len(values) - len(raw_y)
    stats = {"last": raw_y[-1], "min": min(raw_y), "max": max(raw_y)} if raw_y else {}
    drawn = smoothing.apply(values) if smoothing else values  # every point, before any masking
    if smoothing and not finite:
        drawn = [drawn[i] for i, v in enumerate(values) if math.isfinite(v)]
    nonpositive = 0
    cx, cy = raw_x, drawn
    if logy and cy and min(cy) <= 0:
        keep = [i for i, v in enumerate(cy) if v > 0]
        nonpositive = len(cy) - len(keep)
        cx, cy = [cx[i] for i in keep], [cy[i] for i in keep]
    raw = None
    if smoothing:
        rx, ry = raw_x, raw_y
        if logy and ry and min(ry) <= 0:
            keep = [i for i, v in enumerate(ry) if v > 0]
            rx, ry = [rx[i] for i in keep], [ry[i] for i in keep]
        raw = (rx, ry)
    return Curve(label=label, xs=cx, ys=cy, color=color, key=key, raw=raw, stats=stats), nonfinite, nonpositive


def series_figure(runs: Sequence["Run"], series: str, *, x: str = "step", smooth: Any = None,
                  logy: bool = False) -> Figure:
    if x not in X_MODES:
        raise UsageError(f"unknown x axis {x!r}", f"choose from {', '.join(X_MODES)}")
    smoothing = parse_smoothing(smooth)
    from tmt.text import printable

    colors = run_colors([r.id for r in runs])
    curves = []
    nonfinite = nonpositive = 0
    for n, (run, color) in enumerate(zip(runs, colors), 1):
        s = run.series(series)
        xs = x_values(s.steps, s.times, x)
        curve, bad, neg = build_curve(f"{run.short_id}  {printable(run.name)}", color, str(n), xs, list(s.values),
                                      smoothing, logy)
        curves.append(curve)
        nonfinite += bad
        nonpositive += neg
    notes = []
    if smoothing:
        notes.append(f"smoothed: {smoothing.label}, over every point before drawing (last/min/max: raw values)")
    if nonpositive:
        notes.append(f"log axis: {nonpositive} value{'s' if nonpositive != 1 else ''} <= 0 not drawn")
    if nonfinite:
        notes.append(f"{nonfinite} NaN or infinite value{'s' if nonfinite != 1 else ''} not drawn")
    return Figure(title=printable(series), curves=curves, x_label=_X_LABELS[x], x_kind=_X_KINDS[x], logy=logy,
                  notes=notes)


def plot(
    series: str,
    *runs: "str | Run | Iterable[Run]",
    x: str = "step",
    smooth: "float | str | None" = None,
    logy: bool = False,
    output: "str | os.PathLike[str] | None" = None,
    name: str | None = None,
    since: Any = None,
    until: Any = None,
    status: "str | Iterable[str] | None" = None,
    where: "str | Iterable[str] | None" = None,
    tags: "str | Iterable[str] | None" = None,
    sort: str | None = None,
    ascending: bool = False,
    limit: int | None = None,
    repo: "Repo | str | os.PathLike[str] | None" = None,
) -> Picture:
    """A step series of several runs overlaid: the twin of `tmt plot`.

    runs:   refs, Run objects or a Runs collection, drawn in that order; or none, and the
            filters (the arguments of `tmt.runs`, plus sort/ascending/limit) choose the newest
            10 runs (or `limit`) that logged `series`
    x:      "step" (as logged), "time" (wall clock) or "rel" (seconds since the run's first point)
    smooth: an EMA weight in [0, 1) (TensorBoard's debiased EMA) or "ma:N" (moving average),
            computed on every point before anything is downsampled
    logy:   a log y axis; values <= 0 are not drawn (the picture's notes count them)
    output: also write the picture to this .svg, .html or .png file

    Returns a Picture: `.to_text(width)`, `.to_svg()`, `.to_html()`, `.save(path)`, and
    inline SVG in a notebook.
    """
    from tmt.repo import Repo

    r = Repo.resolve(repo)
    filters = dict(name=name, since=since, until=until, status=status, where=where, tags=tags)
    chosen = choose_runs(r, series, runs, filters=filters, sort=sort, ascending=ascending, limit=limit)
    picture = series_picture(chosen, series, x=x, smooth=smooth, logy=logy)
    if output is not None:
        picture.save(output)
    return picture


def series_picture(runs: Sequence["Run"], series: str, *, x: str = "step", smooth: Any = None,
                   logy: bool = False) -> Picture:
    fig = series_figure(runs, series, x=x, smooth=smooth, logy=logy)
    meta = f"{len(runs)} run{'s' if len(runs) != 1 else ''}, x: {fig.x_label}" + (", log y" if logy else "")
    rows = [[c.key, c.label, *(f"{c.stats.get(k, float('nan')):.6g}" for k in ("last", "min", "max")), str(len(c.xs))]
            for c in fig.curves]
    return Picture(fig, meta=meta, tables=[(["", "run", "last", "min", "max", "points"], rows)])
