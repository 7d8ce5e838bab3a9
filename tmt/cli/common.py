"""Pieces several verbs share: the REF argument (with shell completion) and the run filters."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

REF_HELP = "REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N."

#: How many runs completion looks at (newest first): enough for names in use, fast on big stores.
COMPLETION_RUNS = 2000


def complete_ref(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion for run refs: `last`, run names, short ids of recent runs."""
    from click.shell_completion import CompletionItem

    try:
        candidates = ref_candidates()
    except Exception:  # completion must never print a traceback into the user's shell
        return []
    from tmt.text import printable

    out = []
    for value, help_text in candidates:
        # A name with control characters is never typed into the user's shell (its id is
        # offered instead); help texts are escaped.
        if value.startswith(incomplete) and printable(value) == value:
            out.append(CompletionItem(value, help=printable(help_text)))
    return out


def ref_candidates() -> list[tuple[str, str]]:
    from tmt.query.runs import select
    from tmt.repo import Repo

    runs = list(select(Repo.find(), newest_first=True, limit=COMPLETION_RUNS))
    items: list[tuple[str, str]] = []
    if runs:
        items.append(("last", f"{runs[0].id[:8]} {runs[0].name}"))
    seen: set[str] = set()
    for r in runs:
        if r.name not in seen:
            seen.add(r.name)
            items.append((r.name, f"latest {r.name} run"))
    for r in runs:
        items.append((r.id[:8], r.name))
    return items


def ref_argument(name: str = "ref", **kwargs: Any) -> Callable:
    metavar = name.upper() if kwargs.get("required", True) else f"[{name.upper()}]"
    return click.argument(name, shell_complete=complete_ref, metavar=metavar, **kwargs)


def filter_options(f: Callable | None = None, *, sort: bool = True) -> Callable:
    """--name --since --until --status --where --tag --sort --asc -n (the filters of tmt.runs).

    `@filter_options(sort=False)` leaves out --sort and --asc, for verbs whose order is fixed
    (a timeline runs oldest first)."""
    options = [
        click.option("--name", metavar="RE", help="Only runs whose name matches this regular expression."),
        click.option("--since", metavar="WHEN",
                     help="Only runs started at or after WHEN: a duration ago (30m, 7d, 2w) or a date/ISO time."),
        click.option("--until", metavar="WHEN", help="Only runs started before WHEN (same forms as --since)."),
        click.option("--status", metavar="STATUS", multiple=True,
                     help="Only runs with this status: completed, failed, interrupted, running, crashed. Repeatable."),
        click.option("--where", metavar="EXPR", multiple=True,
                     help="Keep runs where EXPR holds, e.g. 'f1 > 0.8', 'params.lr <= 0.01' or 'loss.last < 0.3' "
                          "(a series' last, min or max). Repeatable (all must hold)."),
        click.option("--tag", "tags", metavar="TAG", multiple=True, help="Only runs with this tag. Repeatable (all)."),
    ]
    order = [
        click.option("--sort", metavar="KEY",
                     help="Sort by this metric (or params.NAME, or a series' NAME.last/.min/.max), highest first; "
                          "runs without it last."),
        click.option("--asc", is_flag=True, help="With --sort: lowest first (for losses)."),
    ]
    limit = click.option("-n", "--limit", type=click.IntRange(min=0), metavar="N", help="Show at most N runs.")
    options += (order if sort else []) + [limit]

    def apply(g: Callable) -> Callable:
        for opt in reversed(options):
            g = opt(g)
        return g

    return apply(f) if f is not None else apply


def pager_option(f: Callable) -> Callable:
    """--no-pager, for verbs whose output can be long (show, diff)."""
    return click.option("--no-pager", is_flag=True,
                        help="Print directly; on a terminal the output otherwise goes through "
                             "$TMT_PAGER, $PAGER or less -FRX.")(f)


def paged(no_pager: bool):
    """The verb's output through the pager, unless --no-pager (the verb's or tmt's) says not."""
    from tmt.cli.pager import paged as _paged

    root = click.get_current_context().find_root()
    return _paged(enabled=not (no_pager or root.params.get("no_pager")))


#: Runs listed before a deletion question (the rest are counted).
CONFIRM_LIST = 20


def confirm_delete(runs: list[tuple[str, str, str, Any]], yes: bool) -> bool:
    """Ask before deleting runs, as `tmt rm` and `tmt gc --keep-last` do: True to go on.

    `runs` are (id, name, status, created_at), newest first. With `yes`, nothing is asked;
    without a terminal on stdin the deletion is refused (UsageError: a script must say
    --yes). On a "no" the caller says "Nothing deleted." and exits with status 1.
    """
    from tmt.cli.output import fmt_age, message
    from tmt.errors import UsageError
    from tmt.text import printable

    n = len(runs)
    what = f"{n} run{'s' if n != 1 else ''}"
    if yes:
        return True
    if not stdin_is_terminal():
        raise UsageError(f"refusing to delete {what} without confirmation: stdin is not a terminal",
                         "pass --yes to delete without asking")
    for rid, name, status, created in runs[:CONFIRM_LIST]:
        message(f"  {rid[:8]}  {printable(name)}  {status}  {fmt_age(created)}")
    if n > CONFIRM_LIST:
        message(f"  … and {n - CONFIRM_LIST} more")
    return click.confirm(f"Delete {what}?", default=False, err=True)


def stdin_is_terminal() -> bool:
    import sys

    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
