"""tmt diff: the code, params, metrics and packages of two runs (or a run and the working tree)."""
from __future__ import annotations

import click

from tmt.cli.common import paged, pager_option, ref_argument

_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"), ("\\", "dim"))
_HEADER_STYLE = "bold"


@click.command("diff")
@ref_argument("a")
@ref_argument("b", required=False)
@click.option("--stat", is_flag=True, help="List the changed files with their added/removed line counts, not the diff.")
@click.option("-U", "--unified", "context", type=click.IntRange(min=0), default=3, show_default=True, metavar="N",
              help="Lines of context around each change.")
@click.option("--code", "code_only", is_flag=True, help="Print the patch alone (for `git apply`), no params or metrics.")
@click.option("--no-code", is_flag=True, help="Skip the code; show only params, metrics and packages.")
@click.option("--binary/--no-binary", default=None,
              help="Binary files as a GIT binary patch, which `git apply` applies (default: when piped).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@pager_option
def command(a: str, b: str | None, stat: bool, context: int, code_only: bool, no_code: bool, binary: bool | None,
            as_json: bool, no_pager: bool) -> None:
    """Compare run A with run B: code, then params, metrics and package versions.

    The code diff is a patch in git's format (a/ is run A, b/ is run B): file modes, new,
    deleted and empty files, renames (the same content, or at least half of it, under a new
    path) and, when piped, binary files, so `tmt diff A B | git apply` turns A's code into
    B's. It is coloured on a terminal, and long output goes through a pager ($TMT_PAGER,
    $PAGER, else less -FRX; --no-pager prints directly). Params and metrics follow side by
    side, metrics with the change from A to B, then the packages whose versions differ.
    Without B, run A is compared with the working tree (the code only). Piped, the patch
    holds the files' own bytes (a CR, an escape character); on a terminal such characters
    are shown escaped.

    \b
    A and B are runs: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    from tmt.cli.output import Output, dump_json
    from tmt.errors import UsageError
    from tmt.progress import StderrProgress
    from tmt.workspace import diff

    if code_only and no_code:
        raise UsageError("--code and --no-code exclude each other", "pick one")
    with StderrProgress() as progress:  # a bar only on a terminal, only if the snapshot is slow
        d = diff(a, b, progress=progress)
    with paged(no_pager):
        out = Output.detect()
        if binary is None:
            binary = not out.rich
        files = [] if no_code else list(d.file_diffs(context=context, binary_patch=binary and not stat))
        if as_json:
            dump_json({
                "a": _side(d.a),
                "b": _side(d.b),
                "files": [_file_json(f, with_lines=not stat) for f in files],
                "params": [{"key": k, "a": va, "b": vb} for k, va, vb in d.params],
                "metrics": [{"key": k, "a": va, "b": vb, "delta": _delta(va, vb)} for k, va, vb in d.metrics],
                "packages": [{"name": k, "a": va, "b": vb} for k, va, vb in d.packages],
            })
            return
        _print(out, d, files, stat=stat, code_only=code_only, no_code=no_code)


def _print(out, d, files, *, stat: bool, code_only: bool, no_code: bool) -> None:
    from tmt.cli.output import Column, fmt_delta, fmt_exact, fmt_value

    right = f"run {d.b.id[:8]} ({d.b.name})" if d.b is not None else "the working tree"
    left = f"run {d.a.id[:8]} ({d.a.name})"
    if not no_code:
        if not files:
            if not code_only:
                out.line(f"No code changes between {left} and {right}.", style="dim")
        elif stat:
            _print_stat(out, files, Column)
        else:
            for f in files:
                _print_file(out, f)
    if d.b is None or code_only:
        return
    if d.params:
        out.line()
        out.table(
            [Column("param"), Column(f"a: {d.a.id[:8]}", justify="right"), Column(f"b: {d.b.id[:8]}", justify="right"),
             Column("")],
            [[k, fmt_exact(va), fmt_exact(vb), ("changed", "yellow") if va != vb else ""] for k, va, vb in d.params],
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
    if d.packages:
        out.line()
        out.table(
            [Column("package"), Column(f"a: {d.a.id[:8]}", justify="right"),
             Column(f"b: {d.b.id[:8]}", justify="right")],
            [[k, fmt_value(va), fmt_value(vb)] for k, va, vb in d.packages],
            title="packages",
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
        "old_path": c.old_name if c.old_path is not None else None,
        "similarity": c.similarity,
    }
    if with_lines:
        out["header"] = f.header
        out["lines"] = f.lines
    return out


def _print_file(out, f) -> None:
    for line in f.header:
        out.patch_line(line, style=_HEADER_STYLE)
    if f.binary and not f.lines and f.note:
        out.patch_line(f.note.split("; ")[-1], style="dim")
    for line in f.lines:
        style = next((s for prefix, s in _LINE_STYLES if line.startswith(prefix)), None)
        out.patch_line(line, style=style)


def _print_stat(out, files, Column) -> None:
    rows = []
    added = removed = 0
    for f in files:
        added += f.added
        removed += f.removed
        counts = "bin" if f.binary else f"+{f.added} -{f.removed}"
        style = {"added": "green", "removed": "red"}.get(f.change.status, "yellow")
        path = f"{f.change.old_name} => {f.path}" if f.change.old_path is not None else f.path
        rows.append([path, (f.change.status, style), counts])
    out.table([Column("path"), Column("status"), Column("lines", justify="right")], rows)
    n = len(files)
    out.line(f"{n} file{'s' if n != 1 else ''} changed, {added} insertion{'s' if added != 1 else ''}(+), "
             f"{removed} deletion{'s' if removed != 1 else ''}(-)")
