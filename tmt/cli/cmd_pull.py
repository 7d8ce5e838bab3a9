"""tmt pull: bring runs (records, code, series, artifacts) from a remote."""
from __future__ import annotations

import sys

import click

from tmt.cli.remote_common import filters_of, plural, run_filters


@click.command("pull")
@click.argument("remote", required=False, metavar="[NAME]")
@run_filters
@click.option("--records-only", is_flag=True,
              help="Fetch the records alone (list and compare runs now; code and artifacts later).")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON on stdout.")
def command(remote: str | None, records_only: bool, as_json: bool, **kwargs) -> None:
    """Pull from the remote NAME (default: the first remote added) every run not yet here,
    or those the filters select.

    Every object is re-hashed when it arrives, and a run appears only once everything it
    references is here: a killed pull leaves no half-visible run, and the next pull resumes.
    A run recorded here is only ever replaced by a more final version of itself (its end
    after its start).
    """
    from tmt.cli.output import dump_json, fmt_size, message
    from tmt.progress import StderrProgress
    from tmt.remote.pull import pull
    from tmt.text import printable

    with StderrProgress() as progress:
        result = pull(remote, records_only=records_only, progress=progress, **filters_of(kwargs))
    if as_json:
        dump_json(result.to_dict())
    else:
        where = f"{result.remote} ({printable(result.url)})"
        if result.runs_pulled:
            line = f"Pulled {plural(len(result.runs_pulled), 'run')} from {where}"
            if result.records_only:
                line += ": records only (code and artifacts are fetched when a command needs them)."
            else:
                line += f": {plural(result.objects_downloaded, 'object')} ({fmt_size(result.bytes_downloaded)})."
            click.echo(line)
        elif not result.failed:
            click.echo(f"Already up to date with {where}: {plural(result.runs_up_to_date, 'run')}.")
        if result.runs_filtered_out:
            click.echo(f"{plural(result.runs_filtered_out, 'other run')} not pulled (filters).")
        for f in result.failed:
            message(f"not pulled: {f['run'][:8]}: {printable(f['reason'])}")
    if result.failed:
        sys.exit(1)
