"""tmt diff: the code, params and metrics of two runs (or a run and the working tree)."""
from __future__ import annotations

import click

from tmt.cli.common import ref_argument

_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"), ("\\", "dim"))


@click.command("diff")
@ref_argument("a")
@ref_argument("b", required=False)
@click.option("--stat", is_flag=True, help="List the changed files with their added/removed line counts, not the diff.")
@click.option("-U", "--unified", "context", type=click.IntRange(min=0), default=3, show_default=True, metavar="N",
              help="Lines of context around each change.")
@click.option("--no-code", is_flag=True, help="Skip the code; show only params and metrics.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
def command(a: str, b: str | None, stat: bool, context: int, no_code: bool, as_json: bool) -> None:
    """Compare run A with run B: code, then params and metrics.

    The code diff is unified, like git's (a/ is run A, b/ is run B), coloured on a
    terminal. Params and metrics follow side by side, metrics with the change from A to B.
    Without B, run A is compared with the working tree (the code only).

    \b
    A and B are runs: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    from tmt.cli.output import Column, Output, dump_json, fmt_delta, fmt_value
    from tmt.maintenance._progress import StderrProgress
    from tmt.workspace import diff

    with StderrProgress() as progress:  # a bar only on a terminal, only if the snapshot is slow
        d = diff(a, b, progress=progress)
    files = [] if no_code else list(d.file_diffs(context=context))
    if as_json:
        dump_json({
            "a": _side(d.a),
            "b": _side(d.b),
            "files": [_file_json(f, with_lines=not stat) for f in files],
            "params": [{"key": k, "a": va, "b": vb} for k, va, vb in d.params],
            "metrics": [{"key": k, "a": va, "b": vb, "delta": _delta(va, vb)} for k, va, vb in d.metrics],
        })
        return
    out = Output.detect()
    right = f"run {d.b.id[:8]} ({d.b.name})" if d.b is not None else "the working tree"
    left = f"run {d.a.id[:8]} ({d.a.name})"
    if not no_code:
        if not files:
            out.line(f"No code changes between {left} and {right}.", style="dim")
        elif stat:
            _print_stat(out, files, Column)
        else:
            for f in files:
                _print_file(out, f)
    if d.b is None:
        return
    if d.params:
        out.line()
        out.table(
            [Column("param"), Column(f"a: {d.a.id[:8]}", justify="right"), Column(f"b: {d.b.id[:8]}", justify="right"),
             Column("")],
            [[k, fmt_value(va), fmt_value(vb), ("changed", "yellow") if va != vb else ""] for k, va, vb in d.params],
            title="params",
        )
    if d.metrics:
        out.line()
        out.table(
            [Column("metric"), Column(f"a: {d.a.id[:8]}", justify="right"), Column(f"b: {d.b.id[:8]}", justify="right"),
             Column("delta", justify="right")],
            [[k, fmt_value(va), fmt_value(vb), fmt_delta(va, vb)] for k, va, vb in d.metrics],
            title="metrics",
        )


def _side(record) -> dict | None:
    if record is None:
        return None  # the working tree
    return {"id": record.id, "name": record.name, "tree": (record.code or {}).get("tree")}


def _delta(a, b):
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    try:
        return b - a
    except OverflowError:  # an integer beyond the float range against a float
        return None


def _file_json(f, *, with_lines: bool) -> dict:
    c = f.change
    out = {
        "path": f.path,
        "status": c.status,
        "added": f.added,
        "removed": f.removed,
        "binary": f.binary,
        "old_kind": c.old.kind if c.old else None,
        "new_kind": c.new.kind if c.new else None,
        "note": f.note,
    }
    if with_lines:
        out["lines"] = f.lines
    return out


def _print_file(out, f) -> None:
    c = f.change
    old = f"a/{f.path}" if c.old is not None else "/dev/null"
    new = f"b/{f.path}" if c.new is not None else "/dev/null"
    out.line(f"diff --tmt {old} {new}", style="bold")
    if f.note:
        out.line(f.note, style="dim")
    for i, line in enumerate(f.lines):
        style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), None)
        # the ---/+++ headers hold names; the rest is the file's content (escaped on a terminal)
        out.line(line, style=style, content=i >= 2)


def _print_stat(out, files, Column) -> None:
    rows = []
    added = removed = 0
    for f in files:
        added += f.added
        removed += f.removed
        counts = "bin" if f.binary else f"+{f.added} -{f.removed}"
        style = {"added": "green", "removed": "red"}.get(f.change.status, "yellow")
        rows.append([f.path, (f.change.status, style), counts])
    out.table([Column("path"), Column("status"), Column("lines", justify="right")], rows)
    n = len(files)
    out.line(f"{n} file{'s' if n != 1 else ''} changed, {added} insertion{'s' if added != 1 else ''}(+), "
             f"{removed} deletion{'s' if removed != 1 else ''}(-)")
