"""tmt fsck: verify every object, tree, record and reference; repair what can be repaired."""
from __future__ import annotations

import sys

import click

#: dangling objects are informational; past this many, the list is summarized
MAX_DANGLING_SHOWN = 10


@click.command("fsck")
@click.option("--repair", is_flag=True,
              help="Quarantine corrupt objects, restore lost blobs from files with the same hash, "
                   "rebuild the index.")
@click.option("--search", "search", multiple=True, metavar="DIR", type=click.Path(file_okay=False, exists=True),
              help="With --repair: also look for lost files in DIR (e.g. a `tmt checkout -o` copy). Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--remote", metavar="NAME", help="Check the remote NAME instead (downloads and re-hashes everything).")
def command(repair: bool, search: tuple[str, ...], as_json: bool, remote: str | None) -> None:
    """Check the store: re-hash every object, decode every tree, parse every record and
    follow every reference. Exits 1 when a problem is found (or, with --repair, remains).

    Dangling objects (referenced by no run) are listed but are not a problem: `tmt gc`
    deletes them.
    """
    from tmt.cli.output import dump_json, fmt_size
    from tmt.progress import StderrProgress
    from tmt.maintenance.fsck import fsck
    from tmt.text import printable

    if search and not repair:
        raise click.UsageError("--search is only used with --repair")
    if remote is not None:
        from tmt.cli.remote_maint import remote_fsck

        return remote_fsck(remote, repair, as_json)
    with StderrProgress() as progress:
        result = fsck(repair=repair, progress=progress, search=search)
    if as_json:
        dump_json(result.to_dict())
        sys.exit(result.exit_code)
    dangling = result.by_kind("dangling_object")
    for p in result.problems:
        if p.kind == "dangling_object" and len(dangling) > MAX_DANGLING_SHOWN:
            continue
        click.echo(f"{p.kind}: {printable(p.message)}")  # names paths and trees from the store
        if repair and p.repair and p.severity == "error":
            click.echo(f"  {'repaired' if p.repaired else 'not repaired'}: {printable(p.repair)}")
    if len(dangling) > MAX_DANGLING_SHOWN:
        total = sum(p.size or 0 for p in dangling)
        click.echo(f"dangling_object: {len(dangling)} objects ({fmt_size(total)}) are not referenced by any run; "
                   "`tmt gc` deletes them")
    for note in result.notes:
        click.echo(printable(note))
    remaining = len(result.remaining)
    summary = (f"Checked {result.objects_checked} objects ({fmt_size(result.bytes_checked)}), "
               f"{result.trees_checked} trees, {result.records_checked} records: ")
    if remaining:
        summary += f"{remaining} problem(s)" + (" remain" if repair else " found")
        if not repair:
            summary += "; `tmt fsck --repair` fixes what it can"
    else:
        summary += "no problems" + (" remain" if repair else " found")
    click.echo(summary)
    sys.exit(result.exit_code)
