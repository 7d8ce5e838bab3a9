"""Finding runs: refs (`tmt.get`), bulk queries (`tmt.runs`), removal (tmt.mutations), the index cache.

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

# Deleting runs is a record mutation: tmt/mutations.py holds it (and the live-run rule).
# It imports tmt.query lazily, inside its functions, so this import is no cycle.
from tmt.mutations import remove

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
