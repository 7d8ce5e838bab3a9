"""tmt ls: the runs, newest first, as a table (or JSON)."""
from __future__ import annotations

import click

from tmt.cli.common import filter_options

#: Runs shown on a terminal unless -n/--all says otherwise (piped output lists them all).
TERMINAL_LIMIT = 50
MAX_METRIC_COLUMNS = 8


@click.command("ls")
@filter_options
@click.option("--metrics", "metric_names", metavar="A,B",
              help="Metric columns to show, comma-separated (default: the most common ones that fit).")
@click.option("-a", "--all", "show_all", is_flag=True,
              help="List every matching run, checkout backups included.")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as a JSON array.")
def command(name, since, until, status, where, tags, sort, asc, limit, metric_names, show_all, as_json) -> None:
    """List runs, newest first: id, name, status, age, duration and metrics.

    Runs whose process died while recording are shown as crashed. Backups that
    `tmt checkout` made are hidden unless --all or --tag checkout-backup is given. Filters
    combine (all must hold). With --sort METRIC the best runs come first (highest; --asc for lowest).
    On a terminal the 50 newest runs are listed unless -n N or --all says otherwise;
    piped, all of them.

    \b
    Examples:
      tmt ls --name '^lr_' --since 7d --where 'f1 > 0.8'
      tmt ls --status crashed --status failed
      tmt ls --sort loss --asc -n 5 --metrics loss,f1
    """
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
    filters = dict(name=name, since=since, until=until, status=list(status) or None, where=list(where) or None,
                   tags=list(tags) or None)
    backups = True if show_all else None  # else shown only for --tag checkout-backup
    if sort:
        runs = select(repo, **filters, backups=backups).sort(sort, descending=not asc)
        _check_sort_key(runs, sort)
    else:
        runs = select(repo, **filters, backups=backups, newest_first=True, limit=None if limit is None else limit + 1)
    more = limit is not None and len(runs) > limit
    if limit is not None:
        runs = runs[:limit]
    if as_json:
        from tmt.cli.output import dump_json

        dump_json([run_json(r) for r in runs])
        return
    if not len(runs):
        filtered = any(v for v in filters.values())
        message("No runs match these filters." if filtered else
                "No runs yet: record one with @tmt.recorder(...) or `with tmt.start_run(...)`.")
        return
    render(out, list(runs), metric_names)
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


def _check_sort_key(runs, key: str) -> None:
    from tmt.errors import UsageError

    metric = key[len("metrics."):] if key.startswith("metrics.") else key
    if key.startswith("params.") or key in ("id", "name", "status", "created_at", "finished_at", "duration_s"):
        return
    if len(runs) and not any(metric in r.metrics for r in runs[:1000]):
        known = sorted({m for r in runs[:1000] for m in r.metrics})
        raise UsageError(f"no run has a metric {metric!r} to sort by",
                         f"metrics they have: {', '.join(known)}" if known else "these runs recorded no metrics")


def choose_metrics(runs, width: int, fixed_width: int, values: dict[str, list[str]]) -> list[str]:
    """The most common metrics first (ties by name) while the table fits in `width`."""
    counts: dict[str, int] = {}
    for r in runs:
        for m in r.metrics:
            counts[m] = counts.get(m, 0) + 1
    chosen = []
    used = fixed_width
    for m in sorted(counts, key=lambda m: (-counts[m], m)):
        w = 2 + max([len(m)] + [len(v) for v in values[m]])
        if used + w > width or len(chosen) >= MAX_METRIC_COLUMNS:
            break
        chosen.append(m)
        used += w
    return chosen


def render(out, runs, metric_names: str | None) -> None:
    from tmt.cli.output import STATUS_STYLES, Column, fmt_age, fmt_duration, fmt_value, message

    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    base = [
        [r.id[:8], r.name, (r.status, STATUS_STYLES.get(r.status, "")), fmt_age(r.created_at, now),
         fmt_duration(r.duration_s)]
        for r in runs
    ]
    all_metrics = sorted({m for r in runs for m in r.metrics})
    if metric_names is not None:
        metrics = [m.strip() for m in metric_names.split(",") if m.strip()]
    else:
        metrics = all_metrics
    values = {m: [fmt_value(r.metrics.get(m), 5) if m in r.metrics else "" for r in runs] for m in metrics}
    if metric_names is None:
        fixed = sum(2 + max(len(h), *(len(row[i] if isinstance(row[i], str) else row[i][0]) for row in base))
                    for i, h in enumerate(("id", "name", "status", "age", "duration")))
        metrics = choose_metrics(runs, out.width, fixed, values)
    columns = [Column("id", style="dim" if out.color else None), Column("name", style="bold" if out.color else None),
               Column("status"), Column("age", justify="right"), Column("duration", justify="right")]
    columns += [Column(m, justify="right") for m in metrics]
    rows = [row + [values[m][i] for m in metrics] for i, row in enumerate(base)]
    out.table(columns, rows)
    hidden = len(all_metrics) - len([m for m in metrics if m in all_metrics])
    if hidden > 0 and metric_names is None and out.rich:
        message(f"({hidden} more metric{'s' if hidden != 1 else ''} not shown; pick with --metrics a,b)")
