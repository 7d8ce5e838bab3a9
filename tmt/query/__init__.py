"""Finding runs: refs (`tmt.get`), bulk queries (`tmt.runs`), removal, and the index cache.

    tmt.get("last")                                   -> Run
    tmt.runs(name=r"lr_.*", since="7d", where=["f1 > 0.8"])   -> Runs
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from tmt.query.index import rebuild_index
from tmt.query.refs import resolve
from tmt.query.run import Artifact, MissingItem, Run
from tmt.query.runs import Runs, select
from tmt.repo import Repo
from tmt.store.nofollow import own_dir

__all__ = ["get", "runs", "remove", "latest_id", "rebuild_index", "Run", "Runs", "Artifact", "MissingItem"]


def _repo(repo: "Repo | str | os.PathLike[str] | None") -> Repo:
    return Repo.resolve(repo)  # an explicit path wins over TMT_DIR


def get(ref: "str | Run", repo: "Repo | str | os.PathLike[str] | None" = None) -> Run:
    """The run `ref` names: an id prefix (4+ chars), a name (its latest run), `last`,
    `last~N` or `NAME~N`. Raises UnknownRef / AmbiguousRef listing candidates."""
    return resolve(_repo(repo), ref)


def runs(
    name: str | None = None,
    since: Any = None,
    until: Any = None,
    status: str | Iterable[str] | None = None,
    where: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    *,
    parent: str | None = None,
    repo: "Repo | str | os.PathLike[str] | None" = None,
) -> Runs:
    """The runs matching every filter given, oldest first.

    name:   a regular expression searched in the run name (`re.search`; anchor with ^...$)
    since, until: datetime, date, ISO text ("2024-05-01", "2024-05-01T12:00+02:00"),
            epoch seconds or an age ("7d", "12h", "30m"); bounds on the start time, inclusive
    status: one or several of running, completed, failed, interrupted, crashed
    where:  comparisons that must all hold: "f1 > 0.8", "params.lr <= 0.01",
            "params.optimizer == adam", "params.use_bn == true" (ops > >= < <= == !=);
            nested params by dotted name: "params.opt.lr < 0.1"
    tags:   tags the runs must all carry
    parent: only sub-runs of this run id

    Backups made by in-place checkouts are left out unless `tags` asks for theirs
    ("checkout-backup").
    """
    return select(_repo(repo), name=name, since=since, until=until, status=status, where=where, tags=tags, parent=parent)


def latest_id(name: str, repo: "Repo | str | os.PathLike[str] | None" = None) -> str | None:
    """Id of the latest run called exactly `name`, or None: one index lookup (the recorder's
    AS_SUB_ENTRY parent), without warnings about corrupt records."""
    from tmt.query import index as ix

    r = _repo(repo)
    idx = ix.index_for(r)
    sql = "SELECT id FROM runs WHERE name = ? ORDER BY created_at DESC, id DESC LIMIT 1"
    rows = idx.run(lambda conn: idx.read(conn, lambda c: c.execute(sql, (name,)).fetchall()), quiet=True)
    return rows[0][0] if rows else None


def remove(refs_or_runs: "str | Run | Iterable[str | Run]", repo: "Repo | str | os.PathLike[str] | None" = None) -> list[Run]:
    """Delete runs' records (and their step-metric journals) and drop them from the index.

    All refs are resolved before anything is deleted. Their objects stay in the store
    until `tmt gc`. Returns the removed runs (their records still readable from the
    returned objects).
    """
    from tmt.query.index import index_for
    from tmt.records.io import delete_record
    from tmt.records.series import journal_path

    r = _repo(repo)
    if isinstance(refs_or_runs, (str, Run)):
        refs_or_runs = [refs_or_runs]
    targets: dict[str, Run] = {}
    for ref in refs_or_runs:
        run = resolve(r, ref)
        targets.setdefault(run.id, run)
    # Every folder this deletes in must be tmt's own, checked before the first deletion: a
    # link planted there (cache/checkouts -> elsewhere) would delete what it points to.
    for folder in ("experiments", "journal", "cache/artifacts", "cache/checkouts"):
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
        _drop_cache(r, run.id)
    index_for(r).forget([run.id for run in targets.values()])
    return removed


def _drop_cache(repo: Repo, run_id: str) -> None:
    import shutil

    from tmt.query.run import _rmtree_readonly

    for sub in ("artifacts", "checkouts"):
        path = repo.cache_dir / sub / run_id  # cache/<sub> checked by remove(); path itself never followed
        if path.is_symlink() or path.exists():
            try:
                _rmtree_readonly(path)
            except OSError:
                shutil.rmtree(path, ignore_errors=True)
