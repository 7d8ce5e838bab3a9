"""tmt ls: the runs, newest first, as a table (or JSON)."""
from __future__ import annotations

from dataclasses import dataclass

import click

from tmt.cli.common import complete_ref, filter_options

#: Runs shown on a terminal unless -n/--all says otherwise (piped output lists them all).
TERMINAL_LIMIT = 50
#: Fixed columns: id, name, status, age, duration (the name shrinks first).
FIXED = ("id", "name", "status", "age", "duration")
NAME_COLUMN = 1
#: Characters between two columns (plain text and rich tables alike).
COLUMN_GAP = 2
#: Dropped columns named in the note before "…".
NOTE_NAMES = 6


@click.command("ls")
@filter_options
@click.option("--parent", metavar="REF", shell_complete=complete_ref, help="Only the sub-runs of run REF.")
@click.option("--metrics", "metric_names", metavar="A,B",
              help="Metric columns, comma-separated (default: the most common ones that fit).")
@click.option("--params", "param_names", metavar="A,B",
              help="Param columns, comma-separated (default: the params whose values differ among the runs "
                   "listed; '' for none).")
@click.option("--columns", "column_names", metavar="A,B",
              help="Exactly these columns after the fixed ones: metrics, params.NAME, NAME.last/.min/.max.")
@click.option("-a", "--all", "show_all", is_flag=True,
              help="List every matching run, checkout backups included.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON array.")
def command(name, since, until, status, where, tags, sort, asc, limit, parent, metric_names, param_names,
            column_names, show_all, as_json) -> None:
    """List runs, newest first: id, name, status, age, duration, metrics and params.

    After the metrics come the params whose values differ among the listed runs (a param
    that every listed run has with the same value says nothing). Runs whose process died
    while recording are shown as crashed; backups that `tmt checkout` made are hidden
    unless --all or --tag checkout-backup is given; runs that did not complete show the
    last value of each step series they logged. Filters combine (all must hold). With --sort KEY the best
    runs come first (highest; --asc for lowest); KEY is a metric, params.NAME, or a series
    statistic NAME.last, NAME.min, NAME.max (also in --where).

    On a terminal the 50 newest runs are listed unless -n N or --all says otherwise, and
    the table fits the width: the name column shrinks first, then columns that do not fit
    are left out (a note on stderr names them). Piped, every run and every column is
    printed, unless $COLUMNS sets a width.

    \b
    Examples:
      tmt ls --name '^lr_' --since 7d --where 'f1 > 0.8'
      tmt ls --status crashed --status failed
      tmt ls --sort loss.min --asc -n 5 --metrics loss,f1 --params lr,dataset
      tmt ls --columns f1,params.C,loss.last
      tmt ls --parent sweep
    """
    import tmt
    from tmt.cli.output import Output, message
    from tmt.query.runs import select
    from tmt.repo import Repo

    out = Output.detect()
    if limit is None and not show_all and out.rich and not as_json:
        limit = TERMINAL_LIMIT
        implicit = True
    else:
        implicit = False
    if show_all:
        limit = None
    repo = Repo.find()
    parent_id = tmt.get(parent, repo=repo).id if parent else None
    filters = dict(name=name, since=since, until=until, status=list(status) or None, tags=list(tags) or None,
                   parent=parent_id)
    wheres = list(where) or None
    backups = True if show_all else None  # else shown only for --tag checkout-backup
    if sort:
        runs = select(repo, **filters, where=wheres, backups=backups)
        check_sort_key(runs, sort)
        runs = runs.sort(sort, descending=not asc)
    else:
        runs = select(repo, **filters, where=wheres, backups=backups, newest_first=True, limit=None if limit is None else limit + 1)
    if not len(runs) and wheres:
        check_where_keys(select(repo, **filters, backups=backups), wheres)
    more = limit is not None and len(runs) > limit
    if limit is not None:
        runs = runs[:limit]
    if as_json:
        from tmt.cli.output import dump_json

        dump_json([run_json(r) for r in runs])
        return
    if not len(runs):
        filtered = any(v for v in filters.values()) or bool(wheres)
        message("No runs match these filters." if filtered else
                "No runs yet: record one with @tmt.recorder(...) or `with tmt.start_run(...)`.")
        return
    render(out, runs, metric_names, param_names, column_names)
    if more and implicit:
        message(f"(the {limit} newest shown; -n N or --all for more)")


def run_json(r) -> dict:
    return {
        "id": r.id,
        "name": r.name,
        "status": r.status,
        "created_at": r.created_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "duration_s": r.duration_s,
        "tags": r.tags,
        "parent": r.parent,
        "params": r.params,
        "metrics": r.metrics,
    }


# -- keys the user named ------------------------------------------------------------------

_FIELDS = ("id", "name", "status", "created_at", "finished_at", "duration_s")


def check_sort_key(runs, key: str) -> None:
    """A sort key no run has is an error naming the closest keys (not a silent order)."""
    from tmt.errors import UsageError
    from tmt.query.keys import describe, key_hint, known_keys

    if key in _FIELDS or not len(runs):
        return
    if known_keys(runs[:1000]).kind(key) is not None:
        return
    known = known_keys(runs)
    if known.kind(key) is None:
        raise UsageError(f"no run has {describe(key)} to sort by", key_hint(key, known))


def check_where_keys(runs, wheres: list[str]) -> None:
    """`--where` on a key none of these runs has (they are the runs the other filters
    select) is an error naming the closest keys, not "no runs match"."""
    from tmt.errors import UsageError
    from tmt.query.filters import parse_where_list
    from tmt.query.keys import describe, key_hint, known_keys, where_key

    if not len(runs):
        return
    known = known_keys(runs)
    for cond in parse_where_list(wheres):
        key = where_key(cond)
        if known.kind(key) is None:
            raise UsageError(f"no run has {describe(key)} (in --where {cond.text!r})", key_hint(key, known))


# -- the table ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValueColumn:
    kind: str  # "metric" | "param" | "stat"
    key: str  # metric name, param name (dotted), or NAME.last/.min/.max

    @property
    def header(self) -> str:
        return f"params.{self.key}" if self.kind == "param" else self.key


class Table:
    """What the listed runs hold, for choosing and filling columns."""

    def __init__(self, runs) -> None:
        from tmt.query.keys import KnownKeys
        from tmt.records.model import flatten

        self.runs = list(runs)
        self.stats = runs.series_stats()
        self.params = [flatten(p) if any(type(v) is dict for v in p.values()) else p
                       for p in (r.params for r in self.runs)]
        self.metrics = [r.metrics for r in self.runs]
        # Runs that did not complete show their series' last values where they have no
        # final metric of that name (a crashed run's loss, as far as it got).
        self.filled: list[set[str]] = []
        self.shown: list[dict] = []
        for r, m, st in zip(self.runs, self.metrics, self.stats):
            extra = {n: v[0] for n, v in st.items() if n not in m} if r.status != "completed" else {}
            self.filled.append(set(extra))
            self.shown.append({**m, **extra} if extra else m)
        self.known = KnownKeys()
        for p, m, st in zip(self.params, self.shown, self.stats):
            self.known.params.update(p)
            self.known.metrics.update(m)
            self.known.series.update(st)

    def default_metrics(self) -> list[ValueColumn]:
        counts: dict[str, int] = {}
        for m in self.shown:
            for k in m:
                counts[k] = counts.get(k, 0) + 1
        return [ValueColumn("metric", k) for k in sorted(counts, key=lambda k: (-counts[k], k))]

    def changed_params(self) -> list[ValueColumn]:
        """Params whose values differ among the runs (a missing value differs too)."""
        keys = sorted({k for p in self.params for k in p})
        missing = object()
        out = []
        for k in keys:
            first = self.params[0].get(k, missing)
            # stops at the first run that differs; 1 == 1.0 == True differ as JSON does
            if any(_differ(first, p.get(k, missing)) for p in self.params):
                out.append(ValueColumn("param", k))
        return out

    def resolve(self, items: str, prefer: str) -> list[ValueColumn]:
        """Columns the user named; a key no listed run has is named on stderr and left out."""
        from tmt._warn import warn
        from tmt.query.keys import describe, key_hint

        cols = []
        for item in (i.strip() for i in items.split(",")):
            if not item:
                continue
            col = self._column(item, prefer)
            if col is None:
                typed = f"params.{item}" if prefer == "param" and not item.startswith(("params.", "metrics.")) else item
                warn(f"no listed run has {describe(typed)}; {key_hint(typed, self.known)}")
            elif col not in cols:
                cols.append(col)
        return cols

    def _column(self, item: str, prefer: str) -> ValueColumn | None:
        """`params.C` / `metrics.f1` as written; a bare name as the preferred kind, else the
        other (`--metrics C` for a param C is what the user meant)."""
        if item.startswith(("params.", "metrics.")):
            candidates = [item]
        else:
            candidates = [f"params.{item}", item] if prefer == "param" else [item, f"params.{item}"]
        for key in candidates:
            kind = self.known.kind(key)
            if kind == "param":
                return ValueColumn(kind, key[7:])
            if kind is not None:
                return ValueColumn(kind, key[8:] if key.startswith("metrics.") else key)
        return None

    def choose(self, metric_names: str | None, param_names: str | None, column_names: str | None) -> list[ValueColumn]:
        """The value columns after the fixed ones: exactly --columns; else --metrics (default:
        the most common metrics) then --params (default: the params that differ)."""
        if column_names is not None:
            return self.resolve(column_names, "metric")
        metrics = self.resolve(metric_names, "metric") if metric_names is not None else self.default_metrics()
        params = self.resolve(param_names, "param") if param_names is not None else self.changed_params()
        return metrics + [p for p in params if p not in metrics]

    def has_text(self, param: str) -> bool:
        """Whether a param column holds text (left-aligned) rather than numbers."""
        return any(isinstance(p.get(param), (str, list, dict)) for p in self.params)

    def cells(self, col: ValueColumn) -> list:
        """The column's cell of every run: text, or (text, style) for a series' last value
        shown in place of a final metric. (One pass per column: 100,000 rows piped.)"""
        from tmt.cli.output import fmt_exact, fmt_value
        from tmt.query import index as ix

        key = col.key
        if col.kind == "param":  # a setting, as it was given: never rounded
            return [fmt_exact(p[key]) if key in p else "" for p in self.params]
        stat = ix.series_stat_key(key) if col.kind == "stat" else None
        out: list = []
        for shown, filled, stats in zip(self.shown, self.filled, self.stats):
            if key in shown:
                text = fmt_value(shown[key], 5)
                out.append((text, "dim") if key in filled else text)
            elif stat is not None and (st := stats.get(stat[0])) is not None and st[stat[1]] is not None:
                out.append(fmt_value(st[stat[1]], 5))
            else:
                out.append("")
        return out


def render(out, runs, metric_names: str | None, param_names: str | None, column_names: str | None) -> None:
    from datetime import datetime, timezone

    from tmt.cli.output import (
        STATUS_STYLES, Column, cell_text, clean_cells, fit_columns, fmt_age, fmt_duration, message, shorten,
    )

    table = Table(runs)
    columns = table.choose(metric_names, param_names, column_names)
    now = datetime.now(timezone.utc)
    values = [table.cells(c) for c in columns]
    rows = [
        clean_cells([r.id[:8], r.name, (r.status, STATUS_STYLES.get(r.status, "")), fmt_age(r.created_at, now),
                     fmt_duration(r.duration_s), *(v[i] for v in values)])
        for i, r in enumerate(table.runs)
    ]
    headers = list(FIXED) + [c.header for c in columns]
    widths = [len(cell_text(h)) for h in headers]
    for j in range(len(headers)):
        widths[j] = max(widths[j], max(len(row[j][0]) for row in rows))
    fit = fit_columns(widths, len(FIXED), out.width_limit(), COLUMN_GAP, shrink=NAME_COLUMN)
    if fit.shrink_to is not None:
        for row in rows:
            row[NAME_COLUMN] = (shorten(row[NAME_COLUMN][0], fit.shrink_to, out.ellipsis), None)
    specs = [Column("id", style="dim" if out.color else None), Column("name", style="bold" if out.color else None),
             Column("status"), Column("age", justify="right"), Column("duration", justify="right")]
    specs += [Column(c.header, justify="left" if c.kind == "param" and table.has_text(c.key) else "right")
              for c in columns]
    for j, spec in enumerate(specs):
        if j != NAME_COLUMN:  # should a wide character fool the count, only the name gives way
            spec.min_width = widths[j]
    kept = fit.kept
    out.table([specs[j] for j in kept], rows if len(kept) == len(specs) else [[row[j] for j in kept] for row in rows],
              cleaned=True)
    if fit.dropped:
        names = [cell_text(headers[j]) for j in fit.dropped]
        listed = ", ".join(names[:NOTE_NAMES]) + (", …" if len(names) > NOTE_NAMES else "")
        n = len(names)
        message(f"({n} more column{'s' if n != 1 else ''} did not fit: {listed}; choose with --columns, "
                "or widen the terminal)")


def _differ(a, b) -> bool:
    return type(a) is not type(b) or a != b
