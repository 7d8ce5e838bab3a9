"""tmt show: everything recorded about one run."""
from __future__ import annotations

import click

from typing import Any

from tmt.cli.common import paged, pager_option, ref_argument
from tmt.cli.output import fmt_value
from tmt.records.model import flatten
from tmt.records.series import summarize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.cli.output import Output
    from tmt.query.run import Run
    from tmt.records.model import Record
    from tmt.records.series import Series


@click.command("show")
@ref_argument()
@click.option("--series", "series_name", metavar="NAME",
              help="Print the values of step series NAME (step, value, time), not the summary.")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON, plus series summaries.")
@click.option("--output", "output", is_flag=True,
              help="Print the output the run's command printed (saved by `tmt run`), and nothing else.")
@pager_option
def command(ref: str, series_name: str | None, as_json: bool, output: bool, no_pager: bool) -> None:
    """Show everything recorded about run REF.

    Params, metrics (in full precision), outputs (returned values that are not numbers),
    step series (points, last value, min, max and a sparkline), artifacts with their sizes,
    the sub-runs, the code snapshot (files, bytes, tree id, git commit), the environment
    (command line, host, Python, the versions of the packages it imported) and the error
    of a failed run. On a terminal the output goes through a pager (see `tmt diff`).

    \b
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    import tmt
    from tmt.query.runs import select

    run = tmt.get(ref)
    if output:
        if as_json or series_name is not None:
            raise click.UsageError("--output prints the saved output as text; it does not combine with "
                                   "--json or --series")
        from tmt.cli.show_output import print_output

        with paged(no_pager):
            print_output(run)
        return
    record = run.record
    if series_name is not None:
        s = run.series(series_name)
        with paged(no_pager):
            show_series(s, as_json)
        return
    series = {}
    for name in run.series_names:
        try:
            series[name] = run.series(name)
        except tmt.errors.TmtError as e:
            from tmt._warn import warn

            warn(f"series {name!r}: {e.message}")
    children = list(select(run.repo, parent=run.id))
    with paged(no_pager):
        if as_json:
            show_json(run, record, series, children)
        else:
            show_text(run, record, series, children)


def show_series(s, as_json: bool) -> None:
    from datetime import datetime, timezone

    from tmt.cli.output import Column, Output, dump_json, fmt_exact

    if as_json:
        dump_json({"name": s.name, "steps": s.steps, "values": s.values, "times": s.times})
        return
    rows = [["-" if step is None else str(step), fmt_exact(value),
             datetime.fromtimestamp(t, timezone.utc).astimezone().isoformat(timespec="milliseconds")]
            for step, value, t in zip(s.steps, s.values, s.times)]
    Output.detect().table([Column("step", justify="right"), Column("value", justify="right"), Column("time")], rows)


def show_json(run, record, series, children) -> None:
    from tmt.cli.output import dump_json
    from tmt.records.model import encode

    data = encode(record)
    data["recorded_status"] = record.status
    data["status"] = run.status
    data["series_summary"] = {name: summarize(s) for name, s in series.items()}
    data["children"] = [{"id": c.id, "name": c.name, "status": c.status} for c in children]
    dump_json(data)


def show_text(run: Run, record: Record, series: dict[str, Series], children: list[Run]) -> None:
    """The record for people: one section after another, each left out when it is empty."""
    from tmt.cli.output import Output

    out = Output.detect()
    _summary(out, run, record)
    for title, values in (("params", flatten(record.params)), ("metrics", record.metrics),
                          ("outputs", record.outputs)):
        if values:
            _values(out, title, values)
    if series:
        _series(out, series)
    if record.artifacts:
        _artifacts(out, record.artifacts)
    if children:
        _children(out, children)
    _code(out, record.code or {})
    env = dict(record.env or {})
    packages = env.pop("packages", None)
    if env:
        _env(out, env)
    if isinstance(packages, dict) and packages:
        out.line()
        out.heading("packages")
        out.key_values([(k, fmt_value(v)) for k, v in sorted(packages.items(), key=lambda kv: str(kv[0]).lower())])
    if record.error:
        _error(out, record.error)


def _summary(out: Output, run: Run, record: Record) -> None:
    from tmt.cli.output import STATUS_STYLES, fmt_age, fmt_duration

    status = run.status
    if status != record.status:
        status_text = f"{status} (recorded as {record.status}; its process is gone)"
    else:
        status_text = status
    out.heading(f"run {record.id}")
    pairs: list[tuple[str, Any]] = [
        ("name", record.name),
        ("status", (status_text, STATUS_STYLES.get(status, ""))),
        ("created", f"{record.created_at} ({fmt_age(record.created_at)})"),
        ("finished", record.finished_at or "-"),
        ("duration", fmt_duration(record.duration_s)),
    ]
    for key, value in (("tags", ", ".join(record.tags)), ("parent", record.parent),
                       ("description", record.description)):
        if value:
            pairs.append((key, value))
    out.key_values(pairs)


def _values(out: Output, title: str, values: dict[str, Any]) -> None:
    """Params, metrics or outputs: in full precision (repr of a float), sorted by key."""
    from tmt.cli.output import fmt_exact

    out.line()
    out.heading(title)
    out.key_values([(k, fmt_exact(v)) for k, v in sorted(values.items())])


def _series(out: Output, series: dict[str, Series]) -> None:
    from tmt.cli.output import Column, can_encode, sparkline

    out.line()
    out.heading("series")
    ascii_only = not can_encode("▁█", out.stream)
    rows = []
    for name, s in sorted(series.items()):
        info = summarize(s)
        rows.append([name, str(info["points"]), fmt_value(info["last"], 5), fmt_value(info["min"], 5),
                     fmt_value(info["max"], 5), (sparkline(s.values, 24, ascii_only=ascii_only), "cyan")])
    out.table([Column("name"), Column("points", justify="right"), Column("last", justify="right"),
               Column("min", justify="right"), Column("max", justify="right"), Column("")], rows, indent=2)


def _artifacts(out: Output, artifacts: list[dict[str, Any]]) -> None:
    from tmt.cli.output import Column, fmt_size

    out.line()
    out.heading("artifacts")
    rows = [[a.get("name", "?"), a.get("format") or "-", fmt_size(a.get("size")), a.get("filename") or "-",
             (a.get("object") or "-")[:12]] for a in artifacts]
    out.table([Column("name"), Column("format"), Column("size", justify="right"), Column("file"),
               Column("object")], rows, indent=2)


def _children(out: Output, children: list[Run]) -> None:
    from tmt.cli.output import STATUS_STYLES, Column, fmt_age

    out.line()
    out.heading("children")
    rows = [[c.id[:8], c.name, (c.status, STATUS_STYLES.get(c.status, "")), fmt_age(c.created_at)]
            for c in sorted(children, key=lambda c: (c.created_at, c.id))]
    out.table([Column("id"), Column("name"), Column("status"), Column("age", justify="right")], rows,
              indent=2, show_header=False)


def _code(out: Output, code: dict[str, Any]) -> None:
    from tmt.cli.output import fmt_size

    out.line()
    out.heading("code")
    if not code.get("tree"):
        out.line("  no code snapshot")
        return
    pairs = [
        ("root", code.get("root") or "-"),
        ("files", f"{code.get('files', '-')} ({fmt_size(code.get('bytes'))})"),
        ("tree", code["tree"]),
    ]
    git = code.get("git")
    if git:
        commit = str(git.get("commit") or "-")  # a hand-edited record may hold any JSON here
        extra = [str(x) for x in (git.get("branch"), "dirty" if git.get("dirty") else None) if x]
        pairs.append(("git", commit + (f" ({', '.join(extra)})" if extra else "")))
    out.key_values(pairs)


def _env(out: Output, env: dict[str, Any]) -> None:
    out.line()
    out.heading("env")
    pairs = []
    for k in sorted(env):
        v = env[k]
        if k == "argv" and isinstance(v, list):
            import shlex

            v = shlex.join(str(a) for a in v)
        pairs.append((k, fmt_value(v)))
    out.key_values(pairs)


def _error(out: Output, err: dict[str, Any]) -> None:
    out.line()
    out.heading("error")
    out.line(f"  {err.get('type', 'Error')}: {err.get('message', '')}", style="red")
    tb = err.get("traceback")
    if tb:
        for line in str(tb).rstrip("\n").split("\n"):
            out.line("  " + line, style="dim")
