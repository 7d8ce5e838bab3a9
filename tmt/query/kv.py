"""The index's kv table: one row per (run, key) for the keys queries filter on, filled lazily.

kv holds only the keys some `where` has used (listed in kv_keys): a rebuild writes the runs
table alone, and keys nobody filters on cost nothing. A key is added with all its values in
one write transaction, so kv is always complete for every key kv_keys lists.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from tmt.query.schema import INT64
from tmt.records.model import param_value
from tmt.store import codec

_NO_SERIES = codec.packb({})
#: statistic suffix -> position in a series column entry [last, min, max]
SERIES_STATS = {"last": 0, "min": 1, "max": 2}


def series_stat_key(key: str) -> tuple[str, int] | None:
    """("loss", 0) for "loss.last": a series statistic a metric key may name."""
    name, dot, stat = key.rpartition(".")
    if dot and name and stat in SERIES_STATS:
        return name, SERIES_STATS[stat]
    return None


def _kv_rows(rid: int, prefix: str, values: dict[str, Any]) -> Iterable[tuple]:
    for k, v in values.items():
        if isinstance(v, bool):
            yield (rid, prefix + k, None, None, int(v))
        elif isinstance(v, int):
            yield (rid, prefix + k, v if INT64[0] <= v <= INT64[1] else float(v), None, None)
        elif isinstance(v, float):
            yield (rid, prefix + k, None if v != v else v, None, None)
        elif isinstance(v, str):
            yield (rid, prefix + k, None, v, None)


def kv_for(rows: list[tuple], keys: set[str], c_rid: int, c_params: int, c_metrics: int,
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


def kept_keys(conn: sqlite3.Connection) -> set[str]:
    """The keys kv holds every run's value of."""
    return {k for (k,) in conn.execute("SELECT key FROM kv_keys")}


def missing_keys(conn: sqlite3.Connection, keys: Iterable[str]) -> list[str]:
    return sorted(set(keys) - kept_keys(conn))


def add_keys(conn: sqlite3.Connection, keys: list[str]) -> bool:
    """Fill kv with every run's value of those `keys` it does not hold yet (inside the
    caller's write transaction); whether anything was added."""
    have = kept_keys(conn)
    todo = [k for k in keys if k not in have]
    if not todo:
        return False
    rows = conn.execute("SELECT rid, params, metrics, series FROM runs").fetchall()
    conn.executemany("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?, ?)", kv_for(rows, set(todo), 0, 1, 2, 3))
    conn.executemany("INSERT OR IGNORE INTO kv_keys VALUES (?)", [(k,) for k in todo])
    return True
