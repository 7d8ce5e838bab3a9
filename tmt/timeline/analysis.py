"""The metric timeline: a metric across runs in the order they ran, its jumps explained.

Steps, in order: the runs (oldest first) with a finite value of the metric; what each
recorded as inputs; the changes at every boundary; the noise (from repeats, else from
run-to-run differences); change points against that noise, each moved to a nearby
boundary where an input changed when the data allow; then, per jump, its changes ranked
by how specific they are to jumps (`tmt.timeline.attribution`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tmt.errors import UsageError
from tmt.timeline import changepoints as cp
from tmt.timeline.attribution import Attribution, Cause, Change, Differ, inputs_of, repeat_groups, volatile_params

if TYPE_CHECKING:  # pragma: no cover
    from tmt.plot.picture import Picture
    from tmt.query.run import Run
    from tmt.repo import Repo

POINTS = "#4e79a7"
LEVEL = "#e15759"
#: causes listed per jump in the terminal and pictures (--json lists them all)
SHOWN_CAUSES = 6


@dataclass(slots=True)
class Jump:
    number: int  # 1-based, in run order: the marker on the chart
    index: int  # position of `run` in Timeline.runs
    run: "Run"  # the first run at the new level
    before: "Run"  # the run just before it
    level_before: float
    level_after: float
    sigma: float
    causes: list[Cause]

    @property
    def delta(self) -> float:
        return self.level_after - self.level_before

    @property
    def z(self) -> float:
        return abs(self.delta) / self.sigma if self.sigma > 0 else math.inf

    def to_json(self) -> dict[str, Any]:
        def entry(c: Cause) -> dict[str, Any]:
            return {"before": c.change.before, "after": c.change.after, "status": c.change.status,
                    "score": round(c.score, 4), "changed_at": c.changed_at}

        return {
            "number": self.number,
            "index": self.index,
            "run": self.run.id,
            "before": self.before.id,
            "delta": self.delta,
            "level_before": self.level_before,
            "level_after": self.level_after,
            "z": round(self.z, 3) if math.isfinite(self.z) else None,
            "params": {c.change.name: entry(c) for c in self.causes if c.change.kind == "param"},
            "files": [c.change.name for c in self.causes if c.change.kind == "file"],
            "functions": [c.change.name for c in self.causes if c.change.kind == "function"],
            "packages": {c.change.name: entry(c) for c in self.causes if c.change.kind == "package"},
            "causes": [{"kind": c.change.kind, "name": c.change.name, "before": c.change.before,
                        "after": c.change.after, "status": c.change.status, "note": c.change.note or None,
                        "score": round(c.score, 4), "changed_at": c.changed_at, "at_jumps": c.at_jumps}
                       for c in self.causes],
        }


@dataclass(slots=True)
class Timeline:
    metric: str
    runs: list["Run"]
    values: list[float]
    levels: list[float]
    noise: cp.Noise
    jumps: list[Jump]
    quiet: list[tuple[int, Change]] = field(default_factory=list)  # input changes without a jump
    skipped: int = 0  # runs without a finite value of the metric
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        jump_at = {j.index: j.number for j in self.jumps}
        return {
            "metric": self.metric,
            "noise": {"sigma": self.noise.sigma, "method": self.noise.method, "samples": self.noise.samples},
            "runs": [{"id": r.id, "name": r.name, "created_at": r.created_at.isoformat(), "value": v, "level": lv,
                      "jump": jump_at.get(i)}
                     for i, (r, v, lv) in enumerate(zip(self.runs, self.values, self.levels))],
            "jumps": [j.to_json() for j in self.jumps],
            "quiet": [{"run": self.runs[k].id, "before": self.runs[k - 1].id, "kind": c.kind, "name": c.name}
                      for k, c in self.quiet],
            "skipped": self.skipped,
        }

    # -- pictures ---------------------------------------------------------------------------

    def picture(self) -> "Picture":
        from tmt.plot.figure import Curve, Figure, Marker
        from tmt.plot.picture import Picture
        from tmt.text import printable

        n = len(self.runs)
        xs = [float(i) for i in range(n)]
        lx: list[float] = []
        ly: list[float] = []
        bounds = [0, *(j.index for j in self.jumps), n]
        for a, b in zip(bounds, bounds[1:]):
            lx += [max(a - 0.5, 0.0), min(b - 0.5, n - 1.0)]
            ly += [self.levels[a]] * 2
        curves = [Curve("level", lx, ly, LEVEL),  # under the points
                  Curve("runs", xs, list(self.values), POINTS, kind="points")]
        fig = Figure(title=f"{printable(self.metric)} across {n} run{'s' if n != 1 else ''}", curves=curves,
                     x_label="runs in the order they ran (1 = oldest)", x_kind="index", legend=False,
                     markers=[Marker(j.index - 0.5, str(j.number)) for j in self.jumps])
        fig.captions = self._captions()
        fig.notes = self._notes()
        rows = []
        for j in self.jumps:
            causes = "; ".join(describe(c.change) for c in j.causes[:SHOWN_CAUSES]) or "nothing recorded changed"
            rows.append([str(j.number), f"{j.index + 1}", f"{j.run.short_id} {printable(j.run.name)}",
                         f"{j.delta:+.4g}", causes])
        meta = f"{n} runs, noise sigma {self.noise.sigma:.3g} ({self.noise.method}), {len(self.jumps)} jumps"
        return Picture(fig, meta=meta, tables=[(["", "run", "id", "delta", "what changed (best first)"], rows)])

    def _captions(self) -> list[list[tuple[str, str | None]]]:
        from tmt.text import printable

        out: list[list[tuple[str, str | None]]] = []
        if not self.jumps:
            out.append([("No jump above the noise", "bold"),
                        (f" (sigma {self.noise.sigma:.3g}, from {self.noise.method}).", None)])
        for j in self.jumps:
            out.append([(f"[{j.number}] ", "bold"),
                        (f"run {j.index + 1} {j.run.short_id} ({printable(j.run.name)}): ", None),
                        (f"{j.delta:+.4g}", "bold green" if j.delta > 0 else "bold red"),
                        (f"  {j.level_before:.4g} -> {j.level_after:.4g}, {_z(j)}", None)])
            if not j.causes:
                out.append([("    nothing recorded changed (data outside the code root? hardware? chance?)", "dim")])
            for c in j.causes[:SHOWN_CAUSES]:
                ranked_down = c.changed_at > c.at_jumps
                why = ""
                if ranked_down:
                    why = f"  (also changed at {c.changed_at - c.at_jumps} boundar{'ies' if c.changed_at - c.at_jumps != 1 else 'y'} without a jump)"
                elif c.change.note:
                    why = f"  ({c.change.note})"
                out.append([(f"    {c.change.kind:<8} ", "dim"), (describe(c.change), "dim" if ranked_down else None),
                            (why, "dim")])
            if len(j.causes) > SHOWN_CAUSES:
                out.append([(f"    … {len(j.causes) - SHOWN_CAUSES} more (--json lists every change)", "dim")])
        return out

    def _notes(self) -> list[str]:
        notes = [f"noise: sigma {self.noise.sigma:.3g}, from {_method(self.noise)}"]
        quiet_names: dict[str, int] = {}
        for k, c in self.quiet:
            if c.kind != "function":
                quiet_names.setdefault(f"{c.kind} {c.name}", k + 1)
        if quiet_names:
            shown = [f"{name} (run {k})" for name, k in list(quiet_names.items())[:5]]
            more = len(quiet_names) - len(shown)
            notes.append("changed without a jump: " + ", ".join(shown) + (f", +{more} more" if more > 0 else ""))
        if self.skipped:
            notes.append(f"{self.skipped} run{'s' if self.skipped != 1 else ''} without a finite "
                         f"{self.metric} left out")
        notes.extend(self.problems)
        return notes

    def save(self, path: "str | os.PathLike[str]"):
        return self.picture().save(path, formats=(".svg", ".html", ".png"))


def _z(j: Jump) -> str:
    return f"{j.z:.1f} sigma" if math.isfinite(j.z) else "noise-free"


def _method(noise: cp.Noise) -> str:
    if noise.method == "repeats":
        return f"{noise.samples} differences between repeated runs (same code and params)"
    if noise.method == "differences":
        return f"the median of {noise.samples} run-to-run differences"
    return "too few runs"


def fmt_value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (int, str)):
        return str(value)
    import json

    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def describe(c: Change) -> str:
    """One change in a line: `lr 0.1 -> 0.03`, `model.py:train`, `README.md (added)`."""
    from tmt.text import printable

    if c.kind in ("param", "package"):
        if c.status == "added":
            return f"{printable(c.name)} = {printable(fmt_value(c.after))} (new)"
        if c.status == "removed":
            return f"{printable(c.name)} removed (was {printable(fmt_value(c.before))})"
        return f"{printable(c.name)} {printable(fmt_value(c.before))} -> {printable(fmt_value(c.after))}"
    suffix = "" if c.status == "modified" else f" ({c.status})"
    return printable(c.name) + suffix


def metric_value(run: "Run", metric: str) -> float | None:
    v = run.metrics.get(metric[8:] if metric.startswith("metrics.") else metric)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def analyse(runs: Iterable["Run"], metric: str, repo: "Repo") -> Timeline:
    """The timeline of `metric` over `runs` (taken in the order given)."""
    chosen, values = [], []
    skipped = 0
    for run in runs:
        v = metric_value(run, metric)
        if v is None:
            skipped += 1
            continue
        chosen.append(run)
        values.append(v)
    differ = Differ(repo)
    inputs = []
    for run in chosen:
        try:
            inputs.append(inputs_of(run.record))
        except Exception as e:  # a record gone or corrupt since the query: compared as empty
            differ.problems.append(f"run {run.short_id}: {getattr(e, 'message', e)}")
            from tmt.timeline.attribution import RunInputs

            inputs.append(RunInputs(run.id, {}, {}, None, None))
    volatile = volatile_params(inputs)
    noise = cp.estimate_noise(values, repeat_groups(inputs, volatile))
    attribution = Attribution.compute(differ, inputs)
    found = cp.change_points(values, noise.sigma)
    found = cp.snap(values, found, noise.sigma, attribution.substantive(volatile))
    levels = cp.levels(values, found)
    causes = attribution.causes(found)
    jumps = [Jump(n, k, chosen[k], chosen[k - 1], levels[k - 1], levels[k], noise.sigma, causes[k])
             for n, k in enumerate(found, 1)]
    return Timeline(metric, chosen, values, levels, noise, jumps, attribution.quiet(found, volatile), skipped,
                    differ.problems)


def timeline(
    metric: str,
    *,
    name: str | None = None,
    since: Any = None,
    until: Any = None,
    status: "str | Iterable[str] | None" = None,
    where: "str | Iterable[str] | None" = None,
    tags: "str | Iterable[str] | None" = None,
    limit: int | None = None,
    output: "str | os.PathLike[str] | None" = None,
    repo: "Repo | str | os.PathLike[str] | None" = None,
) -> Timeline:
    """`metric` across the runs that match the filters, oldest first, with its jumps
    explained: the twin of `tmt timeline`.

    Filters are those of `tmt.runs`; `limit` keeps the newest N runs. Runs without a
    finite value of `metric` are left out (`Timeline.skipped` counts them). Returns a
    Timeline: `.jumps` (each with `.run`, `.before`, `.delta`, ranked `.causes`),
    `.to_json()` (what `tmt timeline --json` prints), `.picture()`, `.save(path)`.
    """
    from tmt.query.runs import select
    from tmt.repo import Repo

    r = Repo.resolve(repo)
    filters = dict(name=name, since=since, until=until, status=status, where=where, tags=tags)
    if limit is not None:
        runs = list(select(r, **filters, newest_first=True, limit=limit))[::-1]
    else:
        runs = list(select(r, **filters))
    if not runs:
        raise UsageError("no runs match these filters" if any(v for v in filters.values()) else "no runs yet",
                         "list runs with `tmt ls`")
    tl = analyse(runs, metric, r)
    if not tl.runs:
        known: set[str] = set()
        for run in runs[-1000:]:
            known.update(run.metrics)
        raise UsageError(f"no run among these {len(runs)} has a numeric metric {metric!r}",
                         f"metrics they have: {', '.join(sorted(known))}" if known else
                         "record final metrics by returning a dict from the run")
    if output is not None:
        tl.save(output)
    return tl
