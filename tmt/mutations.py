"""Record mutations: every change to the set of runs that is not a run recording itself.

A run's own record is written by the recorder (tmt/recorder). Everything else that deletes
runs or adds records goes through here, so the rules about them live in one place:

- `remove` deletes runs (`tmt rm`, `tmt gc --keep-last`, the TUI, `tmt.query.remove`), and
  refuses a run that is still recording unless `force=True`: the recorder would write its
  record again when it ends, so the deletion would not stick;
- `save_backup` records the working tree as a `checkout-backup` run before an in-place
  checkout changes a file (or reuses the latest backup of that very tree).

The CLI parses, asks and prints; it decides none of this (docs/architecture.md).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone

from tmt.errors import RecordError, RunStillRecording
from tmt.records.model import BACKUP_NAME, BACKUP_TAG
from tmt.repo import Repo

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.query.run import Run
    from tmt.records.model import Record
    from tmt.snapshot.build import SnapshotResult


#: Folders `remove` deletes in: each must be tmt's own before the first deletion, or a link
#: planted there (cache/checkouts -> elsewhere) would delete what it points to.
_REMOVE_DIRS = ("experiments", "journal", "cache/artifacts", "cache/checkouts")


# -- removing runs ----------------------------------------------------------------------------


def refuse_live(runs: Sequence[Run], *, force: bool = False) -> None:
    """The live-run rule: raise RunStillRecording if any of `runs` is still recording, unless
    `force`. Callers that ask before deleting check this first, so nobody confirms in vain."""
    live = [r for r in runs if r.status == "running"]  # effective status: a dead process is crashed
    if live and not force:
        raise RunStillRecording(
            f"run {live[0].id[:8]} ({live[0].name}) is still recording"
            + (f" (and {len(live) - 1} more)" if len(live) > 1 else ""),
            "wait for it to finish, or pass --force (it would write its record again when it ends)",
        )


def runs_to_remove(
    repo: Repo,
    refs: Iterable[str] = (),
    *,
    name: str | None = None,
    older_than: str | None = None,
    status: Sequence[str] = (),
) -> list[Run]:
    """The runs `tmt rm` deletes, newest first: the runs `refs` name, and/or the runs every
    filter given selects (with both, the refs that also match the filters). Every ref is
    resolved first: an unknown one raises before anything else happens."""
    from tmt.query.refs import resolve
    from tmt.query.runs import select

    refs = list(refs)
    targets: dict[str, Run] = {}
    for ref in refs:
        run = resolve(repo, ref)
        targets.setdefault(run.id, run)
    if name or older_than or status:
        selected = select(repo, name=name, until=older_than, status=list(status) or None)
        if refs:
            keep = {r.id for r in selected}
            targets = {rid: r for rid, r in targets.items() if rid in keep}
        else:
            targets = {r.id: r for r in selected}
    return sorted(targets.values(), key=lambda r: r.created_at, reverse=True)


def remove(
    refs_or_runs: str | Run | Iterable[str | Run],
    repo: Repo | str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
) -> list[Run]:
    """Delete runs' records (and their step-metric journals and cached views) and drop them
    from the index; their objects stay in the store until `tmt gc`.

    All refs are resolved, and the live-run rule checked (`refuse_live`), before anything is
    deleted. Returns the runs removed (a run already gone is left out); their records stay
    readable from the returned objects.
    """
    from tmt.query.index import index_for
    from tmt.query.refs import resolve
    from tmt.query.run import Run
    from tmt.records.io import delete_record
    from tmt.records.series import journal_path
    from tmt.store.nofollow import own_dir

    r = Repo.resolve(repo)
    if isinstance(refs_or_runs, (str, Run)):
        refs_or_runs = [refs_or_runs]
    targets: dict[str, Run] = {}
    for ref in refs_or_runs:
        run = resolve(r, ref)
        targets.setdefault(run.id, run)
    refuse_live(list(targets.values()), force=force)
    for folder in _REMOVE_DIRS:
        try:
            own_dir(r.tmt_dir, folder)
        except FileNotFoundError:
            pass
    removed = []
    for run in targets.values():
        try:
            run.record  # keep it readable after the file is gone
        except Exception:  # a record corrupt since the query is removed all the same
            pass
        if delete_record(r.experiments_dir, run.id):
            removed.append(run)
        try:
            os.unlink(journal_path(r.tmt_dir, run.id))
        except OSError:
            pass
        _drop_views(r, run.id)
    index_for(r).forget([run.id for run in targets.values()])
    return removed


def _drop_views(repo: Repo, run_id: str) -> None:
    """A removed run's cached artifact and checkout views (derived: rebuilt on demand)."""
    import shutil

    from tmt.query.run import _rmtree_readonly

    for sub in ("artifacts", "checkouts"):
        path = repo.cache_dir / sub / run_id  # cache/<sub> checked by remove(); path itself never followed
        if path.is_symlink() or path.exists():
            try:
                _rmtree_readonly(path)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)


# -- checkout backups -------------------------------------------------------------------------


def save_backup(repo: Repo, snap: SnapshotResult, *, ref: str) -> tuple[Record, bool]:
    """Record the working-tree snapshot as a `checkout-backup` run (or reuse the latest
    backup when it holds that very tree); True with a reused one."""
    from tmt.records.io import write_record
    from tmt.records.model import new_record, new_run_id

    previous = latest_backup(repo)
    if previous is not None and (previous.code or {}).get("tree") == snap.tree:
        return previous, True
    now = datetime.now(timezone.utc).astimezone().isoformat()
    git = None
    try:
        from tmt.recorder.env import capture_env
        from tmt.recorder.gitinfo import git_state

        env = capture_env(repo.root)
        git = git_state(repo.root, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
    except ImportError:  # pragma: no cover
        env = {"pid": os.getpid()}
    record = new_record(
        new_run_id(), BACKUP_NAME, created_at=now, root=repo.root_label, snap=snap, git=git, env=env,
        status="completed", finished_at=now, duration_s=0.0,
        description=f"working tree before `tmt checkout {ref}`", tags=[BACKUP_TAG],
    )
    # The query index notices the new record file by itself (it syncs with experiments/).
    write_record(repo.experiments_dir, repo.tmp_dir, record)
    return record, False


def latest_backup(repo: Repo) -> Record | None:
    """The newest checkout backup's record, or None (also when it cannot be read)."""
    from tmt.query.runs import select

    found = select(repo, tags=[BACKUP_TAG], newest_first=True, limit=1, backups=True)
    for run in found:
        try:
            return run.record
        except RecordError:
            return None
    return None
