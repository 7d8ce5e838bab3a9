"""tmt export: runs as CSV or JSON, one row per run, for spreadsheets and scripts."""
from __future__ import annotations

import click

from tmt.cli.common import filter_options


@click.command("export")
@click.option("-f", "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True,
              help="Output format.")
@click.option("-o", "--output", "path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write to FILE instead of stdout: a file is replaced atomically (keeping its mode), a FIFO or "
                   "device is written into; no folder is created.")
@filter_options
def command(fmt: str, path: str | None, name, since, until, status, where, tags, sort, asc, limit) -> None:
    """Export runs, newest first (the same filters as `tmt ls`).

    One row per run: id, name, status, created_at, finished_at, duration_s, tags, parent,
    then one column per param (params.*, nested params as params.a.b) and per metric
    (metrics.*). CSV cells of runs without a value are empty; tags are a JSON array; NaN
    and infinities are written NaN, Infinity, -Infinity. JSON is an array of the same
    objects (flat keys).

    \b
    Examples:
      tmt export > runs.csv
      tmt export --format json --name '^sweep' --where 'f1 > 0.8' -o best.json
    """
    from tmt.cli.cmd_ls import check_sort_key, check_where_keys
    from tmt.cli.output import message
    from tmt.query.runs import select
    from tmt.repo import Repo

    repo = Repo.find()
    filters = dict(name=name, since=since, until=until, status=list(status) or None, tags=list(tags) or None)
    wheres = list(where) or None
    if sort:
        runs = select(repo, **filters, where=wheres)
        check_sort_key(runs, sort)
        runs = runs.sort(sort, descending=not asc)
    else:
        runs = select(repo, **filters, where=wheres, newest_first=True, limit=limit)
    if not len(runs) and wheres:
        check_where_keys(select(repo, **filters), wheres)
    if limit is not None:
        runs = runs[:limit]
    records = flatten_nested(runs.to_records())
    text = to_csv(records) if fmt == "csv" else _to_json(records)
    if path is None:
        click.echo(text, nl=False)
        return
    from tmt.userfile import write_user_file

    write_user_file(path, text.encode("utf-8"))
    message(f"Exported {len(records)} run{'s' if len(records) != 1 else ''} to {path}")


def flatten_nested(records: list[dict]) -> list[dict]:
    """Nested params as dotted columns: a `params.opt` holding {"lr": 0.1} becomes `params.opt.lr`."""
    from tmt.workspace import flatten

    nested = {k for r in records for k, v in r.items() if k.startswith("params.") and isinstance(v, dict) and v}
    if not nested:
        return records
    out = []
    for r in records:
        row = {}
        for k, v in r.items():
            if k in nested:
                if isinstance(v, dict) and v:
                    row.update(flatten(v, k + "."))
            else:
                row[k] = v
        out.append(row)
    return out


def _columns(records: list[dict]) -> list[str]:
    cols: dict[str, None] = {}
    for r in records:
        for k in r:
            cols.setdefault(k, None)
    fixed = [k for k in cols if not k.startswith(("params.", "metrics."))]
    return fixed + sorted(k for k in cols if k.startswith("params.")) + sorted(k for k in cols if k.startswith("metrics."))


def to_csv(records: list[dict]) -> str:
    import csv
    import io
    import json

    from tmt.records.model import encode_metric
    from tmt.text import printable

    # Text cells are escaped as everywhere tmt prints (a name holding ESC [ … would drive the
    # terminal of whoever cats the file); `--format json` keeps every string exactly.
    def cell(v):
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return encode_metric(v)
        if isinstance(v, (list, dict)):
            return printable(json.dumps(v, ensure_ascii=False, sort_keys=True))
        if isinstance(v, str):
            return printable(v)
        return v

    buf = io.StringIO()
    cols = _columns(records) if records else ["id", "name", "status", "created_at", "finished_at", "duration_s",
                                              "tags", "parent"]
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([printable(c) for c in cols])
    for r in records:
        w.writerow([cell(r.get(c)) for c in cols])
    return buf.getvalue()


def _to_json(records: list[dict]) -> str:
    from tmt.cli.output import dumps_json

    cols = _columns(records)
    return dumps_json([{c: r.get(c) for c in cols} for r in records]) + "\n"
