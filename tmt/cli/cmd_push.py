"""tmt push: send runs (records, code, series, artifacts) to a remote."""
from __future__ import annotations

import sys

import click

from tmt.cli.remote_common import filters_of, plural, run_filters


@click.command("push")
@click.argument("args", nargs=-1, metavar="[NAME] [REF]...")
@run_filters
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON on stdout.")
def command(args: tuple[str, ...], as_json: bool, **kwargs) -> None:
    """Push runs to the remote NAME (default: the first remote added).

    Without REFs or filters, every run the remote does not have yet; with them, those runs.
    Safe to run from many machines at once and to interrupt: a killed push leaves no
    half-visible run, and the next push resumes where it stopped.

    \b
    tmt push                      every run not yet on the default remote
    tmt push origin last          the latest run
    tmt push --name '^resnet' --since 7d
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    A first argument that names a remote is the remote.
    """
    from tmt.cli.output import dump_json, fmt_size, message
    from tmt.progress import StderrProgress
    from tmt.remote.push import push
    from tmt.repo import Repo
    from tmt.text import printable

    remote, refs = split_remote(Repo.find(), args)
    with StderrProgress() as progress:
        result = push(remote, list(refs), progress=progress, **filters_of(kwargs))
    if as_json:
        dump_json(result.to_dict())
    else:
        where = f"{result.remote} ({printable(result.url)})"
        if result.runs_pushed:
            click.echo(f"Pushed {plural(len(result.runs_pushed), 'run')} to {where}: "
                       f"{plural(result.objects_uploaded, 'object')} uploaded ({fmt_size(result.bytes_uploaded)}), "
                       f"{result.objects_present:,} already there.")
        elif not result.skipped:
            click.echo(f"Everything up to date on {where}: {plural(result.runs_up_to_date, 'run')} already there.")
        for s in result.skipped:
            message(f"not pushed: {s['run'][:8]}: {printable(s['reason'])}")
    if result.skipped:
        sys.exit(1)


def split_remote(repo, args: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """(remote, refs): the first argument is the remote when it names one."""
    from tmt.remote import config

    if args and args[0] in {s.name for s in config.load(repo)}:
        return args[0], args[1:]
    return None, args
