"""The keys runs have (metrics, params, series), and messages that name a key none has.

A key is written as the CLI and `where` take it: a bare name or `metrics.NAME` is a metric,
`params.NAME` a param (nested ones dotted: `params.opt.lr`), `NAME.last` / `.min` / `.max`
a series statistic (a metric of that very name wins). A typo then gets "did you mean …?"
rather than an empty column or "no runs match".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tmt.query import index as ix
from tmt.records.model import flatten

if TYPE_CHECKING:  # pragma: no cover
    from tmt.query.runs import Runs

#: names listed in a hint before "…"
HINT_NAMES = 12
STAT_SUFFIXES = tuple(f".{s}" for s in ix.SERIES_STATS)


@dataclass(slots=True)
class KnownKeys:
    metrics: set[str] = field(default_factory=set)
    params: set[str] = field(default_factory=set)  # flattened: opt.lr
    series: set[str] = field(default_factory=set)

    def kind(self, key: str) -> str | None:
        """'metric', 'param' or 'stat' for a key some run has; None if none has it."""
        if key.startswith("params."):
            return "param" if key[7:] in self.params else None
        name = key[8:] if key.startswith("metrics.") else key
        if name in self.metrics:
            return "metric"
        stat = ix.series_stat_key(name)
        if stat is not None and stat[0] in self.series:
            return "stat"
        return None

    def names(self, kind: str) -> list[str]:
        """Keys of one kind as they are typed: f1, params.lr, loss.last."""
        if kind == "param":
            return sorted(f"params.{p}" for p in self.params)
        if kind == "stat":
            return sorted(s + suffix for s in self.series for suffix in STAT_SUFFIXES)
        return sorted(self.metrics)


def known_keys(runs: "Runs") -> KnownKeys:
    """The keys any of `runs` has."""
    from tmt.query.runs import unpack_column

    keys = KnownKeys()
    rows = runs._rows
    for d in unpack_column(rows, ix.C_METRICS):
        keys.metrics.update(d)
    for d in unpack_column(rows, ix.C_PARAMS):
        keys.params.update(flatten(d) if any(isinstance(v, dict) for v in d.values()) else d)
    for st in runs.series_stats():
        keys.series.update(st)
    return keys


def _listing(names: list[str]) -> str:
    from tmt.text import printable  # names come from records: never a control character out

    shown = [printable(n) for n in names[:HINT_NAMES]]
    return ", ".join(shown) + (", …" if len(names) > HINT_NAMES else "")


def key_hint(key: str, known: KnownKeys) -> str:
    """"did you mean 'f1'? metrics they have: acc, f1" for a key no run has."""
    import difflib  # only on this error path

    wanted = "param" if key.startswith("params.") else "metric"
    every = known.names("metric") + known.names("param") + known.names("stat")
    close = difflib.get_close_matches(key, every, n=1, cutoff=0.5)  # 0.5: f2 finds f1
    if not close and wanted == "metric":  # `C` typed for the param C, `loss` for a series
        bare = key[8:] if key.startswith("metrics.") else key
        close = [k for k in every if k in (f"params.{bare}", f"{bare}.last")]
    parts = []
    if close:
        parts.append(f"did you mean {close[0]!r}?")
    names = known.names(wanted)
    if names:
        parts.append(f"{wanted}s they have: {_listing(names)}")
    elif wanted == "metric" and known.series:
        parts.append(f"series they have: {_listing(sorted(known.series))} (sort or filter on NAME.last, .min, .max)")
    else:
        parts.append(f"these runs recorded no {wanted}s")
    return " ".join(parts)


def describe(key: str) -> str:
    """"a metric 'f1'", "a param 'lr'", "a series 'loss'" (for loss.last) as messages say it."""
    if key.startswith("params."):
        return f"a param {key[7:]!r}"
    name = key[8:] if key.startswith("metrics.") else key
    stat = ix.series_stat_key(name)
    if stat is not None:
        return f"a metric {name!r} or a series {stat[0]!r}"
    return f"a metric {name!r}"


def where_key(cond: Any) -> str:
    """A parsed where condition's key as typed (f1, params.lr)."""
    return ("params." if cond.key.startswith("p:") else "") + cond.key[2:]
