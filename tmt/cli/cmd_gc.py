"""tmt gc: delete objects no run references (safe beside live runs), clear stale temp files."""
from __future__ import annotations

import click

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.maintenance.gc import GcResult


@click.command("gc")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted and how many bytes.")
@click.option("--grace", default="1h", show_default=True, metavar="DURATION",
              help="Keep unreferenced objects younger than this (90s, 30m, 1h, 2d, 1w; 0 for none).")
@click.option("--keep-last", type=click.IntRange(min=0), metavar="N",
              help="First delete finished runs beyond the newest N per name (running runs and runs tagged "
                   "keep are kept); asks first, like tmt rm.")
@click.option("--keep-tag", "keep_tags", metavar="TAG", multiple=True,
              help="With --keep-last: never delete runs with this tag either (besides keep). Repeatable.")
@click.option("-y", "--yes", is_flag=True, help="With --keep-last: do not ask for confirmation.")
@click.option("--force", is_flag=True,
              help="Proceed although a record or tree cannot be read (what it references may be deleted).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option("--remote", metavar="NAME",
              help="Collect the remote NAME instead (safe beside pushes; needs delete permission there).")
def command(dry_run: bool, grace: str, keep_last: int | None, keep_tags: tuple[str, ...], yes: bool, force: bool,
            as_json: bool, remote: str | None) -> None:
    """Delete objects that no run references.

    Every object reachable from a record (code trees, series, artifacts), running runs
    included, is kept, and so is every object a live run has pinned; of the rest, only
    objects older than the grace period go. Safe to run while runs are recording, even with
    --grace 0. Also removes stale temp files and the step-metric journals no run needs, and
    restores what a crashed gc moved aside.

    With --keep-last N, the finished runs beyond the newest N of each name are deleted
    first, as `tmt rm` deletes them: tmt lists them and asks (--yes skips the question,
    and is required when stdin is not a terminal). Runs tagged keep (or a --keep-tag) are
    never deleted and do not count; --dry-run lists what would go.
    """
    from tmt.cli.common import confirm_delete
    from tmt.cli.output import dump_json, message
    from tmt.progress import StderrProgress
    from tmt.maintenance.gc import KEEP_TAGS, GcDeclined, gc, parse_duration
    from tmt.records.model import effective_status

    grace_s = parse_duration(grace)
    if remote is not None:
        from tmt.cli.remote_maint import remote_gc

        return remote_gc(remote, grace, grace_s, dry_run, force, keep_last, as_json)

    def confirm(records) -> bool:
        return confirm_delete([(r.id, r.name, effective_status(r), r.created_at) for r in records], yes)

    with StderrProgress() as progress:
        try:
            result = gc(grace=grace_s, dry_run=dry_run, keep_last=keep_last, keep_tags=(*KEEP_TAGS, *keep_tags),
                        confirm=confirm, force=force, progress=progress)
        except GcDeclined:
            message("Nothing deleted.")
            raise SystemExit(1) from None
    if as_json:
        dump_json(result.to_dict())
        return
    from tmt.text import printable

    for line in _summary(result, dry_run=dry_run, grace=grace, keep_last=keep_last):
        click.echo(printable(line))  # record paths and ids come from the store


def _summary(result: GcResult, *, dry_run: bool, grace: str, keep_last: int | None) -> list[str]:
    """What gc did (or would do), one line per kind of thing, the objects' line always."""
    from tmt.cli.output import fmt_size

    verb = "Would delete" if dry_run else "Deleted"
    lines = []
    if result.trash_restored:
        lines.append(f"Moved {result.trash_restored} object(s) back from a gc that did not finish.")
    if result.unreadable_records:
        lines.append(f"Ignored {len(result.unreadable_records)} unreadable record(s) (--force): "
                     + ", ".join(result.unreadable_records))
    if result.records_deleted:
        lines.append(f"{verb} {len(result.records_deleted)} run(s) beyond the newest {keep_last} per name: "
                     + ", ".join(r[:8] for r in result.records_deleted))
    kept = f"kept {result.objects_kept} referenced"
    if result.objects_young:
        kept += f" and {result.objects_young} younger than {grace}"
    lines.append(f"{verb} {result.objects_deleted} object(s), {fmt_size(result.bytes_freed)}; {kept}.")
    if result.objects_restored:
        lines.append(f"Put back {result.objects_restored} object(s) that live runs started using meanwhile.")
    if result.temp_files_removed:
        lines.append(f"{'Would remove' if dry_run else 'Removed'} {result.temp_files_removed} stale temp file(s).")
    if result.journals_removed:
        lines.append(f"{'Would remove' if dry_run else 'Removed'} {result.journals_removed} stale step-metric "
                     "journal(s) (their runs are deleted or already packed).")
    if result.pins_removed:
        lines.append(f"Removed {result.pins_removed} pin file(s) of finished processes.")
    return lines
