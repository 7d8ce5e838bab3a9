"""tmt rm: delete runs (their records; objects go at the next `tmt gc`)."""
from __future__ import annotations

import click

from tmt.cli.common import complete_ref, confirm_delete


@click.command("rm")
@click.argument("refs", nargs=-1, metavar="[REF]...", shell_complete=complete_ref)
@click.option("--name", metavar="RE", help="Also delete the runs whose name matches this regular expression.")
@click.option("--older-than", metavar="AGE",
              help="Only runs started before AGE ago (30m, 7d, 2w) or before a date; combines with the other filters.")
@click.option("--status", metavar="STATUS", multiple=True,
              help="Only runs with this status (completed, failed, interrupted, running, crashed). Repeatable.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--force", is_flag=True, help="Also delete runs that are still recording.")
@click.option("--json", "as_json", is_flag=True, help="Print the deleted runs as JSON.")
def command(refs: tuple[str, ...], name: str | None, older_than: str | None, status: tuple[str, ...], yes: bool,
            force: bool, as_json: bool) -> None:
    """Delete runs: the runs REF... and/or the runs the filters select.

    With filters and no REF, every run matching all the filters is deleted (pruning), e.g.
    `tmt rm --status failed --status crashed --older-than 7d`. With REFs and filters,
    the REFs are deleted only if they also match the filters.

    tmt lists the runs and asks before deleting; --yes skips the question (required when
    stdin is not a terminal). A deleted run's code and artifacts stay in the store until
    `tmt gc` removes what no run references any more.

    \b
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    from tmt.cli.output import dump_json, message
    from tmt.errors import TmtError
    from tmt.mutations import refuse_live, remove, runs_to_remove
    from tmt.repo import Repo

    if not refs and not (name or older_than or status):
        raise click.UsageError("give the runs to delete (REF...) or filters (--name, --older-than, --status)")
    repo = Repo.find()
    runs = runs_to_remove(repo, refs, name=name, older_than=older_than, status=status)
    if not runs:
        message("No runs match; nothing deleted.")
        if as_json:
            dump_json([])
        return
    refuse_live(runs, force=force)  # before asking: nobody confirms a deletion that is refused
    n = len(runs)
    if not confirm_delete([(r.id, r.name, r.status, r.created_at) for r in runs], yes):
        message("Nothing deleted.")
        raise SystemExit(1)
    removed = remove(runs, repo=repo, force=force)
    if as_json:
        dump_json([{"id": r.id, "name": r.name} for r in removed])
    for r in removed:
        message(f"Deleted run {r.id[:8]} ({r.name})")
    if removed:
        message("Their objects stay in the store until `tmt gc`.")
    if len(removed) != n:
        raise TmtError(f"{n - len(removed)} of {n} run{'s' if n != 1 else ''} were already gone")
