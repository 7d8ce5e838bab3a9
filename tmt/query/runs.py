"""Many runs at once: `Runs` (a list-like collection) and the query that selects them.

A Runs holds index rows, not Run objects: a Run is made when one is asked for, and bulk
views (`to_records`, `to_pandas`, `best`, `sort`) decode the columns they need in bulk.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, overload

from tmt.errors import MissingDependency, TmtError, UsageError
from tmt.query import index as ix
from tmt.query.filters import Condition, parse_time, parse_where_list
from tmt.query.run import Run, row_status
from tmt.records.model import param_value
from tmt.store import codec
from tmt.text import is_text, printable

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo

STATUS_CHOICES = ("running", "completed", "failed", "interrupted", "crashed")
_FIELDS = {"id": ix.C_ID, "name": ix.C_NAME, "status": ix.C_STATUS, "created_at": ix.C_CREATED,
           "finished_at": ix.C_FINISHED, "duration_s": ix.C_DURATION}


def unpack_column(rows: Sequence[tuple], col: int) -> list[dict[str, Any]]:
    """Decode one msgpack column of many rows in one C-level pass (not one call per row)."""
    return codec.unpack_many([r[col] for r in rows])


def dict_columns(dicts: list[dict[str, Any]], prefix: str) -> dict[str, list[Any]]:
    """Columns (sorted by key) of many dicts, None where a dict lacks the key."""
    if not dicts:
        return {}
    keys: dict[str, None] = dict.fromkeys(dicts[0])
    for d in dicts:
        if len(d) != len(keys) or d.keys() != keys.keys():
            for k in d:
                if k not in keys:
                    keys[k] = None
    out = {}
    for k in sorted(keys):
        try:
            out[prefix + k] = list(map(itemgetter(k), dicts))  # C-level when every run has it
        except KeyError:
            out[prefix + k] = [d.get(k) for d in dicts]
    return out


def series_stats(repo: "Repo", rows: Sequence[tuple]) -> list[dict[str, list]]:
    """{series name: [last, min, max]} of each row: from the index for finished runs, from
    the journal for a run still recorded as running (live, or crashed: its steps are there)."""
    from tmt.records.series import read_journal, summarize

    out: list[dict[str, list]] = []
    blobs = codec.unpack_many([r[ix.C_SERIES] or _NO_SERIES for r in rows])
    for r, stats in zip(rows, blobs):
        if r[ix.C_STATUS] == "running":
            try:
                journal = read_journal(repo.tmt_dir, r[ix.C_ID])
            except TmtError:
                journal = {}
            stats = {n: [i["last"], i["min"], i["max"]] for n, s in journal.items() for i in (summarize(s),)}
        out.append(stats)
    return out


_NO_SERIES = codec.packb({})


def effective_statuses(rows: Sequence[tuple]) -> list[str]:
    """The status of each row, a dead `running` run on this host as `crashed`."""
    return [row_status(r) if r[ix.C_STATUS] == "running" else r[ix.C_STATUS] for r in rows]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


def sort_order(values: Sequence[Any], descending: bool) -> list[int]:
    """Positions of `values` in sorted order: missing ones (None, NaN) last, ties in the
    order given, numbers before text (mixed kinds) as `Runs.sort` promises."""
    have: list[int] = []
    missing: list[int] = []
    for n, v in enumerate(values):
        (missing if v is None or (isinstance(v, float) and math.isnan(v)) else have).append(n)
    try:
        have.sort(key=lambda n: values[n], reverse=descending)
    except TypeError:  # mixed kinds: numbers by value first, then the rest by their text
        have.sort(key=lambda n: (0, values[n], "") if _is_number(values[n]) else (1, 0, str(values[n])),
                  reverse=descending)
    return have + missing


class Runs(Sequence[Run]):
    """An ordered collection of runs (oldest first unless sorted)."""

    def __init__(self, repo: "Repo", rows: list[tuple], statuses: list[str] | None = None) -> None:
        self.repo = repo
        self._rows = rows
        self._statuses = statuses

    @property
    def statuses(self) -> list[str]:
        if self._statuses is None:
            self._statuses = effective_statuses(self._rows)
        return self._statuses

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Run: ...
    @overload
    def __getitem__(self, i: slice) -> "Runs": ...

    def __getitem__(self, i: int | slice) -> "Run | Runs":
        if isinstance(i, slice):
            return Runs(self.repo, self._rows[i], self.statuses[i])
        return Run(self.repo, self._rows[i], status=self.statuses[i])

    def __iter__(self) -> Iterator[Run]:
        st = self.statuses
        for n, row in enumerate(self._rows):
            yield Run(self.repo, row, status=st[n])

    def __repr__(self) -> str:
        return f"<Runs: {len(self)} runs>"

    @property
    def ids(self) -> list[str]:
        return [r[ix.C_ID] for r in self._rows]

    def last(self) -> Run | None:
        """The most recently created run (None when empty)."""
        if not self._rows:
            return None
        n = max(range(len(self._rows)), key=lambda k: (self._rows[k][ix.C_CREATED], self._rows[k][ix.C_ID]))
        return self[n]

    def _values(self, key: str) -> list[Any]:
        """Values of a field, `metrics.X`/`params.X`, or a bare metric name, one per run."""
        if key in _FIELDS:
            return [r[_FIELDS[key]] for r in self._rows]
        if key.startswith("params."):
            return [param_value(d, key[7:]) for d in unpack_column(self._rows, ix.C_PARAMS)]  # opt.lr: nested
        name = key[8:] if key.startswith("metrics.") else key
        metrics = unpack_column(self._rows, ix.C_METRICS)
        stat = ix.series_stat_key(name)
        if stat is None:
            return [d.get(name) for d in metrics]
        series, i = stat  # loss.last: the last value of the series loss (a metric of that name wins)
        return [d[name] if name in d else (st[series][i] if series in st else None)
                for d, st in zip(metrics, series_stats(self.repo, self._rows))]

    def _known_metrics(self) -> list[str]:
        names: set[str] = set()
        for d in unpack_column(self._rows, ix.C_METRICS):
            names.update(d)
        return sorted(names)

    def series_stats(self) -> list[dict[str, list]]:
        """{series name: [last, min, max]} of each run, in order (see `series_stats`)."""
        return series_stats(self.repo, self._rows)

    def best(self, metric: str, mode: str = "max") -> Run:
        """The run with the highest (mode='max') or lowest ('min') value of `metric`.

        Runs without a numeric value (missing, NaN, not a number) are ignored; ties go to
        the earliest run in this collection's order.
        """
        if mode not in ("max", "min"):
            raise UsageError(f"best() mode must be 'max' or 'min', not {mode!r}")
        values = self._values(metric)
        best_i = None
        for n, v in enumerate(values):
            if not _is_number(v):
                continue
            if best_i is None or (v > values[best_i] if mode == "max" else v < values[best_i]):
                best_i = n
        if best_i is None:
            known = self._known_metrics() if metric not in _FIELDS else []
            raise UsageError(
                f"no run among these {len(self)} has a numeric {metric!r}",
                f"metrics they have: {', '.join(known)}" if known else "record metrics by returning a dict from the run",
            )
        return self[best_i]

    def sort(self, key: str = "created_at", *, descending: bool = False, reverse: bool | None = None) -> "Runs":
        """A new Runs sorted by a metric (bare name or `metrics.X`), `params.X` (nested params
        by dotted name: `params.opt.lr`) or a field (id, name, status, created_at, finished_at,
        duration_s). Runs without a value go last; numbers sort before text."""
        if reverse is not None:
            descending = reverse
        order = sort_order(self._values(key), descending)
        st = self.statuses
        return Runs(self.repo, [self._rows[n] for n in order], [st[n] for n in order])

    # -- tables -----------------------------------------------------------------------------

    def _columns(self) -> dict[str, list[Any]]:
        rows = self._rows
        cols: dict[str, list[Any]] = {
            "id": [r[ix.C_ID] for r in rows],
            "name": [r[ix.C_NAME] for r in rows],
            "status": list(self.statuses),
        }
        for prefix, col in (("params.", ix.C_PARAMS), ("metrics.", ix.C_METRICS)):
            cols.update(dict_columns(unpack_column(rows, col), prefix))
        return cols

    def to_records(self) -> list[dict[str, Any]]:
        """One plain dict per run: id, name, status, created_at/finished_at (ISO 8601 text as
        recorded), duration_s, tags, parent, then `params.*` and `metrics.*` (None if absent)."""
        cols = self._columns()
        extra = [k for k in cols if k not in ("id", "name", "status")]
        out = []
        for n, r in enumerate(self._rows):
            d: dict[str, Any] = {
                "id": r[ix.C_ID], "name": r[ix.C_NAME], "status": cols["status"][n],
                "created_at": r[ix.C_CREATED_ISO], "finished_at": r[ix.C_FINISHED_ISO],
                "duration_s": r[ix.C_DURATION], "tags": json.loads(r[ix.C_TAGS]), "parent": r[ix.C_PARENT],
            }
            for k in extra:
                d[k] = cols[k][n]
            out.append(d)
        return out

    def to_pandas(self):
        """A DataFrame, one row per run: id, name, status, created_at, finished_at (UTC
        timestamps), duration_s, tags (a tuple per run), parent, `params.*`, `metrics.*`."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependency(
                "Runs.to_pandas() needs pandas, which is not installed",
                "pip install 'ThatMetricTimeline[pandas]' (or use Runs.to_records())",
            ) from None
        rows = self._rows
        rows_t = [list(map(itemgetter(n), rows)) for n in range(len(ix.ROW_COLUMNS))]  # columns, in C
        data: dict[str, Any] = {
            "id": rows_t[ix.C_ID], "name": rows_t[ix.C_NAME], "status": self.statuses,
        }
        data["created_at"] = pd.to_datetime(pd.array(rows_t[ix.C_CREATED], dtype="float64"), unit="s", utc=True)
        finished = pd.array(rows_t[ix.C_FINISHED], dtype="Float64").to_numpy(dtype="float64", na_value=math.nan)
        data["finished_at"] = pd.to_datetime(finished, unit="s", utc=True)
        data["duration_s"] = pd.array(rows_t[ix.C_DURATION], dtype="Float64").to_numpy(dtype="float64", na_value=math.nan)
        empty: tuple[str, ...] = ()
        data["tags"] = [empty if t == "[]" else tuple(json.loads(t)) for t in rows_t[ix.C_TAGS]]  # hashable
        data["parent"] = rows_t[ix.C_PARENT]
        cols: dict[str, list[Any]] = {}
        for prefix, col in (("params.", ix.C_PARAMS), ("metrics.", ix.C_METRICS)):
            cols.update(dict_columns(unpack_column(rows, col), prefix))
        data.update(cols)
        return pd.DataFrame(data)


# -- the query ------------------------------------------------------------------------------


def _check_running(repo: "Repo", rows: list[tuple], conds: list) -> list[tuple]:
    """Rows recorded as running that hold every condition, by their journal's statistics;
    other rows (already checked by SQL) as they are."""
    from tmt.query.filters import holds

    running = [r for r in rows if r[ix.C_STATUS] == "running"]
    if not running:
        return rows
    stats = dict(zip((r[ix.C_ID] for r in running), series_stats(repo, running)))
    out = []
    for r in rows:
        if r[ix.C_STATUS] != "running":
            out.append(r)
            continue
        params, metrics = codec.unpackb(r[ix.C_PARAMS]), codec.unpackb(r[ix.C_METRICS])
        st = stats[r[ix.C_ID]]

        def value(key: str) -> Any:
            name = key[2:]
            if key.startswith("p:"):
                return param_value(params, name)
            if name in metrics:
                return metrics[name]
            stat = ix.series_stat_key(name)
            return st[stat[0]][stat[1]] if stat and stat[0] in st else None

        if all(holds(c, value(c.key)) for c in conds):
            out.append(r)
    return out


def names_matching(conn, pattern: str) -> tuple[list[str], bool]:
    """The run names `pattern` finds, and whether that is every name."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise UsageError(f"name {pattern!r} is not a valid regular expression: {e}", "e.g. name='lr_.*'") from None
    names = [n for (n,) in conn.execute("SELECT DISTINCT name FROM runs")]
    found = [n for n in names if rx.search(n)]
    return found, len(found) == len(names)


def _wanted_statuses(status: str | Iterable[str]) -> set[str]:
    wanted = {status} if isinstance(status, str) else set(status)
    bad = sorted(wanted - set(STATUS_CHOICES))
    if bad:
        raise UsageError(f"unknown status {bad[0]!r}", f"choose from {', '.join(STATUS_CHOICES)}")
    return wanted


def _kv_conditions(conds: list[Condition]) -> list[tuple[str, list[Any]]]:
    """Each where condition as a range of the kv index (key, num, txt): (predicate, args),
    the predicate's table left as {t}."""
    kv_conds: list[tuple[str, list[Any]]] = []
    for cond in conds:
        if cond.kind == "bool":
            kv_conds.append((f"{{t}}.key = ? AND {{t}}.b {cond.op} ?", [cond.key, int(cond.value)]))
        elif cond.kind == "num":
            kv_conds.append((f"{{t}}.key = ? AND {{t}}.num {cond.op} ?", [cond.key, cond.value]))
        else:
            kv_conds.append((f"{{t}}.key = ? AND {{t}}.num IS NULL AND {{t}}.txt {cond.op} ?",
                             [cond.key, cond.value]))
    return kv_conds


def _check_bindable(values: Iterable[Any]) -> None:
    for value in values:
        if isinstance(value, str) and not is_text(value):  # SQLite cannot bind it
            raise UsageError(f"'{printable(value)}' is not UTF-8 text",
                             "names, tags, keys and values in tmt are UTF-8; this argument has other bytes")


class _Plan:
    """The SQL of a query's filters (parsed and checked once), run against one snapshot of
    the index with the columns a caller needs: whole rows (`select`) or row ids (`select_rids`)."""

    def __init__(
        self,
        *,
        name: str | None = None,
        since: Any = None,
        until: Any = None,
        status: str | Iterable[str] | None = None,
        where: str | Iterable[str] | None = None,
        tags: str | Iterable[str] | None = None,
        parent: str | None = None,
        exact_name: str | None = None,
        name_contains: str | None = None,
        backups: bool | None = None,
    ) -> None:
        clauses: list[str] = []
        args: list[Any] = []
        tag_list = [tags] if isinstance(tags, str) else list(tags or ())
        if not (backups if backups is not None else ix.BACKUP_TAG in tag_list):
            clauses.append(ix.NOT_BACKUP_SQL)
        if since is not None:
            clauses.append("runs.created_at >= ?")
            args.append(parse_time(since, "since"))
        if until is not None:
            clauses.append("runs.created_at <= ?")
            args.append(parse_time(until, "until"))
        wanted = None if status is None else _wanted_statuses(status)
        if wanted is not None:
            # crashed: stored by `tmt run` (a killed command), or a dead `running` record
            stored = wanted | ({"running"} if "crashed" in wanted else set())
            clauses.append(f"runs.status IN ({','.join('?' * len(stored))})")
            args.extend(sorted(stored))
        conds = parse_where_list(where)
        kv_conds = _kv_conditions(conds)
        if tags is not None:
            for tag in [tags] if isinstance(tags, str) else list(tags):
                clauses.append("EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE json_each.value = ?)")
                args.append(tag)
        if parent is not None:
            clauses.append("runs.parent = ?")
            args.append(parent)
        if exact_name is not None:
            clauses.append("runs.name = ?")
            args.append(exact_name)
        if name_contains is not None:
            clauses.append("instr(runs.name, ?) > 0")
            args.append(name_contains)
        _check_bindable((*args, *(v for _, vs in kv_conds for v in vs)))
        self.name, self.clauses, self.args, self.kv_conds, self.conds = name, clauses, args, kv_conds, conds
        self.wanted: set[str] = wanted or set()  # the statuses asked for (checked here when split)
        # `crashed` is a `running` record whose process is gone, decided in Python: when only
        # one of the two is asked for, a SQL LIMIT would count rows dropped afterwards.
        self.split = wanted is not None and ("running" in wanted) != ("crashed" in wanted)
        # A condition on a series statistic (loss.last) holds for a running or crashed run by
        # its journal, which the index does not hold: such runs are checked in Python, after SQL.
        self.journal_conds = [c for c in conds if c.key.startswith("m:") and ix.series_stat_key(c.key[2:])]
        self.kv_keys = sorted({pa[0] for _p, pa in kv_conds})

    def fetch(self, conn, cols: str, tail: str = "") -> list[tuple]:
        """Rows of `cols` (the first one identifies a row) matching the SQL part of the
        filters, plus, when a condition needs a journal, every `running` row the other
        filters keep. Inside `Index.read` (one snapshot, kv filled for `kv_keys`)."""
        cl, a = list(self.clauses), list(self.args)
        kv_conds = self.kv_conds
        name_count = None
        if self.name is not None:
            names, every = names_matching(conn, self.name)
            if not names:
                return []
        if self.name is not None and not every:  # a pattern every name matches filters nothing
            cl.append(f"runs.name IN ({','.join('?' * len(names))})")
            a.extend(names)
            if kv_conds:
                name_count = conn.execute(
                    f"SELECT COUNT(*) FROM runs WHERE name IN ({','.join('?' * len(names))})", names
                ).fetchone()[0]
        base_cl, base_args = list(cl), list(a)
        source = "runs"
        if kv_conds:
            # Drive the query from the most selective condition (counted on the covering
            # index, which is cheap), then check the others per run through the kv primary
            # key. SQLite would otherwise build a temporary table for every condition.
            counts = [
                conn.execute(f"SELECT COUNT(*) FROM kv WHERE {p.format(t='kv')}", pa).fetchone()[0] for p, pa in kv_conds
            ]
            order = sorted(range(len(kv_conds)), key=counts.__getitem__)
            checks = order
            rid = "runs.rid"
            if name_count is None or counts[order[0]] < name_count:
                first, checks = order[0], order[1:]
                p, pa = kv_conds[first]
                if cols == "runs.rid" and not cl:
                    # Row ids and nothing but kv conditions: the kv index alone answers.
                    source, cols, rid = "kv AS k0", "k0.rid", "k0.rid"
                else:
                    source = "kv AS k0 CROSS JOIN runs ON runs.rid = k0.rid"
                cl.insert(0, p.format(t="k0"))
                a[0:0] = pa
            for n in checks:
                p, pa = kv_conds[n]
                cl.append(f"EXISTS (SELECT 1 FROM kv WHERE kv.rid = {rid} AND {p.format(t='kv')})")
                a.extend(pa)
        sql = f"SELECT {cols} FROM {source}" + (" WHERE " + " AND ".join(cl) if cl else "") + tail
        found = conn.execute(sql, a).fetchall()
        if self.journal_conds:
            cols = "runs.rid" if cols == "k0.rid" else cols
            sql = f"SELECT {cols} FROM runs WHERE " + " AND ".join(["runs.status = 'running'", *base_cl])
            seen = {r[0] for r in found}
            found += [r for r in conn.execute(sql, base_args).fetchall() if r[0] not in seen]
        return found

    def keep_running(self, repo: "Repo", rows: list[tuple]) -> list[tuple]:
        """Of whole rows, those that the Python-side checks keep (journal conditions, and
        running vs crashed when only one is asked for)."""
        if self.journal_conds:
            rows = _check_running(repo, rows, self.conds)
        if self.split:
            rows = [r for r, s in zip(rows, effective_statuses(rows)) if s in self.wanted]
        return rows


def select(
    repo: "Repo",
    *,
    name: str | None = None,
    since: Any = None,
    until: Any = None,
    status: str | Iterable[str] | None = None,
    where: str | Iterable[str] | None = None,
    tags: str | Iterable[str] | None = None,
    parent: str | None = None,
    exact_name: str | None = None,
    name_contains: str | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    backups: bool | None = None,
) -> Runs:
    """The runs matching every given filter, oldest first (see `tmt.runs`). Checkout backups
    are left out unless `backups` is true or `tags` asks for their tag (the default, None)."""
    plan = _Plan(name=name, since=since, until=until, status=status, where=where, tags=tags, parent=parent,
                 exact_name=exact_name, name_contains=name_contains, backups=backups)
    split, journal_conds = plan.split, plan.journal_conds
    # Without a limit, sorting in Python is faster than SQLite's walk of the time index
    # (rows come in table order, which is mostly time order already).
    order = "DESC" if newest_first else "ASC"
    sql_limit = None if split or journal_conds else limit
    tail = "" if sql_limit is None else f" ORDER BY runs.created_at {order}, runs.id {order} LIMIT {int(sql_limit)}"
    idx = ix.index_for(repo)
    rows = idx.run(lambda conn: idx.read(conn, lambda c: plan.fetch(c, ix.ROW_SQL, tail), plan.kv_keys))
    if journal_conds:
        rows = _check_running(repo, rows, plan.conds)
    if sql_limit is None:
        rows.sort(key=itemgetter(ix.C_CREATED, ix.C_ID), reverse=newest_first)
    statuses = effective_statuses(rows)
    if split:
        keep = [n for n, s in enumerate(statuses) if s in plan.wanted]
        if limit is not None and limit >= 0:  # a negative LIMIT is no limit in SQLite too
            keep = keep[: int(limit)]
        rows = [rows[n] for n in keep]
        statuses = [statuses[n] for n in keep]
    elif journal_conds and limit is not None and limit >= 0:
        rows, statuses = rows[: int(limit)], statuses[: int(limit)]
    return Runs(repo, rows, statuses)


def select_rids(repo: "Repo", **filters: Any) -> list[int]:
    """The index row ids (`runs.rid`) of the runs `select(repo, **filters)` returns, in no
    particular order: what a view that fetches rows only to show them needs (the TUI's
    list of 100,000 runs). Only `running` rows are read whole, for the checks decided in
    Python. Row ids hold for one generation of the index (a rewritten record gets a new one).
    """
    plan = _Plan(**filters)
    idx = ix.index_for(repo)

    def query(conn) -> list[int]:
        if not (plan.split or plan.journal_conds):
            # the row id alone: the name and time indexes cover it (no table lookups)
            return [rid for (rid,) in plan.fetch(conn, "runs.rid")]
        found = plan.fetch(conn, "runs.rid, runs.status")
        live = [rid for rid, status in found if status == "running"]
        kept = {r[-1] for r in plan.keep_running(repo, fetch_rows(conn, live, extra="runs.rid"))}
        return [rid for rid, status in found if status != "running" or rid in kept]

    return idx.run(lambda conn: idx.read(conn, query, plan.kv_keys))


def kv_keys_read(**filters: Any) -> list[str]:
    """The index's kv keys ("m:f1", "p:lr") a query with these filters reads: the first
    query on a key fills kv for it (every run's value, once per store)."""
    return _Plan(**filters).kv_keys


def fetch_rows(conn, rids: Sequence[int], extra: str = "") -> list[tuple]:
    """Whole index rows (ROW_SQL, then `extra` columns) of these row ids, in no order."""
    out: list[tuple] = []
    cols = ix.ROW_SQL + (f", {extra}" if extra else "")
    for i in range(0, len(rids), 500):
        chunk = list(rids[i:i + 500])
        out += conn.execute(f"SELECT {cols} FROM runs WHERE runs.rid IN ({','.join('?' * len(chunk))})",
                            chunk).fetchall()
    return out


#: sort keys that are index columns, and their SQL
_FIELD_SQL = {"id": "runs.id", "name": "runs.name", "status": "runs.status", "created_at": "runs.created_at",
              "finished_at": "runs.finished_at", "duration_s": "runs.duration"}


def order_rids(repo: "Repo", key: str = "created_at", *, descending: bool = False, backups: bool = False) -> list[int]:
    """The row ids of every run in the order `select(repo).sort(key, descending=...)` gives
    them, computed by SQLite (the TUI sorts 100,000 runs this way, then filters by rank).

    `key` as `Runs.sort` takes it: a field, `params.NAME` or a metric (`metrics.NAME` or a
    bare name, `NAME.last/.min/.max` a series statistic). Runs without a value go last; ties
    keep the oldest first; numbers sort before text (after it when descending). Unlike
    `Runs.sort`, list and dict values (which the index does not hold) count as missing.
    `created_at` descending is the newest-first order of `tmt ls` (ties: the higher id first).
    Checkout backups are left out unless `backups`.
    """
    direction = "DESC" if descending else "ASC"
    where = "" if backups else f" WHERE {ix.NOT_BACKUP_SQL}"
    idx = ix.index_for(repo)
    if key == "created_at":
        sql = f"SELECT rid FROM runs{where} ORDER BY runs.created_at {direction}, runs.id {direction}"
        return idx.run(lambda conn: [r for (r,) in conn.execute(sql)])
    if key in _FIELD_SQL:
        col = _FIELD_SQL[key]
        sql = f"SELECT rid FROM runs{where} ORDER BY ({col} IS NULL), {col} {direction}, runs.created_at, runs.id"
        return idx.run(lambda conn: [r for (r,) in conn.execute(sql)])
    if key.startswith("params."):
        kv_key = "p:" + key[7:]
    else:
        kv_key = "m:" + (key[8:] if key.startswith("metrics.") else key)
    # SQLite orders numbers before text, as Runs.sort's fallback for mixed kinds does.
    value = "COALESCE(kv.num, kv.b, kv.txt)"
    join = f"FROM runs LEFT JOIN kv ON kv.rid = runs.rid AND kv.key = ?{where}"
    stat = ix.series_stat_key(kv_key[2:]) if kv_key.startswith("m:") else None

    def query(conn) -> list[int]:
        live = conn.execute("SELECT rid, id FROM runs WHERE status = 'running'").fetchall() if stat else []
        if not live or stat is None:
            sql = f"SELECT runs.rid {join} ORDER BY ({value} IS NULL), {value} {direction}, runs.created_at, runs.id"
            return [r for (r,) in conn.execute(sql, (kv_key,))]
        # A running (or crashed) run's series statistics are in its journal, not the index:
        # such runs are placed by those, in Python (a final metric of that name still wins).
        from tmt.records.series import read_journal, summarize

        rows = conn.execute(f"SELECT runs.rid, {value} {join} ORDER BY runs.created_at, runs.id", (kv_key,)).fetchall()
        journal: dict[int, Any] = {}
        for rid, run_id in live:
            try:
                s = read_journal(repo.tmt_dir, run_id).get(stat[0])
            except TmtError:
                s = None
            if s is not None and len(s):
                journal[rid] = summarize(s)[("last", "min", "max")[stat[1]]]
        values = [v if v is not None or rid not in journal else journal[rid] for rid, v in rows]
        return [rows[n][0] for n in sort_order(values, descending)]

    return idx.run(lambda conn: idx.read(conn, query, [kv_key]))
