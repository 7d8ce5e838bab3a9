"""tmt show: everything recorded about one run."""
from __future__ import annotations

import math

import click

from tmt.cli.common import ref_argument


@click.command("show")
@ref_argument()
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON, plus series summaries.")
@click.option("--output", "output", is_flag=True,
              help="Print the output the run's command printed (saved by `tmt run`), and nothing else.")
def command(ref: str, as_json: bool, output: bool) -> None:
    """Show everything recorded about run REF.

    Params, metrics, step series (points, last value, min, max and a sparkline),
    artifacts with their sizes, the code snapshot (files, bytes, tree id, git commit), the
    environment (command line, host, Python) and the error of a failed run.

    \b
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    import tmt

    run = tmt.get(ref)
    if output:
        if as_json:
            raise click.UsageError("--output prints the saved output as text; it does not combine with --json")
        from tmt.cli.show_output import print_output

        print_output(run)
        return
    record = run.record
    series = {}
    for name in run.series_names:
        try:
            series[name] = run.series(name)
        except tmt.errors.TmtError as e:
            from tmt._warn import warn

            warn(f"series {name!r}: {e.message}")
    if as_json:
        show_json(run, record, series)
    else:
        show_text(run, record, series)


def summarize(s) -> dict:
    finite = [v for v in s.values if isinstance(v, (int, float)) and math.isfinite(v)]
    steps = [st for st in s.steps if st is not None]
    return {
        "points": len(s.values),
        "last": s.values[-1] if s.values else None,
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
        "first_step": steps[0] if steps else None,
        "last_step": steps[-1] if steps else None,
    }


def show_json(run, record, series) -> None:
    from tmt.cli.output import dump_json
    from tmt.records.model import encode

    data = encode(record)
    data["recorded_status"] = record.status
    data["status"] = run.status
    data["series_summary"] = {name: summarize(s) for name, s in series.items()}
    dump_json(data)


def show_text(run, record, series) -> None:
    from tmt.cli.output import (
        STATUS_STYLES, Column, Output, can_encode, fmt_age, fmt_duration, fmt_size, fmt_value, sparkline,
    )
    from tmt.workspace import flatten

    out = Output.detect()
    status = run.status
    if status != record.status:
        status_text = f"{status} (recorded as {record.status}; its process is gone)"
    else:
        status_text = status
    out.heading(f"run {record.id}")
    pairs = [
        ("name", record.name),
        ("status", (status_text, STATUS_STYLES.get(status, ""))),
        ("created", f"{record.created_at} ({fmt_age(record.created_at)})"),
        ("finished", record.finished_at or "-"),
        ("duration", fmt_duration(record.duration_s)),
    ]
    if record.tags:
        pairs.append(("tags", ", ".join(record.tags)))
    if record.parent:
        pairs.append(("parent", record.parent))
    if record.description:
        pairs.append(("description", record.description))
    out.key_values(pairs)

    if record.params:
        out.line()
        out.heading("params")
        out.key_values([(k, fmt_value(v)) for k, v in sorted(flatten(record.params).items())])
    if record.metrics:
        out.line()
        out.heading("metrics")
        out.key_values([(k, fmt_value(v)) for k, v in sorted(record.metrics.items())])
    if series:
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
    if record.artifacts:
        out.line()
        out.heading("artifacts")
        rows = [[a.get("name", "?"), a.get("format") or "-", fmt_size(a.get("size")), a.get("filename") or "-",
                 (a.get("object") or "-")[:12]] for a in record.artifacts]
        out.table([Column("name"), Column("format"), Column("size", justify="right"), Column("file"),
                   Column("object")], rows, indent=2)
    code = record.code or {}
    out.line()
    out.heading("code")
    if code.get("tree"):
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
    else:
        out.line("  no code snapshot")
    env = record.env or {}
    if env:
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
    if record.error:
        err = record.error
        out.line()
        out.heading("error")
        out.line(f"  {err.get('type', 'Error')}: {err.get('message', '')}", style="red")
        tb = err.get("traceback")
        if tb:
            for line in str(tb).rstrip("\n").split("\n"):
                out.line("  " + line, style="dim")
