"""The query index (.tmt/index.sqlite): a cache of the records, rebuilt from them at will.

Records (experiments/<id>.json) are the truth; this index only makes bulk queries fast. A
query syncs it first (cheap when nothing changed), so a record written by a process that
never touched the index is found by the next query. A corrupt or unreadable index is deleted
and rebuilt silently.

The parts, each in its module:

- `tmt.query.schema`: the tables and a record's row (defined once, `_COLUMNS`);
- `tmt.query.kv`: the per-key values `where` filters on, filled lazily;
- `tmt.query.database`: the connection (own files or memory, schema version, WAL) and the
  retries on SQLITE_BUSY;
- `tmt.query.reading`: record files into rows, in worker processes when there are many;
- `tmt.query.sync`: the index brought in step with experiments/;
- here: `Index`, one per repository and process, which runs queries on a synced index.
"""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from tmt._warn import warn
from tmt.errors import RecordError
from tmt.query import kv, sync
from tmt.query.database import Database, immediate, is_busy, is_corrupt
from tmt.query.kv import SERIES_STATS, series_stat_key
from tmt.query.schema import (
    BACKUP_TAG,
    C_CREATED,
    C_CREATED_ISO,
    C_DURATION,
    C_FINISHED,
    C_FINISHED_ISO,
    C_HOST,
    C_ID,
    C_METRICS,
    C_NAME,
    C_PARAMS,
    C_PARENT,
    C_PID,
    C_SERIES,
    C_STATUS,
    C_TAGS,
    INDEX_NAME,
    NOT_BACKUP_SQL,
    ROW_COLUMNS,
    ROW_SQL,
    SCHEMA_VERSION,
    prepare,
)

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo

#: Names query code takes from here (`from tmt.query import index as ix`; ix.C_ID, …).
__all__ = [
    "BACKUP_TAG", "C_CREATED", "C_CREATED_ISO", "C_DURATION", "C_FINISHED", "C_FINISHED_ISO", "C_HOST",
    "C_ID", "C_METRICS", "C_NAME", "C_PARAMS", "C_PARENT", "C_PID", "C_SERIES", "C_STATUS", "C_TAGS",
    "INDEX_NAME", "NOT_BACKUP_SQL", "ROW_COLUMNS", "ROW_SQL", "SCHEMA_VERSION", "SERIES_STATS",
    "Index", "index_for", "prepare", "rebuild_index", "series_stat_key",
]

T = TypeVar("T")


class Index:
    """One open index of one repository (per process; reopened after a fork)."""

    def __init__(self, repo: "Repo", *, memory: bool = False) -> None:
        self.repo = repo
        self.db = Database(repo.tmt_dir, memory=memory)
        self.path = self.db.path
        self.experiments = repo.experiments_dir
        self.pid = os.getpid()
        self.warned: set[tuple[str, int]] = set()
        # One connection per Index, shared by the process's threads: a transaction (BEGIN …
        # COMMIT, or a ROLLBACK on retry) must never interleave with another thread's.
        self.lock = threading.RLock()

    @property
    def memory(self) -> bool:
        """Whether the index lives in memory (a read-only store, or an unsafe index file)."""
        return self.db.memory

    def connection(self) -> sqlite3.Connection:
        return self.db.connection()

    def close(self) -> None:
        self.db.close()

    # -- queries ----------------------------------------------------------------------------

    def run(self, fn: Callable[[sqlite3.Connection], T], *, quiet: bool = False) -> T:
        """Sync, then call fn(conn); a corrupt index is deleted and rebuilt once, silently.

        Corrupt records are warned about (once per process) unless `quiet`."""
        with self.lock:
            return self._run(fn, quiet)

    def _run(self, fn: Callable[[sqlite3.Connection], T], quiet: bool) -> T:
        for attempt in (0, 1):
            try:
                conn = self.connection()
                self.sync()
                if not quiet:
                    self._warn_skipped(conn)
                return self.db.retry(lambda: fn(conn))
            except sqlite3.DatabaseError as e:
                if not is_corrupt(e):
                    raise
                if attempt:
                    raise RecordError(f"the query index {self.path} is unusable: {e}") from e
                if self.db.memory:
                    self.close()
                else:
                    self.db.delete_files()
        raise AssertionError("unreachable")  # pragma: no cover

    def _warn_skipped(self, conn: sqlite3.Connection) -> None:
        # Every query warns about corrupt records, once per process and file version.
        rows = self.db.retry(lambda: conn.execute("SELECT fname, f_mtime, reason FROM skipped").fetchall())
        for fname, mtime, reason in rows:
            if (fname, mtime) not in self.warned:
                self.warned.add((fname, mtime))
                warn(f"skipping corrupt record {self.experiments / fname}: {reason}")

    def read(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], keys: Iterable[str] = ()) -> T:
        """fn(conn) inside one read transaction (one consistent snapshot), with kv holding
        `keys` in that snapshot (filled first if needed)."""
        keys = list(keys)
        for _ in range(10):
            conn.execute("BEGIN")
            try:
                if keys and self.missing_keys(conn, keys):
                    conn.execute("COMMIT")
                    self.ensure_keys(conn, keys)
                    continue
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        raise sqlite3.OperationalError("database is busy: kv keys keep vanishing")  # retried by run()

    @staticmethod
    def missing_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> list[str]:
        """The keys ("m:f1", "p:lr") kv does not hold yet."""
        return kv.missing_keys(conn, keys)

    def ensure_keys(self, conn: sqlite3.Connection, keys: Iterable[str]) -> None:
        """Make sure kv holds every run's value for these keys ("m:f1", "p:lr").

        Called inside run(), after sync; the keys and their values are added in one write
        transaction (tmt.query.kv)."""
        missing = self.missing_keys(conn, keys)
        if not missing:
            return

        def fill() -> None:
            if kv.add_keys(conn, missing):
                sync.bump(conn)

        self.db.retry(lambda: immediate(conn, fill))

    # -- keeping it in step with the records ------------------------------------------------

    def is_fresh(self) -> bool:
        conn = self.connection()
        state = sync.dir_state(self.experiments)
        stored, scanned = self.db.retry(lambda: sync.stored_state(conn))
        if stored != state:
            return False
        return sync.trusted(state, scanned)

    def sync(self, *, full: bool = False) -> None:
        """Bring the index up to date with the records folder (cheap when nothing changed).

        Files are read outside the write lock, against a snapshot of the index taken with its
        generation number; the write applies only if the generation is unchanged (no other
        process wrote in between), else the scan is redone (re-reading nothing already read).
        The last attempt scans while holding the lock, so a sync always ends.
        """
        conn = self.connection()
        if not full and self.is_fresh():
            return
        cache: sync.Cache = {}
        for attempt in range(4):
            locked = attempt == 3
            if self.db.retry(lambda: sync.sync_once(conn, self.experiments, cache, locked)):
                return

    def forget(self, ids: list[str]) -> None:
        """Drop runs whose records were just deleted (the next sync would too; this is sooner)."""
        with self.lock:
            conn = self.connection()

            def write() -> None:
                sync.delete_runs(conn, ids)
                sync.bump(conn)

            try:
                self.db.retry(lambda: immediate(conn, write))
            except sqlite3.DatabaseError:
                pass  # the next sync notices the deleted files anyway

    def rebuild(self) -> int:
        """Drop and rebuild the whole index from the records; returns the number of runs."""
        # Records are read first, outside the lock; then, holding the write lock, the tables
        # are emptied and refilled in one transaction (re-reading only files changed since).
        # Emptying rather than deleting the file keeps other processes' connections valid;
        # a corrupt file is deleted by run() instead.
        cache: sync.Cache = {}
        t0 = time.time_ns()
        state0 = sync.dir_state(self.experiments)
        prefetched = (state0, t0, sync.scan(self.experiments, {}, {}, cache))
        with self.lock:
            try:
                conn = self.connection()
                self.db.retry(lambda: sync.sync_once(
                    conn, self.experiments, cache, locked=True, rebuild=True, prefetched=prefetched))
            except sqlite3.OperationalError as e:
                if is_busy(e):
                    raise
                self.db.delete_files()
            except sqlite3.DatabaseError:
                self.db.delete_files()
        return self.run(lambda c: c.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


_OPEN: dict[str, Index] = {}
_OPEN_LOCK = threading.Lock()


def index_for(repo: "Repo") -> Index:
    """The process-wide Index of `repo` (one connection per process, reopened after fork)."""
    key = str(repo.tmt_dir)
    with _OPEN_LOCK:
        idx = _OPEN.get(key)
        if idx is None or idx.pid != os.getpid():
            idx = Index(repo)
            _OPEN[key] = idx
    return idx


def rebuild_index(repo: "Repo | str | os.PathLike[str] | None" = None) -> int:
    """Rebuild .tmt/index.sqlite from the records (it is a cache); returns the run count."""
    from tmt.repo import Repo

    return index_for(Repo.resolve(repo)).rebuild()
