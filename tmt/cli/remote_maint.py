"""`tmt gc --remote NAME` and `tmt fsck --remote NAME`: the remote side of the two verbs."""
from __future__ import annotations

import sys

import click

from tmt.cli.remote_common import plural


def remote_gc(name: str, grace: str, grace_s: float, dry_run: bool, force: bool, keep_last: int | None,
              as_json: bool) -> None:
    from tmt.cli.output import dump_json, fmt_size
    from tmt.progress import StderrProgress
    from tmt.remote.gc import gc

    if keep_last is not None:
        raise click.UsageError("--keep-last prunes local runs; it does not combine with --remote")
    with StderrProgress() as progress:
        r = gc(name, grace=grace_s, dry_run=dry_run, force=force, progress=progress)
    if as_json:
        dump_json(r.to_dict())
        return
    if dry_run:
        click.echo(f"Would delete {plural(r.objects_deleted, 'object')} ({fmt_size(r.bytes_freed)}) from {r.remote}; "
                   f"kept {r.objects_kept:,} referenced and {r.objects_young:,} younger than {grace}.")
        return
    click.echo(f"Deleted {plural(r.objects_deleted, 'object')} ({fmt_size(r.bytes_freed)}) from {r.remote}; "
               f"kept {r.objects_kept:,} referenced and {r.objects_young:,} younger than {grace}.")
    if r.objects_restored:
        click.echo(f"Put back {plural(r.objects_restored, 'object')} that pushes started using meanwhile.")
    if r.collections_waiting:
        click.echo(f"Set aside {plural(r.objects_set_aside, 'object')} ({fmt_size(r.bytes_set_aside)}) while "
                   f"{plural(r.pushes_waited_for, 'push')} ran; the next `tmt gc --remote {r.remote}` deletes them "
                   "once those pushes have ended.")
    if r.leases_removed:
        click.echo(f"Removed {plural(r.leases_removed, 'lease')} of finished pushes.")


def remote_fsck(name: str, repair: bool, as_json: bool) -> None:
    from tmt.cli.output import dump_json, fmt_size
    from tmt.progress import StderrProgress
    from tmt.remote.fsck import fsck

    if repair:
        raise click.UsageError("--repair works on the local store; repair a remote by pushing the runs again")
    with StderrProgress() as progress:
        r = fsck(name, progress=progress)
    if as_json:
        dump_json(r.to_dict())
        sys.exit(r.exit_code)
    from tmt.text import printable

    dangling = [p for p in r.problems if p.kind == "dangling_object"]
    for p in r.problems:
        if p.kind != "dangling_object" or len(dangling) <= 10:
            click.echo(f"{p.kind}: {printable(p.message)}")  # names keys and paths from the remote
    if len(dangling) > 10:
        click.echo(f"dangling_object: {len(dangling):,} objects are not referenced by any run; "
                   f"`tmt gc --remote {r.remote}` deletes them")
    errors = len(r.errors)
    click.echo(f"Checked {r.objects_checked:,} objects ({fmt_size(r.bytes_checked)}), {r.trees_checked:,} trees, "
               f"{r.records_checked:,} record versions of {plural(r.runs, 'run')} on {r.remote}: "
               + (f"{plural(errors, 'problem')} found" if errors else "no problems found"))
    sys.exit(r.exit_code)
