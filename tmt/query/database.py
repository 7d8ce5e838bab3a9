"""The index's SQLite connection: opened safely (tmt's own files, else in memory), its schema
version checked, and every operation retried while another process holds the write lock.

Concurrency: WAL mode (readers never wait for a writer), a busy timeout, and a retry loop on
SQLITE_BUSY so that many processes querying and syncing at once never fail with "database
is locked". A read-only .tmt/, or an index file that is a link or special file, gets an
in-memory index, rebuilt per process.
"""
from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tmt._warn import warn
from tmt.errors import UnsafePath
from tmt.query.schema import INDEX_NAME, SCHEMA_VERSION, create
from tmt.store.nofollow import check_entry, share

BUSY_TIMEOUT_MS = 5_000
RETRY_FOR_S = 120.0

T = TypeVar("T")

_WARNED_UNSAFE: set[str] = set()


def is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


def is_corrupt(e: sqlite3.DatabaseError) -> bool:
    """Errors that mean the file itself is bad (deleted and rebuilt), not a passing state."""
    if isinstance(e, (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError)):
        return False
    msg = str(e).lower()
    if isinstance(e, sqlite3.OperationalError):
        return "malformed" in msg or "not a database" in msg
    return True


def immediate(conn: sqlite3.Connection, work: Callable[[], object]) -> None:
    """Run `work` in a write transaction taken up front (BEGIN IMMEDIATE), rolled back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Database:
    """The connection to one repository's index.sqlite (or to its in-memory stand-in)."""

    def __init__(self, tmt_dir: Path, *, memory: bool = False) -> None:
        self.tmt_dir = tmt_dir
        self.path = tmt_dir / INDEX_NAME
        self.memory = memory
        self.conn: sqlite3.Connection | None = None

    def connection(self) -> sqlite3.Connection:
        if self.conn is None:
            self.conn = self._open()
        return self.conn

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except sqlite3.Error:
                pass
            self.conn = None

    def delete_files(self) -> None:
        """Close and delete the index (it is rebuilt from the records); in memory from now on
        if a file cannot be deleted."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError:
                self.memory = True

    def retry(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying while another process holds the write lock (never 'locked')."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not is_busy(e) or time.monotonic() > deadline:
                    raise
                conn = self.conn
                if conn is not None and conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                time.sleep(delay * (0.5 + int.from_bytes(os.urandom(2), "big") / 65536))  # jitter, without `random`
                delay = min(delay * 2, 0.25)

    def _open(self) -> sqlite3.Connection:
        if not self.memory and not os.access(self.tmt_dir, os.W_OK):
            self.memory = True
        if not self.memory and not self._own_files():
            self.memory = True
        if self.memory:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            create(conn)
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.OperationalError:
            self.memory = True
            return self._open()
        try:
            self.retry(lambda: self._init(conn))
        except sqlite3.OperationalError as e:
            conn.close()
            if "readonly" in str(e).lower() or "unable to open" in str(e).lower():
                self.memory = True
                return self._open()
            raise
        return conn

    def _own_files(self) -> bool:
        """Whether index.sqlite (and its -wal, -shm, -journal) are tmt's own regular files,
        making the database if it is missing, with the store's group permissions (SQLite
        gives its -wal and -shm files the database's mode), so every member of a group
        sharing the store can write it. A link or special file there is never opened: SQLite
        would write (or drop tables) through it. The index is then kept in memory, with a
        warning once per process; `tmt fsck` names the file, `tmt fsck --repair` moves it aside.
        """
        try:
            for suffix in ("", "-wal", "-shm", "-journal"):
                check_entry(f"{self.path}{suffix}")
        except UnsafePath as e:
            if str(self.path) not in _WARNED_UNSAFE:
                _WARNED_UNSAFE.add(str(self.path))
                warn(f"{e.message}; the query index is kept in memory (run `tmt fsck`)")
            return False
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return True
        except OSError:
            return True  # sqlite will say what is wrong (or fall back to memory)
        try:
            share(fd, self.tmt_dir, 0o644)
        finally:
            os.close(fd)
        return True

    def _init(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, SCHEMA_VERSION):
            # Another tmt's layout: drop its tables in place (deleting the file would pull it
            # from under other processes' open connections) and start afresh.
            def reset() -> None:
                if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                    names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
                    for (name,) in names:
                        conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                    create(conn)

            immediate(conn, reset)
            version = SCHEMA_VERSION
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            immediate(conn, lambda: create(conn))
