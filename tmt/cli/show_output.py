"""`tmt show REF --output`: the output a `tmt run` command printed, as it was saved."""
from __future__ import annotations

import click

from tmt.errors import RecordError
from tmt.runner import OUTPUT_ARTIFACT


def print_output(run) -> None:
    """Print the `output` artifact to stdout. Its text was stripped of escape sequences
    when saved; anything else that is not printable is escaped here, since the store may
    come from anyone (tabs and newlines stay)."""
    from tmt.text import printable

    art = run.artifacts.get(OUTPUT_ARTIFACT)
    if art is None:
        raise RecordError(
            f"run {run.short_id} ({printable(run.name)}) has no saved output",
            "runs recorded with `tmt run -- CMD` (or `tmt rerun`) save their command's output",
        )
    with open(art.path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    lines = text.split("\n")
    trailing = lines[-1] == ""
    if trailing:
        lines.pop()
    text = "".join("\t".join(printable(part) for part in line.split("\t")) + "\n" for line in lines)
    try:
        click.echo(text, nl=False)  # click's stdout: the text stream `tmt show` writes everything to
    except BrokenPipeError:  # `tmt show REF --output | head`: the reader has what it wanted
        import os
        import sys

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the last flush at exit is quiet
