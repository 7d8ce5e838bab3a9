"""Keeping the index in step with experiments/: stat the folder, list and stat the records,
read only the new and changed ones, and write the difference.

The index remembers the experiments folder's (mtime_ns, inode, size) as of its last scan and
each record file's (mtime_ns, size, inode). A query first stats the folder; when it is
unchanged since the scan, and the scan did not start within RACY_NS of that mtime (a file
renamed in during the same clock tick would not move the mtime), the index is trusted.
Otherwise the folder is listed and stat'ed, and only new or changed records are read;
vanished ones are dropped. Records are always published by rename (atomic_write), which
updates the folder's mtime, so a rewritten record is seen. A record written by a process that
never touched the index (it crashed, or the file was copied in) is therefore found by the
next query.

Files are read outside the write transaction, against a snapshot of the index taken with its
generation number (meta 'gen'); the write applies only if the generation is unchanged (no
other process wrote in between), else the caller scans again (`Index.sync`).
"""
from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any, NamedTuple

from tmt.query.reading import prepare_files
from tmt.query.schema import C_CREATED, C_ID, C_METRICS, C_PARAMS, C_SERIES, INSERT_RUNS, SECONDARY
from tmt.query.kv import kept_keys, kv_for
from tmt.records.io import RECORD_SUFFIX
from tmt.records.model import is_run_id
from tmt.store.nofollow import own_dir

RACY_NS = 1_000_000_000

#: A record file's signature: (mtime_ns, size, inode).
Sig = tuple[int, int, int]
#: Record files already read during one sync, by file name: (signature, prepared row or
#: defect or None). A retried scan re-reads only the files whose signature changed.
Cache = dict[str, tuple["Sig | None", Any]]


class Scan(NamedTuple):
    """What a scan of experiments/ found that the index does not hold yet."""

    changed: list[tuple[tuple, Sig]]  # (prepared row, signature) of new or changed records
    bad: list[tuple[str, Sig, str]]  # (file name, signature, defect) of corrupt ones
    vanished: list[str]  # run ids whose record is gone
    vanished_bad: list[str]  # file names of corrupt records that are gone


#: A scan taken before the sync that uses it: (folder state, scan start in ns, the scan).
Prefetched = tuple[str, int, Scan]


def dir_state(experiments: Path) -> str:
    try:
        st = os.stat(experiments)
    except FileNotFoundError:
        return "absent"
    return f"{st.st_mtime_ns}:{st.st_ino}:{st.st_size}"


def trusted(state: str, scanned_ns: int) -> bool:
    """A listing taken at `scanned_ns` of a folder in `state` saw every file, unless the
    folder changed so shortly before that a later change could share its mtime."""
    if state == "absent":
        return True
    return scanned_ns - int(state.split(":", 1)[0]) > RACY_NS


def stored_state(conn: sqlite3.Connection) -> tuple[str | None, int]:
    """The folder state and scan start the index was last synced at."""
    rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('dir', 'scanned')").fetchall())
    return rows.get("dir"), int(rows.get("scanned") or 0)


# -- scan: list, stat and read the records -------------------------------------------------


def scan(experiments: Path, known: dict[str, Sig], skipped: dict[str, Sig], cache: Cache) -> Scan:
    """List and stat the records; read those that are new or changed (and not in `cache`).
    `known`: the signatures of the indexed runs by id; `skipped`: those of the corrupt
    records by file name."""
    seen: set[str] = set()
    bad_seen: set[str] = set()
    pending = _list(experiments, known, skipped, seen, bad_seen)
    _read(pending, cache)
    changed, bad = _sort_out(pending, cache, seen, bad_seen)
    vanished = [rid for rid in known if rid not in seen]
    vanished_bad = [n for n in skipped if n not in bad_seen]
    return Scan(changed, bad, vanished, vanished_bad)


def _list(experiments: Path, known: dict[str, Sig], skipped: dict[str, Sig], seen: set[str],
          bad_seen: set[str]) -> list[tuple[str, str, Sig]]:
    """(file name, path, signature) of the record files the index does not hold as they are;
    the ids and corrupt files it holds unchanged are added to `seen` and `bad_seen`."""
    pending: list[tuple[str, str, Sig]] = []
    try:
        it = os.scandir(own_dir(experiments.parent, experiments.name))
    except FileNotFoundError:
        return pending
    with it:
        for entry in it:
            name = entry.name
            if not name.endswith(RECORD_SUFFIX):
                continue
            rid = name[: -len(RECORD_SUFFIX)]
            if not is_run_id(rid):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            sig = (st.st_mtime_ns, st.st_size, st.st_ino)
            if known.get(rid) == sig:
                seen.add(rid)
            elif skipped.get(name) == sig:
                bad_seen.add(name)
            else:
                pending.append((name, entry.path, sig))
    return pending


def _read(pending: list[tuple[str, str, Sig]], cache: Cache) -> None:
    """Read into `cache` the pending files it does not hold at their signature."""
    to_read = []
    for name, path, sig in pending:
        hit = cache.get(name)
        if hit is None or hit[0] != sig:
            to_read.append((name, path))
    if to_read:
        for (name, _path), result in zip(to_read, prepare_files(to_read)):
            cache[name] = (None, result)  # signature filled by _sort_out


def _sort_out(pending: list[tuple[str, str, Sig]], cache: Cache, seen: set[str],
              bad_seen: set[str]) -> tuple[list[tuple[tuple, Sig]], list[tuple[str, Sig, str]]]:
    """The pending files' rows (changed) and defects (bad), from `cache`."""
    changed: list[tuple[tuple, Sig]] = []
    bad: list[tuple[str, Sig, str]] = []
    for name, _path, sig in pending:
        hit = cache[name]
        if hit[0] is None:
            cache[name] = hit = (sig, hit[1])
        result = hit[1]
        if result is None:  # vanished between listing and reading
            continue
        if isinstance(result, str):
            bad.append((name, sig, result))
            bad_seen.add(name)
        else:
            seen.add(name[: -len(RECORD_SUFFIX)])
            changed.append((result, sig))
    return changed, bad


# -- sync: one attempt ---------------------------------------------------------------------


def sync_once(conn: sqlite3.Connection, experiments: Path, cache: Cache, locked: bool, rebuild: bool = False,
              prefetched: Prefetched | None = None) -> bool:
    """One attempt at a sync; False when another process wrote the index meanwhile.

    `locked`: hold the write lock throughout (the scan too), so the attempt always applies.
    `rebuild`: empty the tables first (in the same transaction: readers never see it empty).
    `prefetched`: a scan of an empty index taken earlier, used if the folder has not changed.
    """
    conn.execute("BEGIN IMMEDIATE" if locked else "BEGIN")
    try:
        gen = _generation(conn)
        if rebuild:
            for table in ("kv", "runs", "skipped"):  # kv_keys stay: upsert refills their values
                conn.execute(f"DELETE FROM {table}")
        known: dict[str, Sig] = {
            r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, f_mtime, f_size, f_ino FROM runs")}
        skipped: dict[str, Sig] = {
            r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT fname, f_mtime, f_size, f_ino FROM skipped")}
        if not locked:
            conn.execute("COMMIT")
        scan_start = time.time_ns()
        state = dir_state(experiments)  # before listing: a change during the scan forces a rescan
        if prefetched is not None and not known and not skipped and prefetched[0] == state \
                and trusted(state, prefetched[1]):
            # The folder has not changed since the (unlocked) listing: use it as is.
            scan_start, found = prefetched[1], prefetched[2]
        else:
            found = scan(experiments, known, skipped, cache)
        if not locked:
            conn.execute("BEGIN IMMEDIATE")
            if _generation(conn) != gen:
                conn.execute("ROLLBACK")
                return False
        _apply(conn, found, fresh=rebuild or not known)
        conn.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [("dir", state), ("scanned", scan_start), ("gen", (gen[0] if gen else 0) + 1)],
        )
        conn.execute("COMMIT")
        return True
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _generation(conn: sqlite3.Connection) -> tuple | None:
    return conn.execute("SELECT value FROM meta WHERE key = 'gen'").fetchone()


# -- write: the difference -----------------------------------------------------------------


def _apply(conn: sqlite3.Connection, found: Scan, fresh: bool) -> None:
    """Write what a scan found (inside the caller's write transaction)."""
    if found.vanished:
        delete_runs(conn, found.vanished)
    if found.vanished_bad:
        conn.executemany("DELETE FROM skipped WHERE fname = ?", [(n,) for n in found.vanished_bad])
    if found.changed:
        _upsert(conn, found.changed, fresh=fresh)
    if found.bad:
        conn.executemany(
            "INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?)",
            [(n, *sig, reason) for n, sig, reason in found.bad],
        )


def bump(conn: sqlite3.Connection) -> None:
    """A new generation: a sync that read the index before this write must scan again."""
    conn.execute(
        "INSERT OR REPLACE INTO meta VALUES ('gen', COALESCE((SELECT value FROM meta WHERE key = 'gen'), 0) + 1)"
    )


def delete_runs(conn: sqlite3.Connection, ids: list[str]) -> None:
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM kv WHERE rid IN (SELECT rid FROM runs WHERE id IN ({marks}))", chunk)
        conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)


def _upsert(conn: sqlite3.Connection, changed: list[tuple[tuple, Sig]], fresh: bool = False) -> None:
    """Insert (or replace) prepared records; `fresh`: the tables are empty."""
    if not fresh:
        delete_runs(conn, [row[C_ID] for row, _sig in changed])
    first = (conn.execute("SELECT COALESCE(MAX(rid), 0) FROM runs").fetchone()[0]) + 1
    changed = sorted(changed, key=lambda c: c[0][C_CREATED])  # table order = time order: fast scans
    rows = [(first + n, *row, *sig) for n, (row, sig) in enumerate(changed)]
    # Only keys some query has filtered on are kept in kv (tmt.query.kv).
    keys = kept_keys(conn)
    kv = kv_for(rows, keys, 0, 1 + C_PARAMS, 1 + C_METRICS, 1 + C_SERIES) if keys else []  # rid first
    # Many rows: building the secondary indexes once, after the inserts, is much faster
    # than updating them row by row (readers keep their snapshot until the commit).
    bulk = len(rows) > 5000
    if bulk:
        conn.execute("PRAGMA cache_size = -131072")
        for name in SECONDARY:
            conn.execute(f"DROP INDEX IF EXISTS {name}")
    conn.executemany(INSERT_RUNS, rows)
    if kv:
        conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)", kv)
    if bulk:
        for sql in SECONDARY.values():
            conn.execute(sql)
        conn.execute("PRAGMA cache_size = -2000")
