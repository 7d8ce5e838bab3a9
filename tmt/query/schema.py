"""The query index's tables, and a record's row in them: the mapping is defined once (_COLUMNS).

The runs table, its INSERT, `prepare()` and the C_* positions query code indexes rows by are
all derived from _COLUMNS. Every value is made storable here (64-bit integers, finite floats,
decodable text): the record keeps the exact value, the index what SQLite and msgpack hold.
"""
from __future__ import annotations

import functools
import json
import math
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tmt.records.model import BACKUP_TAG, Record
from tmt.records.series import stats_of
from tmt.store import codec
from tmt.text import to_text

if TYPE_CHECKING:
    from tmt.store.objects import ObjectStore

INDEX_NAME = "index.sqlite"
SCHEMA_VERSION = 5  # also bumped when record validation tightens: old rows are re-read
INT64 = (-(1 << 63), (1 << 63) - 1)


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).timestamp()
    except (TypeError, ValueError):
        return None


def _pid(pid: Any) -> int | None:
    return pid if type(pid) is int and INT64[0] <= pid <= INT64[1] else None


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
        if INT64[0] <= value <= INT64[1]:
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

    store = _store_of(tmt_dir)
    out = {}
    for name in names:
        oid = rec.series[name]
        try:
            info = summarize(decode_series(store.get(oid), oid))
        except (TmtError, TypeError, ValueError):  # missing or damaged: fsck's business
            continue
        out[name] = (info["last"], info["min"], info["max"])
    return out


@functools.lru_cache(maxsize=4)
def _store_of(tmt_dir: str) -> "ObjectStore":
    """One store per folder for a whole sync (not one per record read)."""
    from tmt.store.objects import ObjectStore

    return ObjectStore(tmt_dir)


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
INSERT_RUNS = (
    f"INSERT INTO runs (rid, {', '.join(ROW_COLUMNS)}, {', '.join(c for c, _t in _SIG_COLUMNS)})"
    f" VALUES ({', '.join('?' * (1 + len(_COLUMNS) + len(_SIG_COLUMNS)))})"
)
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
#: The secondary indexes by name: a bulk insert drops them and builds them again after.
SECONDARY = {
    line.split()[5]: line.rstrip(";")
    for line in _SCHEMA.splitlines()
    if line.startswith("CREATE INDEX")
}


def create(conn: sqlite3.Connection) -> None:
    """The schema, statement by statement (inside the caller's transaction)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def prepare(rec: Record, tmt_dir: str | None = None) -> tuple:
    """A record as an index row (without its rid and file signature). `tmt_dir` lets a
    record without a series summary have its series read from the store instead."""
    return tuple([get(rec, tmt_dir) for get in _EXTRACTORS])
