"""tmt migrate: import the runs a tmt 0.1.8 store holds (tmt_db.json, snapshots/, results/)."""
from __future__ import annotations

import sys

import click


@click.command("migrate")
@click.option("--remove-legacy", is_flag=True,
              help="After the import, delete tmt_db.json, snapshots/ and results/, if nothing in them is "
                   "missing from the store and `tmt fsck` finds no problem.")
@click.option("--dry-run", is_flag=True, help="Only report what would be imported.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def command(remove_legacy: bool, dry_run: bool, as_json: bool) -> None:
    """Import the runs recorded by tmt 0.1.8 (ThatMetricTimeline) in this project.

    Each entry of .tmt/tmt_db.json becomes a run with the same id (its uuid without
    hyphens), name, description, times, metrics and command line; its snapshot folder
    becomes the run's code, its results become artifacts, and sub-entries become child
    runs. Runs already imported are skipped, so running it again imports only what is new.
    The legacy files are left in place unless --remove-legacy is given.

    Exits 1 when something could not be imported (each problem is listed). See
    docs/upgrading.md for how each field is converted.

    \b
    Examples:
      tmt migrate --dry-run         # what would be imported
      tmt migrate                   # import (again: only what is new)
      tmt migrate --remove-legacy   # then delete tmt_db.json, snapshots/, results/
    """
    from tmt.cli.output import dump_json
    from tmt.legacy.migrate import migrate
    from tmt.progress import StderrProgress

    if dry_run and remove_legacy:
        raise click.UsageError("--dry-run and --remove-legacy cannot be combined")
    with StderrProgress() as progress:
        result = migrate(remove_legacy=remove_legacy, dry_run=dry_run, progress=progress)
    if as_json:
        dump_json(result.to_dict())
        sys.exit(result.exit_code)
    if result.db is None:
        click.echo("Nothing to import: this store has no tmt 0.1.8 database (.tmt/tmt_db.json).")
        return
    for p in result.problems:
        click.echo(f"problem: {p.message}")
    for note in result.notes:
        click.echo(f"note: {note}")
    click.echo(summary(result))
    if result.removed_legacy:
        click.echo("Removed the tmt 0.1.8 files (tmt_db.json, snapshots/, results/): `tmt fsck` found no problem.")
    if result.kept_paths:
        shown = ", ".join(result.kept_paths[:5]) + (" …" if len(result.kept_paths) > 5 else "")
        click.echo(f"Kept {len(result.kept_paths)} legacy file(s) or folder(s) that no entry of "
                   f"tmt_db.json names: {shown}")
    sys.exit(result.exit_code)


def summary(result) -> str:
    n = len(result.imported)
    subs = f" ({result.children} of them sub-runs)" if result.children else ""
    if n:
        text = f"{'Would import' if result.dry_run else 'Imported'} {n} runs recorded by tmt 0.1.8{subs}"
        if result.already:
            text += f"; {result.already} were already in the store"
        text += "."
    elif result.already:
        text = f"Nothing to import: the {result.already} runs recorded by tmt 0.1.8 are already in the store."
    else:
        text = "Nothing to import: tmt_db.json holds no importable run."
    if result.problems:
        text += (f" {len(result.problems)} problem(s): what they name is not in the store"
                 + (" (nothing was written)." if result.dry_run else "."))
    return text
