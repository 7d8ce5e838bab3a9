"""Options the remote verbs share: the run filters of push and pull, and their summaries."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def run_filters(f: Callable) -> Callable:
    """--name --since --until --status --where --tag, with the meaning they have in `tmt ls`."""
    options = [
        click.option("--name", metavar="RE", help="Only runs whose name matches this regular expression."),
        click.option("--since", metavar="WHEN", help="Only runs started at or after WHEN (30m, 7d, 2w, a date)."),
        click.option("--until", metavar="WHEN", help="Only runs started before WHEN."),
        click.option("--status", metavar="STATUS", multiple=True,
                     help="Only runs with this status (completed, failed, interrupted, running, crashed). Repeatable."),
        click.option("--where", metavar="EXPR", multiple=True,
                     help="Only runs where EXPR holds, e.g. 'f1 > 0.8'. Repeatable (all must hold)."),
        click.option("--tag", "tags", metavar="TAG", multiple=True, help="Only runs with this tag. Repeatable (all)."),
    ]
    for opt in reversed(options):
        f = opt(f)
    return f


def filters_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    keys = ("name", "since", "until", "status", "where", "tags")
    return {k: (list(kwargs[k]) if isinstance(kwargs[k], tuple) else kwargs[k])
            for k in keys if kwargs.get(k) not in (None, (), [])}


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")
