"""tmt tui: browse, filter, compare and act on runs in a terminal UI (Textual, extra [tui])."""
from __future__ import annotations

import click


@click.command("tui")
@click.argument("words", nargs=-1, metavar="[FILTER]...")
@click.option("--metrics", "metric_names", metavar="A,B", help="Metric columns, as `tmt ls --metrics`.")
@click.option("--params", "param_names", metavar="A,B", help="Param columns, as `tmt ls --params`.")
@click.option("--columns", "column_names", metavar="A,B", help="Exactly these columns, as `tmt ls --columns`.")
def command(words: tuple[str, ...], metric_names: str | None, param_names: str | None,
            column_names: str | None) -> None:
    """Browse runs in a terminal UI: filter, sort, open, compare, diff, timeline.

    The runs list has the columns of `tmt ls`; `/` opens the filter bar, in the language
    of FILTER: words that must all hold, such as `name~^resnet f1>0.8 params.lr<=0.1
    status:failed tag:paper since:7d` (a bare word is a regular expression searched in
    run names). Enter opens a run (params, metrics, series charts, code, artifacts, env);
    space marks runs, c compares them, d diffs their code, t draws a metric's timeline;
    o writes a run's code into a folder (checkout -o), x deletes runs (both ask first);
    y copies an id; ? lists every key; q quits. The list follows the store: new and
    finished runs appear as they are recorded.

    Not on a terminal, it prints what `tmt ls` prints for the same filter.

    \b
    Examples:
      tmt tui
      tmt tui 'status:failed since:7d'
      tmt tui '^resnet' 'f1>0.8' --params lr,batch
    """
    from tmt.errors import MissingDependency
    from tmt.query.search import parse_filter
    from tmt.repo import Repo

    text = " ".join(words)
    filters = parse_filter(text)  # a bad filter is a usage error, on a terminal or not
    repo = Repo.find()
    if not on_terminal():
        _print_ls(click.get_current_context(), filters, metric_names, param_names, column_names)
        return
    try:
        from tmt.tui.app import TmtApp
    except ImportError as e:
        if e.name and e.name.split(".")[0] in ("textual", "rich"):
            raise MissingDependency("tmt tui needs Textual, which is not installed",
                                    "pip install 'ThatMetricTimeline[tui]' (or use tmt ls)") from None
        raise
    app = TmtApp(repo, filter_text=text, metric_names=metric_names, param_names=param_names,
                 column_names=column_names)
    app.run()


def _print_ls(ctx: click.Context, filters, metric_names, param_names, column_names) -> None:
    """`tmt ls` with the same filters (piped: every run, every column)."""
    from tmt.cli import cmd_ls

    parent = filters.parent
    kwargs = filters.kwargs()
    ctx.invoke(cmd_ls.command, name=kwargs["name"], since=kwargs["since"], until=kwargs["until"],
               status=tuple(filters.status), where=tuple(filters.where), tags=tuple(filters.tags), sort=None,
               asc=False, limit=None, parent=parent, metric_names=metric_names, param_names=param_names,
               column_names=column_names, show_all=False, as_json=False)


def on_terminal() -> bool:
    """Whether a person is at a terminal: stdin, stdout and stderr (Textual draws on it) are ttys."""
    import sys

    try:
        return sys.stdin.isatty() and sys.stdout.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
