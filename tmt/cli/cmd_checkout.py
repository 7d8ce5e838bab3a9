"""tmt checkout: restore a run's code in place (after a backup) or into a new folder."""
from __future__ import annotations

import click

from tmt.cli.common import ref_argument


@click.command("checkout")
@ref_argument()
@click.option("-o", "--output", "out", metavar="DIR", type=click.Path(file_okay=False),
              help="Write a read-only copy of the code into DIR (must not exist or be empty) instead of "
                   "restoring it in place: hard links into the store (copies for root).")
@click.option("--force", is_flag=True,
              help="Restore even when a run is recording from this code root, and overwrite files the "
                   "backup cannot hold (too large or unreadable) that are in the way.")
def command(ref: str, out: str | None, force: bool) -> None:
    """Restore the code of run REF.

    In place (the default), tmt first saves the working tree as a run tagged
    checkout-backup and prints how to return to it; then it writes the run's files as
    real copies and deletes the files the backup tracked that the run does not have.
    A file ignored by the working tree's rules or by the run's (data, checkpoints,
    virtualenvs, caches) is never deleted or rewritten; unchanged files are not
    rewritten; a file that changes while the checkout runs stops it. One checkout at a
    time per code root; if it stops half-way (an error, Ctrl-C), it says how to return.

    With -o DIR, the code is written into DIR instead, as read-only hard links into the
    store (copies for root): a cheap view to read or run, not to edit.

    \b
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.
    """
    from tmt.cli.output import message
    from tmt.progress import StderrProgress
    from tmt.workspace import checkout

    if out is not None and force:
        raise click.UsageError("--force applies to an in-place checkout, not to -o DIR")
    with StderrProgress() as progress:  # a bar only on a terminal, only if the backup's snapshot is slow
        result = checkout(ref, out, force=force, progress=progress)
    label = f"run {result.run_id[:8]} ({result.name})"
    if out is not None:
        message(f"Checked out {label} into {out} ({result.written} files, read-only).")
        return
    if result.unchanged:
        message(f"The working tree already holds the code of {label}; nothing to do.")
        return
    assert result.backup_id is not None  # an in-place checkout that changed files saved a backup first
    short = result.backup_id[:8]
    message(f"Saved your working tree as run {short}; return with: tmt checkout {short}")
    if result.overwritten_untracked:
        message(f"Overwrote {len(result.overwritten_untracked)} file(s) outside the backup (--force): "
                + ", ".join(result.overwritten_untracked))
    if result.kept_ignored:
        from tmt.text import printable

        shown = ", ".join(printable(p) for p in result.kept_ignored[:10])
        more = f" and {len(result.kept_ignored) - 10} more" if len(result.kept_ignored) > 10 else ""
        message(f"Left {len(result.kept_ignored)} ignored file(s) as they are (ignored here or by the run): "
                f"{shown}{more}")
    message(f"Checked out {label}: {result.written} file(s) written, {result.removed} removed.")

