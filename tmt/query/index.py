"""The query index (.tmt/index.sqlite): a cache of the records, rebuilt from them at will.

Records (experiments/<id>.json) are the truth; this index only makes bulk queries fast.

Keeping it in sync cheaply: the index remembers the experiments folder's (mtime_ns, inode,
size) as of its last scan and each record file's (mtime_ns, size, inode). A query first stats
the folder; when it is unchanged since the scan, and the scan did not start within
RACY_NS of that mtime (a file renamed in during the same clock tick would not move the
mtime), the index is trusted. Otherwise the folder is listed and stat'ed, and only new or
changed records are read; vanished ones are dropped. Records are always published by
rename (atomic_write), which updates the folder's mtime, so a rewritten record is seen. A
record written by a process that never touched the index (it crashed, or the file was
copied in) is therefore found by the next query.

Concurrency: WAL mode (readers never wait for a writer), a busy timeout, and a retry loop on
SQLITE_BUSY so that many processes querying and syncing at once never fail with "database
is locked". Files are read outside the write transaction: the lock is held only to write.
A corrupt or unreadable index is deleted and rebuilt silently; a read-only .tmt/ gets an
in-memory index, rebuilt per process.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tmt._warn import warn
from tmt.errors import CorruptRecord, RecordError, UnsafePath
from tmt.records.io import RECORD_SUFFIX, check_nesting, read_record, read_record_bytes
from tmt.records.model import Record, decode, is_run_id, param_value
from tmt.records.series import stats_of
from tmt.store import codec
from tmt.store.nofollow import check_entry, own_dir, share
from tmt.text import to_text

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo

INDEX_NAME = "index.sqlite"
SCHEMA_VERSION = 5  # also bumped when record validation tightens: old rows are re-read
RACY_NS = 1_000_000_000
BUSY_TIMEOUT_MS = 5_000
RETRY_FOR_S = 120.0
_INT64 = (-(1 << 63), (1 << 63) - 1)

T = TypeVar("T")

#: The index row of a record, defined once: (column, SQL type, its value from the record and
#: the .tmt folder). The runs table, its INSERT, prepare() and the C_* positions query code
#: indexes rows by are all derived from it, in this order (the table's column order).
_COLUMNS: tuple[tuple[str, str, Callable[[Record, "str | None"], Any]], ...] = (
    ("id", "TEXT NOT NULL UNIQUE", lambda r, d: r.id),
    ("name", "TEXT NOT NULL", lambda r, d: to_text(r.name)),
    ("status", "TEXT NOT NULL", lambda r, d: r.status),
    ("created_at", "REAL NOT NULL", lambda r, d: _epoch(r.created_at) or 0.0),
    ("created_iso", "TEXT NOT NULL", lambda r, d: r.created_at),
    ("finished_at", "REAL", lambda r, d: _epoch(r.finished_at)),
    ("finished_iso", "TEXT", lambda r, d: r.finished_at),
    ("duration", "REAL", lambda r, d: _finite(r.duration_s)),
    ("pid", "INTEGER", lambda r, d: _pid((r.env or {}).get("pid"))),
    ("host", "TEXT", lambda r, d: _text_or_none((r.env or {}).get("host"))),
    ("tags", "TEXT NOT NULL", lambda r, d: _tags(r.tags)),
    ("parent", "TEXT", lambda r, d: _text_or_none(r.parent)),
    ("params", "BLOB NOT NULL", lambda r, d: _pack(r.params)),
    ("metrics", "BLOB NOT NULL", lambda r, d: _pack(r.metrics)),
    ("series", "BLOB", lambda r, d: series_column(r, d)),
)
#: The record file's signature, stored after the row (not part of what queries select).
_SIG_COLUMNS = (("f_mtime", "INTEGER NOT NULL"), ("f_size", "INTEGER NOT NULL"), ("f_ino", "INTEGER NOT NULL"))
_EXTRACTORS = tuple(get for _c, _t, get in _COLUMNS)

ROW_COLUMNS = tuple(c for c, _t, _get in _COLUMNS)
_POS = {c: n for n, c in enumerate(ROW_COLUMNS)}
C_ID, C_NAME, C_STATUS = _POS["id"], _POS["name"], _POS["status"]
C_CREATED, C_CREATED_ISO = _POS["created_at"], _POS["created_iso"]
C_FINISHED, C_FINISHED_ISO, C_DURATION = _POS["finished_at"], _POS["finished_iso"], _POS["duration"]
C_PID, C_HOST, C_TAGS, C_PARENT = _POS["pid"], _POS["host"], _POS["tags"], _POS["parent"]
C_PARAMS, C_METRICS, C_SERIES = _POS["params"], _POS["metrics"], _POS["series"]
ROW_SQL = ", ".join(f"runs.{c}" for c in ROW_COLUMNS)
_RUNS_TABLE = (
    "CREATE TABLE IF NOT EXISTS runs (\n    rid INTEGER PRIMARY KEY,\n"
    + ",\n".join(f"    {c} {t}" for c, t, _get in _COLUMNS)
    + ",\n"
    + ",\n".join(f"    {c} {t}" for c, t in _SIG_COLUMNS)
    + "\n);"
)
_INSERT_RUNS = (
    f"INSERT INTO runs (rid, {', '.join(ROW_COLUMNS)}, {', '.join(c for c, _t in _SIG_COLUMNS)})"
    f" VALUES ({', '.join('?' * (1 + len(_COLUMNS) + len(_SIG_COLUMNS)))})"
)
#: Runs an in-place checkout recorded as backups (tmt.workspace): never `last`, `last~N`
#: or `NAME~N`, and listed only when asked for (tmt ls --all, --tag checkout-backup).
BACKUP_TAG = "checkout-backup"
#: SQL true for a run that is not a backup. instr() first: json_each runs only for the rare
#: row whose tags contain the quoted word at all.
NOT_BACKUP_SQL = (
    f"(instr(runs.tags, '\"{BACKUP_TAG}\"') = 0 OR NOT EXISTS "
    f"(SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = '{BACKUP_TAG}'))"
)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
{_RUNS_TABLE}
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at, id);
CREATE INDEX IF NOT EXISTS runs_name ON runs (name, created_at);
CREATE INDEX IF NOT EXISTS runs_parent ON runs (parent);
CREATE TABLE IF NOT EXISTS kv (
    rid INTEGER NOT NULL, key TEXT NOT NULL, num REAL, txt TEXT, b INTEGER,
    PRIMARY KEY (rid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS kv_val ON kv (key, num, txt);
CREATE TABLE IF NOT EXISTS kv_keys (key TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS skipped (
    fname TEXT PRIMARY KEY, f_mtime INTEGER, f_size INTEGER, f_ino INTEGER, reason TEXT
);
PRAGMA user_version = {SCHEMA_VERSION};
"""
_SECONDARY = {
    line.split()[5]: line.rstrip(";")
    for line in _SCHEMA.splitlines()
    if line.startswith("CREATE INDEX")
}


def _is_busy(e: sqlite3.OperationalError) -> bool:
    msg = str(e).lower()
    return "locked" in msg or "busy" in msg


def _trusted(state: str, scanned_ns: int) -> bool:
    """A listing taken at `scanned_ns` of a folder in `state` saw every file, unless the
    folder changed so shortly before that a later change could share its mtime."""
    if state == "absent":
        return True
    return scanned_ns - int(state.split(":", 1)[0]) > RACY_NS


def _create(conn: sqlite3.Connection) -> None:
    """The schema, statement by statement (inside the caller's transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def _is_corrupt(e: sqlite3.DatabaseError) -> bool:
    """Errors that mean the file itself is bad (deleted and rebuilt), not a passing state."""
    if isinstance(e, (sqlite3.ProgrammingError, sqlite3.InterfaceError, sqlite3.IntegrityError)):
        return False
    msg = str(e).lower()
    if isinstance(e, sqlite3.OperationalError):
        return "malformed" in msg or "not a database" in msg
    return True


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


def _kv_rows(rid: int, prefix: str, values: dict[str, Any]) -> Iterable[tuple]:
    for k, v in values.items():
        if isinstance(v, bool):
            yield (rid, prefix + k, None, None, int(v))
        elif isinstance(v, int):
            yield (rid, prefix + k, v if _INT64[0] <= v <= _INT64[1] else float(v), None, None)
        elif isinstance(v, float):
            yield (rid, prefix + k, None if v != v else v, None, None)
        elif isinstance(v, str):
            yield (rid, prefix + k, None, v, None)


def _read(path: str, run_id: str) -> Record:
    """read_record without pathlib (a rebuild reads 100,000 of them): same checks, same errors."""
    raw = read_record_bytes(path)  # never through a link, never blocking on a FIFO
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return read_record(Path(path))  # its error, with its message
    check_nesting(raw, data, path)
    rec = decode(data, path)
    if rec.id != run_id:
        return read_record(Path(path))
    return rec


def prepare(rec: Record, tmt_dir: str | None = None) -> tuple:
    """A record as an index row (without its rid and file signature). `tmt_dir` lets a
    record without a series summary have its series read from the store instead."""
    return tuple([get(rec, tmt_dir) for get in _EXTRACTORS])


def _pid(pid: Any) -> int | None:
    return pid if type(pid) is int and _INT64[0] <= pid <= _INT64[1] else None


def _text_or_none(value: Any) -> str | None:
    return to_text(value) if isinstance(value, str) else None


def _tags(tags: Any) -> str:
    return json.dumps([to_text(t) for t in tags if isinstance(t, str)]) if tags else "[]"


def _finite(value: Any) -> float | None:
    """A duration SQLite can hold (an int beyond 64 bits would overflow the binding)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def series_column(rec: Record, tmt_dir: str | None = None) -> bytes | None:
    """{name: [last, min, max]} of a run's packed series, msgpack (None: no series).

    From the record's `series_summary`; a record written without one (by another writer)
    has its series blobs read once, here, when it is indexed. A running record's series are
    in its journal, which changes without the record: the query reads that (`Runs`)."""
    if not rec.series:
        return None
    stats = stats_of(rec.series_summary)
    missing = [n for n in rec.series if n not in stats]
    if missing and tmt_dir is not None:
        stats.update(_stats_from_blobs(rec, missing, tmt_dir))
    return _pack({n: list(v) for n, v in stats.items()}) if stats else None


def _stats_from_blobs(rec: Record, names: list[str], tmt_dir: str) -> dict[str, tuple]:
    from tmt.errors import TmtError
    from tmt.records.series import decode_series, summarize
    from tmt.store.objects import ObjectStore

    store = ObjectStore(tmt_dir)
    out = {}
    for name in names:
        oid = rec.series[name]
        try:
            info = summarize(decode_series(store.get(oid), oid))
        except (TmtError, TypeError, ValueError):  # missing or damaged: fsck's business
            continue
        out[name] = (info["last"], info["min"], info["max"])
    return out


def _prepare_file(name: str, path: str, tmt_dir: str | None = None) -> tuple | str | None:
    """Prepared values of one record file; its defect (str) if corrupt; None if it vanished."""
    if tmt_dir is None:
        tmt_dir = os.path.dirname(os.path.dirname(path))
    try:
        return prepare(_read(path, name[: -len(RECORD_SUFFIX)]), tmt_dir)
    except CorruptRecord as e:
        return e.reason
    except RecordError:
        return None


def _prepare_chunk(items: list[tuple[str, str]]) -> list:
    tmt_dir = os.path.dirname(os.path.dirname(items[0][1])) if items else None  # one folder for all
    return [_prepare_file(n, p, tmt_dir) for n, p in items]


PARALLEL_MIN = 4000


def prepare_files(items: list[tuple[str, str]]) -> list:
    """Read and prepare many record files; in worker processes when there are many (reading
    and decoding JSON is the cost of a rebuild, and it parallelizes).

    Workers are forked, and only from a process with no other thread: forking a threaded
    process (a training run, the recorder's fsync thread) can deadlock the child on a lock
    another thread held. spawn/forkserver are no way out: they re-import the caller's
    __main__, which re-runs an unguarded training script. Such processes read in-process.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_MIN or workers < 2 or threading.active_count() > 1:
        return _prepare_chunk(items)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        return _prepare_chunk(items)
    size = max(500, len(items) // (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    out: list = []
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for part in pool.map(_prepare_chunk, chunks):
                out.extend(part)
    except (OSError, RuntimeError):  # no processes allowed here: do it in-process
        return _prepare_chunk(items)
    return out


def _kv_for(rows: list[tuple], keys: set[str], c_rid: int, c_params: int, c_metrics: int,
            c_series: int) -> list[tuple]:
    """kv rows (rid, key, num, txt, b) of `rows` for the given "p:"/"m:" keys. A metric key
    `NAME.last`/`.min`/`.max` that a run has no metric of is its series NAME's statistic."""
    kv: list[tuple] = []
    for col, prefix in ((c_params, "p:"), (c_metrics, "m:")):
        names = [k[2:] for k in keys if k.startswith(prefix)]
        if not names:
            continue
        stat_keys = {k: sk for k in names if (sk := series_stat_key(k)) is not None} if prefix == "m:" else {}
        series = (codec.unpack_many([r[c_series] or _NO_SERIES for r in rows]) if stat_keys
                  else [None] * len(rows))
        for r, d, st in zip(rows, codec.unpack_many([r[col] for r in rows]), series):
            if prefix == "p:":  # nested params by their dotted names, as show and export print them
                sub = {k: v for k in names if (v := param_value(d, k)) is not None}
            else:
                sub = {k: d[k] for k in names if k in d}
                for k, (sname, i) in stat_keys.items():
                    if k not in sub and st and sname in st and st[sname][i] is not None:
                        sub[k] = st[sname][i]
            if sub:
                kv.extend(_kv_rows(r[c_rid], prefix, sub))
    return kv


_NO_SERIES = codec.packb({})
#: statistic suffix -> position in a series column entry [last, min, max]
SERIES_STATS = {"last": 0, "min": 1, "max": 2}


def series_stat_key(key: str) -> tuple[str, int] | None:
    """("loss", 0) for "loss.last": a series statistic a metric key may name."""
    name, dot, stat = key.rpartition(".")
    if dot and name and stat in SERIES_STATS:
        return name, SERIES_STATS[stat]
    return None


def _pack(values: dict[str, Any]) -> bytes:
    try:
        return codec.packb(values)
    except (OverflowError, TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return codec.packb(_indexable(values))


def _indexable(value: Any) -> Any:
    """`value` as msgpack can hold it: integers beyond 64 bits as floats (±inf beyond the
    float range), so they still compare in `where`, sort and best(); text with undecodable
    bytes as tmt.text.to_text shows them. The record keeps the exact value."""
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return value
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        return to_text(value)
    if isinstance(value, dict):
        return {to_text(str(k)): _indexable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_indexable(v) for v in value]
    return to_text(str(value))


def _immediate(conn: sqlite3.Connection, work) -> None:
    """Run `work` in a write transaction taken up front (BEGIN IMMEDIATE), rolled back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        work()
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


class Index:
    """One open index of one repository (per process; reopened after a fork)."""

    def __init__(self, repo: "Repo", *, memory: bool = False) -> None:
        self.repo = repo
        self.path = repo.tmt_dir / INDEX_NAME
        self.experiments = repo.experiments_dir
        self.pid = os.getpid()
        self.memory = memory
        self.conn: sqlite3.Connection | None = None
        self.warned: set[tuple[str, int]] = set()
        # One connection per Index, shared by the process's threads: a transaction (BEGIN …
        # COMMIT, or a ROLLBACK on retry) must never interleave with another thread's.
        self.lock = threading.RLock()

    # -- connection -------------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if not self.memory and not os.access(self.repo.tmt_dir, os.W_OK):
            self.memory = True
        if not self.memory and not self._own_files():
            self.memory = True
        if self.memory:
            conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            _create(conn)
            return conn
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except sqlite3.OperationalError:
            self.memory = True
            return self._open()
        try:
            self._retry(lambda: self._init(conn))
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
            share(fd, self.repo.tmt_dir, 0o644)
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
                    _create(conn)

            _immediate(conn, reset)
            version = SCHEMA_VERSION
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if version == 0:
            _immediate(conn, lambda: _create(conn))

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

    def _delete_files(self) -> None:
        self.close()
        for suffix in ("", "-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError:
                self.memory = True

    def _retry(self, fn: Callable[[], T]) -> T:
        """Run `fn`, retrying while another process holds the write lock (never 'locked')."""
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.005
        while True:
            try:
                return fn()
            except sqlite3.OperationalError as e:
                if not _is_busy(e) or time.monotonic() > deadline:
                    raise
                conn = self.conn
                if conn is not None and conn.in_transaction:
                    try:
                        conn.execute("ROLLBACK")
                    except sqlite3.Error:
                        pass
                time.sleep(delay * (0.5 + int.from_bytes(os.urandom(2), "big") / 65536))  # jitter, without `random`
                delay = min(delay * 2, 0.25)

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
                return self._retry(lambda: fn(conn))
            except sqlite3.DatabaseError as e:
                if not _is_corrupt(e):
                    raise
                if attempt:
                    raise RecordError(f"the query index {self.path} is unusable: {e}") from e
                if self.memory:
                    self.close()
                else:
                    self._delete_files()
        raise AssertionError("unreachable")  # pragma: no cover

    def _warn_skipped(self, conn: sqlite3.Connection) -> None:
        # Every query warns about corrupt records, once per process and file version.
        rows = self._retry(lambda: conn.execute("SELECT fname, f_mtime, reason FROM skipped").fetchall())
        for fname, mtime, reason in rows:
            if (fname, mtime) not in self.warned:
                self.warned.add((fname, mtime))
                warn(f"skipping corrupt record {self.experiments / fname}: {reason}")

    # -- sync -------------------------------------------------------------------------------

    def _dir_state(self) -> str:
        try:
            st = os.stat(self.experiments)
        except FileNotFoundError:
            return "absent"
        return f"{st.st_mtime_ns}:{st.st_ino}:{st.st_size}"

    def _meta(self, conn: sqlite3.Connection) -> tuple[str | None, int]:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key IN ('dir', 'scanned')").fetchall())
        return rows.get("dir"), int(rows.get("scanned") or 0)

    def is_fresh(self) -> bool:
        conn = self.connection()
        state = self._dir_state()
        stored, scanned = self._retry(lambda: self._meta(conn))
        if stored != state:
            return False
        return _trusted(state, scanned)

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
        cache: dict[str, tuple[tuple[int, int, int], Any]] = {}
        for attempt in range(4):
            locked = attempt == 3
            if self._retry(lambda: self._sync_once(conn, cache, locked)):
                return

    def _sync_once(
        self, conn: sqlite3.Connection, cache: dict, locked: bool, rebuild: bool = False, prefetched: tuple | None = None
    ) -> bool:
        conn.execute("BEGIN IMMEDIATE" if locked else "BEGIN")
        try:
            gen = conn.execute("SELECT value FROM meta WHERE key = 'gen'").fetchone()
            if rebuild:  # emptied and refilled in one transaction: readers never see it empty
                for table in ("kv", "runs", "skipped"):  # kv_keys stay: upsert refills their values
                    conn.execute(f"DELETE FROM {table}")
            known = {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT id, f_mtime, f_size, f_ino FROM runs")}
            skipped = {r[0]: (r[1], r[2], r[3]) for r in conn.execute("SELECT fname, f_mtime, f_size, f_ino FROM skipped")}
            if not locked:
                conn.execute("COMMIT")
            scan_start = time.time_ns()
            state = self._dir_state()  # before listing: a change during the scan forces a rescan
            if prefetched is not None and not known and not skipped and prefetched[0] == state \
                    and _trusted(state, prefetched[1]):
                # The folder has not changed since the (unlocked) listing: use it as is.
                scan_start, (changed, bad, vanished, vanished_bad) = prefetched[1], prefetched[2]
            else:
                changed, bad, vanished, vanished_bad = self._scan(known, skipped, cache)
            if not locked:
                conn.execute("BEGIN IMMEDIATE")
                now = conn.execute("SELECT value FROM meta WHERE key = 'gen'").fetchone()
                if now != gen:
                    conn.execute("ROLLBACK")
                    return False
            if vanished:
                self._delete_runs(conn, vanished)
            if vanished_bad:
                conn.executemany("DELETE FROM skipped WHERE fname = ?", [(n,) for n in vanished_bad])
            if changed:
                self._upsert(conn, changed, fresh=rebuild or not known)
            if bad:
                conn.executemany(
                    "INSERT OR REPLACE INTO skipped VALUES (?, ?, ?, ?, ?)",
                    [(n, *sig, reason) for n, sig, reason in bad],
                )
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

    def _scan(self, known: dict, skipped: dict, cache: dict) -> tuple[list, list, list, list]:
        """List and stat the records; read those that are new or changed (and not in `cache`).

        Returns (changed [(prepared, sig)], bad [(file name, sig, reason)], vanished run ids,
        vanished bad file names).
        """
        seen: set[str] = set()
        bad_seen: set[str] = set()
        pending: list[tuple[str, str, tuple[int, int, int]]] = []  # (name, path, sig) to use
        to_read: list[tuple[str, str]] = []
        try:
            it = os.scandir(own_dir(self.experiments.parent, self.experiments.name))
        except FileNotFoundError:
            it = None
        if it is not None:
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
                        continue
                    if skipped.get(name) == sig:
                        bad_seen.add(name)
                        continue
                    pending.append((name, entry.path, sig))
                    hit = cache.get(name)
                    if hit is None or hit[0] != sig:
                        to_read.append((name, entry.path))
        if to_read:
            for (name, _path), result in zip(to_read, prepare_files(to_read)):
                cache[name] = (None, result)  # signature filled below
        changed: list[tuple[tuple, tuple[int, int, int]]] = []
        bad: list[tuple[str, tuple[int, int, int], str]] = []
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
        vanished = [rid for rid in known if rid not in seen]
        vanished_bad = [n for n in skipped if n not in bad_seen]
        return changed, bad, vanished, vanished_bad

    @staticmethod
    def _bump(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO meta VALUES ('gen', COALESCE((SELECT value FROM meta WHERE key = 'gen'), 0) + 1)"
        )

    @staticmethod
    def _delete_runs(conn: sqlite3.Connection, ids: list[str]) -> None:
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM kv WHERE rid IN (SELECT rid FROM runs WHERE id IN ({marks}))", chunk)
            conn.execute(f"DELETE FROM runs WHERE id IN ({marks})", chunk)

    @staticmethod
    def _upsert(conn: sqlite3.Connection, changed: list[tuple[tuple, tuple[int, int, int]]], fresh: bool = False) -> None:
        """Insert (or replace) prepared records; `fresh`: the tables are empty."""
        if not fresh:
            Index._delete_runs(conn, [row[C_ID] for row, _sig in changed])
        first = (conn.execute("SELECT COALESCE(MAX(rid), 0) FROM runs").fetchone()[0]) + 1
        changed = sorted(changed, key=lambda c: c[0][C_CREATED])  # table order = time order: fast scans
        rows = [(first + n, *row, *sig) for n, (row, sig) in enumerate(changed)]
        # Only keys some query has filtered on are kept in kv (see ensure_keys).
        keys = {k for (k,) in conn.execute("SELECT key FROM kv_keys")}
        kv = _kv_for(rows, keys, 0, 1 + C_PARAMS, 1 + C_METRICS, 1 + C_SERIES) if keys else []  # rid first
        # Many rows: building the secondary indexes once, after the inserts, is much faster
        # than updating them row by row (readers keep their snapshot until the commit).
        bulk = len(rows) > 5000
        if bulk:
            conn.execute("PRAGMA cache_size = -131072")
            for name in _SECONDARY:
                conn.execute(f"DROP INDEX IF EXISTS {name}")
        conn.executemany(
            _INSERT_RUNS,
            rows,
        )
        if kv:
            conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)", kv)
        if bulk:
            for sql in _SECONDARY.values():
                conn.execute(sql)
            conn.execute("PRAGMA cache_size = -2000")

    @staticmethod
    def missing_keys(conn: sqlite3.Connection, keys: list[str]) -> list[str]:
        have = {k for (k,) in conn.execute("SELECT key FROM kv_keys")}
        return sorted(set(keys) - have)

    def read(self, conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T], keys: list[str] = ()) -> T:
        """fn(conn) inside one read transaction (one consistent snapshot), with kv holding
        `keys` in that snapshot (filled first if needed)."""
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

    def ensure_keys(self, conn: sqlite3.Connection, keys: list[str]) -> None:
        """Make sure kv holds every run's value for these keys ("m:f1", "p:lr").

        kv is filled lazily, per key, the first time a `where` uses it: a rebuild then only
        writes the runs table, and keys nobody filters on cost nothing. Called inside
        run(), after sync; the key and its values are added in one write transaction, so
        kv is always complete for every key listed in kv_keys.
        """
        missing = self.missing_keys(conn, keys)
        if not missing:
            return

        def fill() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = {k for (k,) in conn.execute("SELECT key FROM kv_keys")}
                todo = [k for k in missing if k not in now]
                if todo:
                    rows = conn.execute("SELECT rid, params, metrics, series FROM runs").fetchall()
                    kv = _kv_for(rows, set(todo), 0, 1, 2, 3)
                    conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)", kv)
                    conn.executemany("INSERT OR IGNORE INTO kv_keys VALUES (?)", [(k,) for k in todo])
                    self._bump(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        self._retry(fill)

    def forget(self, ids: list[str]) -> None:
        """Drop runs whose records were just deleted (the next sync would too; this is sooner)."""
        with self.lock:
            self._forget(ids)

    def _forget(self, ids: list[str]) -> None:
        conn = self.connection()

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._delete_runs(conn, ids)
                self._bump(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        try:
            self._retry(write)
        except sqlite3.DatabaseError:
            pass  # the next sync notices the deleted files anyway

    def rebuild(self) -> int:
        """Drop and rebuild the whole index from the records; returns the number of runs."""
        # Records are read first, outside the lock; then, holding the write lock, the tables
        # are emptied and refilled in one transaction (re-reading only files changed since).
        # Emptying rather than deleting the file keeps other processes' connections valid;
        # a corrupt file is deleted by run() instead.
        cache: dict = {}
        t0 = time.time_ns()
        state0 = self._dir_state()
        prefetched = (state0, t0, self._scan({}, {}, cache))
        with self.lock:
            try:
                conn = self.connection()
                self._retry(lambda: self._sync_once(conn, cache, locked=True, rebuild=True, prefetched=prefetched))
            except sqlite3.OperationalError as e:
                if _is_busy(e):
                    raise
                self._delete_files()
            except sqlite3.DatabaseError:
                self._delete_files()
        return self.run(lambda c: c.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


_WARNED_UNSAFE: set[str] = set()
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
