"""What the TUI's screens show, as lines of (text, style) segments (no Textual here).

One function per view: a run's overview, series, artifacts, environment; a compare of
several runs; a code diff; a metric timeline; a file of a snapshot. Text from the store is
escaped with `printable` where it is put in a line; the widgets escape once more.
"""
from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from tmt.text import printable

if TYPE_CHECKING:  # pragma: no cover
    from tmt.query.run import Run
    from tmt.timeline.analysis import Timeline
    from tmt.workspace import RunDiff

Segments = list[tuple[str, "str | None"]]

HEADING = "bold"
CHANGED = "yellow"
#: rows of one series chart in a run's detail; the compare and timeline charts get more
CHART_ROWS = 10
#: bytes of a file shown in the code browser (the rest is cut, with a note)
FILE_LIMIT = 4 * 1024 * 1024
_LINE_STYLES = (("+++", "bold"), ("---", "bold"), ("@@", "cyan"), ("+", "green"), ("-", "red"), ("\\", "dim"))


def error_lines(message: str, hint: str | None) -> list[Segments]:
    """An error in a view: its message in red, its hint below."""
    lines: list[Segments] = [[("  " + printable(message), "red")]]
    if hint:
        lines.append([("  hint: " + printable(hint), None)])
    return lines


def _cell(c: Any) -> tuple[str, str | None]:
    if isinstance(c, tuple):
        return printable(str(c[0])), c[1]
    return printable(str(c)), None


def table(headers: Sequence[str] | None, rows: Sequence[Sequence[Any]], *, right: Sequence[int] = (),
          indent: int = 2) -> list[Segments]:
    """Aligned columns, two spaces apart; `right`: the columns aligned right (numbers)."""
    cells = [[_cell(c) for c in row] for row in rows]
    head = [_cell((h, HEADING)) for h in headers] if headers else None
    n = max([len(r) for r in cells] + [len(head) if head else 0])
    widths = [0] * n
    for row in ([head] if head else []) + cells:
        for j, (text, _s) in enumerate(row):
            widths[j] = max(widths[j], cell_len(text))
    out: list[Segments] = []
    for row in ([head] if head else []) + cells:
        line: Segments = [(" " * indent, None)]
        for j, (text, style) in enumerate(row):
            pad = " " * (widths[j] - cell_len(text))
            if j:
                line.append(("  ", None))
            line.append((pad + text if j in right else text + (pad if j < len(row) - 1 else ""), style))
        out.append(line)
    return out


def heading(text: str) -> list[Segments]:
    return [[], [(printable(text), HEADING)]]


def key_values(pairs: Sequence[tuple[str, Any]]) -> list[Segments]:
    return table(None, [[(k, "bold"), v] for k, v in pairs])


# -- one run --------------------------------------------------------------------------------


def overview(run: "Run", children: Sequence["Run"] = (), now: float | None = None) -> list[Segments]:
    """What `tmt show` prints first: the run, its params, metrics, outputs, sub-runs, error."""
    from tmt.cli.output import STATUS_STYLES, fmt_age, fmt_duration, fmt_exact
    from tmt.records.model import flatten

    rec = run.record
    status = run.status
    shown = status if status == rec.status else f"{status} (recorded as {rec.status}; its process is gone)"
    pairs: list[tuple[str, Any]] = [
        ("id", rec.id), ("name", rec.name), ("status", (shown, STATUS_STYLES.get(status, ""))),
        ("created", f"{rec.created_at} ({fmt_age(rec.created_at, now)})"), ("finished", rec.finished_at or "-"),
        ("duration", fmt_duration(rec.duration_s)),
    ]
    if rec.tags:
        pairs.append(("tags", ", ".join(printable(t) for t in rec.tags)))
    if rec.parent:
        pairs.append(("parent", rec.parent))
    if rec.description:
        pairs.append(("description", rec.description))
    lines: list[Segments] = [[(f"run {rec.id}", HEADING)], *key_values(pairs)]
    if rec.error:
        err = rec.error
        lines += heading("error")
        lines.append([("  " + printable(f"{err.get('type', 'Error')}: {err.get('message', '')}"), "red")])
        for tb_line in str(err.get("traceback") or "").rstrip("\n").split("\n"):
            if tb_line:
                lines.append([("  " + printable(tb_line), "dim")])
    for title, values in (("params", flatten(rec.params)), ("metrics", rec.metrics), ("outputs", rec.outputs)):
        if values:
            lines += heading(title)
            lines += key_values([(k, fmt_exact(v)) for k, v in sorted(values.items())])
    if children:
        lines += heading("children")
        lines += table(None, [[c.id[:8], c.name, (c.status, STATUS_STYLES.get(c.status, "")), fmt_age(c.created_at, now)]
                              for c in sorted(children, key=lambda c: (c.created_at, c.id))])
    return lines


def series(run: "Run", width: int) -> list[Segments]:
    """Each step series of the run as a chart (the renderer of `tmt plot`)."""
    from tmt.cli.output import fmt_value
    from tmt.errors import TmtError
    from tmt.plot.series import series_figure
    from tmt.plot.terminal import Chart

    names = run.series_names
    if not names:
        return [[("  this run logged no step series (tmt.log({...}, step=N))", "dim")]]
    lines: list[Segments] = []
    for name in sorted(names):
        try:
            s = run.series(name)
            fig = series_figure([run], name)
        except TmtError as e:
            lines += heading(name) + [[("  " + printable(e.message), "red")]]
            continue
        fig.legend = False
        stats = next(iter(c.stats for c in fig.curves), {})
        summary = f"  {len(s)} points" + "".join(f", {k} {fmt_value(v, 5)}" for k, v in stats.items())
        lines += [[], [(printable(name), HEADING), (summary, "dim")]]
        lines += Chart(fig, width=max(width - 2, 20), height=CHART_ROWS).lines()
    return lines


def artifacts(run: "Run") -> list[Segments]:
    from tmt.cli.output import fmt_size

    arts = run.record.artifacts
    if not arts:
        return [[("  this run saved no artifacts (tmt.save(obj, name=...))", "dim")]]
    rows = [[a.get("name", "?"), a.get("format") or "-", fmt_size(a.get("size")), a.get("filename") or "-",
             (a.get("object") or "-")[:12]] for a in arts]
    return table(["name", "format", "size", "file", "object"], rows, right=(2,))


def environment(run: "Run") -> list[Segments]:
    """The code snapshot, the environment and the packages the run imported."""
    from tmt.cli.output import fmt_size, fmt_value

    rec = run.record
    code = rec.code or {}
    lines: list[Segments] = [[("code", HEADING)]]
    if code.get("tree"):
        pairs: list[tuple[str, Any]] = [("root", code.get("root") or "-"),
                                        ("files", f"{code.get('files', '-')} ({fmt_size(code.get('bytes'))})"),
                                        ("tree", code["tree"])]
        git = code.get("git")
        if isinstance(git, dict):
            extra = [str(x) for x in (git.get("branch"), "dirty" if git.get("dirty") else None) if x]
            pairs.append(("git", str(git.get("commit") or "-") + (f" ({', '.join(extra)})" if extra else "")))
        lines += key_values(pairs)
    else:
        lines.append([("  no code snapshot", "dim")])
    env = dict(rec.env or {})
    packages = env.pop("packages", None)
    if env:
        lines += heading("env")
        pairs = []
        for k in sorted(env, key=str):
            v = env[k]
            if k == "argv" and isinstance(v, list):
                v = shlex.join(str(a) for a in v)
            pairs.append((k, fmt_value(v)))
        lines += key_values(pairs)
    if isinstance(packages, dict) and packages:
        lines += heading("packages")
        lines += key_values([(k, fmt_value(v)) for k, v in sorted(packages.items(), key=lambda kv: str(kv[0]).lower())])
    return lines


def file_lines(data: bytes, path: str) -> list[Segments]:
    """A file of a snapshot as text (tabs expanded, control characters escaped)."""
    head: list[Segments] = [[(printable(path), HEADING), (f"  {len(data)} bytes", "dim")]]
    if b"\0" in data[:8192]:
        return head + [[("  binary file", "dim")]]
    cut = len(data) > FILE_LIMIT
    text = data[:FILE_LIMIT].decode("utf-8", "replace")
    rows = text.split("\n")
    if rows and rows[-1] == "":  # the newline that ends the last line starts no line
        rows.pop()
    lines = head + [[(f"{n:>5} ", "dim"), (printable(line.expandtabs(4)), None)] for n, line in enumerate(rows, 1)]
    if cut:
        lines.append([(f"  … cut at {FILE_LIMIT} bytes", "dim")])
    return lines


# -- several runs -------------------------------------------------------------------------


def _differs(values: list[Any]) -> bool:
    first = values[0]
    return any(type(v) is not type(first) or v != first for v in values[1:])


def compare(runs: Sequence["Run"], series_name: str | None, width: int) -> list[Segments]:
    """Params and metrics of several runs side by side (the ones that differ in yellow),
    then one series of all of them overlaid."""
    from tmt.cli.output import fmt_exact, fmt_value
    from tmt.records.model import flatten

    heads = ["", *(f"{r.id[:8]} {printable(r.name)}" for r in runs)]
    lines: list[Segments] = [[(f"{len(runs)} runs compared", HEADING),
                              ("   (yellow: differs among them; - : missing)", "dim")]]
    for title, getter, fmt in (("params", lambda r: flatten(r.params), fmt_exact),
                               ("metrics", lambda r: r.metrics, lambda v: fmt_value(v, 6))):
        dicts = [getter(r) for r in runs]
        keys = sorted({k for d in dicts for k in d})
        if not keys:
            continue
        rows = []
        for k in keys:
            vals = [d.get(k) for d in dicts]
            style = CHANGED if _differs(vals) else None
            rows.append([(k, style or "bold"), *((fmt(v) if v is not None else "-", style) for v in vals)])
        lines += heading(title)
        lines += table(heads, rows, right=range(1, len(heads)))
    names = series_names(runs)
    lines += heading("series")
    if not names:
        lines.append([("  these runs logged no step series", "dim")])
        return lines
    current = series_name if series_name in names else names[0]
    switch: Segments = [("  ", None)]
    lines.append(switch + [item for n in names for item in
                                   ((f"[{printable(n)}]", "bold reverse") if n == current else (printable(n), "dim"),
                                    ("  ", None))] + [("([ and ] switch)", "dim")])
    lines += overlay(runs, current, width)
    return lines


def series_names(runs: Sequence["Run"]) -> list[str]:
    names: dict[str, None] = {}
    for r in runs:
        for n in sorted(r.series_names):
            names.setdefault(n, None)
    return list(names)


def overlay(runs: Sequence["Run"], name: str, width: int, height: int = 14) -> list[Segments]:
    from tmt.errors import TmtError
    from tmt.plot.series import series_figure
    from tmt.plot.terminal import Chart

    having = []
    for r in runs:
        try:
            if name in r.series_names:
                having.append(r)
        except TmtError:
            pass
    try:
        fig = series_figure(having, name)
    except TmtError as e:
        return [[("  " + printable(e.message), "red")]]
    lines = Chart(fig, width=max(width - 2, 20), height=height).lines()
    missing = len(runs) - len(having)
    if missing:
        lines.append([(f"  {missing} of the runs did not log {printable(name)!r}", "dim")])
    return lines


def diff(d: "RunDiff", context: int = 3) -> list[Segments]:
    """The code diff of two runs as `tmt diff` prints it, then params and metrics."""
    from tmt.cli.output import fmt_delta, fmt_exact, fmt_value

    a = f"run {d.a.id[:8]} ({printable(d.a.name)})"
    b = f"run {d.b.id[:8]} ({printable(d.b.name)})" if d.b is not None else "the working tree"
    lines: list[Segments] = [[("diff ", HEADING), (f"a: {a}", "red"), ("  ", None), (f"b: {b}", "green")]]
    files = list(d.file_diffs(context=context))
    if not files:
        lines.append([(f"  no code changes between {a} and {b}", "dim")])
    else:
        added = sum(f.added for f in files)
        removed = sum(f.removed for f in files)
        lines.append([(f"  {len(files)} file{'s' if len(files) != 1 else ''} changed, ", None),
                      (f"+{added}", "green"), (" ", None), (f"-{removed}", "red")])
        rows = []
        for f in files:
            path = f"{f.change.old_name} => {f.path}" if f.change.old_path is not None else f.path
            style = {"added": "green", "removed": "red"}.get(f.change.status, CHANGED)
            rows.append([path, (f.change.status, style), "bin" if f.binary else f"+{f.added} -{f.removed}"])
        lines += table(None, rows, right=(2,))
        lines.append([])
        for f in files:
            for text in f.header:
                lines.append([(printable(text.expandtabs(4)), "bold")])
            if f.binary and not f.lines and f.note:
                lines.append([(printable(f.note.split("; ")[-1]), "dim")])
            for text in f.lines:
                line_style = next((s for prefix, s in _LINE_STYLES if text.startswith(prefix)), None)
                lines.append([(printable(text.expandtabs(4)), line_style)])
    if d.b is None:
        return lines
    ha, hb = f"a: {d.a.id[:8]}", f"b: {d.b.id[:8]}"
    if d.params:
        lines += heading("params")
        lines += table(["param", ha, hb, ""], [[k, fmt_exact(va), fmt_exact(vb), ("changed", CHANGED) if va != vb else ""]
                                               for k, va, vb in d.params], right=(1, 2))
    if d.metrics:
        lines += heading("metrics")
        lines += table(["metric", ha, hb, "delta"], [[k, fmt_value(va), fmt_value(vb), fmt_delta(va, vb)]
                                                     for k, va, vb in d.metrics], right=(1, 2, 3))
    if d.packages:
        lines += heading("packages")
        lines += table(["package", ha, hb], [[k, fmt_value(va), fmt_value(vb)] for k, va, vb in d.packages], right=(1, 2))
    return lines


def timeline(tl: "Timeline", width: int, note: str = "") -> list[Segments]:
    from tmt.plot.terminal import Chart

    fig = tl.picture().figure
    title: Segments = [(printable(fig.title), HEADING)]
    if note:
        title.append((f"   {note}", "dim"))
    lines: list[Segments] = [title]
    lines += Chart(fig, width=max(width - 2, 20), height=14).lines()
    return lines
