"""Many runs at once: `Runs` (a list-like collection) and the query that selects them.

A Runs holds index rows, not Run objects: a Run is made when one is asked for, and bulk
views (`to_records`, `to_pandas`, `best`, `sort`) decode the columns they need in bulk.
"""
from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

import msgpack

from tmt.errors import MissingDependency, UsageError
from tmt.query import index as ix
from tmt.query.filters import parse_time, parse_where_list
from tmt.query.run import Run, row_status

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo

STATUS_CHOICES = ("running", "completed", "failed", "interrupted", "crashed")
_FIELDS = {"id": ix.C_ID, "name": ix.C_NAME, "status": ix.C_STATUS, "created_at": ix.C_CREATED,
           "finished_at": ix.C_FINISHED, "duration_s": ix.C_DURATION}


def unpack_column(rows: Sequence[tuple], col: int) -> list[dict[str, Any]]:
    """Decode one msgpack column of many rows in one C-level pass (not one call per row)."""
    if not rows:
        return []
    unpacker = msgpack.Unpacker(io.BytesIO(b"".join(r[col] for r in rows)), raw=False, strict_map_key=True)
    return list(unpacker)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and not (isinstance(v, float) and math.isnan(v))


class Runs(Sequence[Run]):
    """An ordered collection of runs (oldest first unless sorted)."""

    def __init__(self, repo: "Repo", rows: list[tuple], statuses: list[str] | None = None) -> None:
        self.repo = repo
        self._rows = rows
        self._statuses = statuses

    @property
    def statuses(self) -> list[str]:
        if self._statuses is None:
            self._statuses = [row_status(r) if r[ix.C_STATUS] == "running" else r[ix.C_STATUS] for r in self._rows]
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
            return [d.get(key[7:]) for d in unpack_column(self._rows, ix.C_PARAMS)]
        name = key[8:] if key.startswith("metrics.") else key
        return [d.get(name) for d in unpack_column(self._rows, ix.C_METRICS)]

    def _known_metrics(self) -> list[str]:
        names: set[str] = set()
        for d in unpack_column(self._rows, ix.C_METRICS):
            names.update(d)
        return sorted(names)

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
        """A new Runs sorted by a metric (bare name or `metrics.X`), `params.X` or a field
        (id, name, status, created_at, finished_at, duration_s). Runs without a value go last."""
        if reverse is not None:
            descending = reverse
        values = self._values(key)
        have = [n for n, v in enumerate(values) if v is not None and not (isinstance(v, float) and math.isnan(v))]
        missing = [n for n, v in enumerate(values) if n not in set(have)] if len(have) != len(values) else []
        try:
            have.sort(key=lambda n: values[n], reverse=descending)
        except TypeError:
            have.sort(key=lambda n: (type(values[n]).__name__, str(values[n])), reverse=descending)
        order = have + missing
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
            dicts = unpack_column(rows, col)
            keys: dict[str, None] = {}
            for d in dicts:
                for k in d:
                    if k not in keys:
                        keys[k] = None
            for k in sorted(keys):
                cols[prefix + k] = [d.get(k) for d in dicts]
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
        timestamps), duration_s, tags, parent, `params.*`, `metrics.*`."""
        try:
            import pandas as pd
        except ImportError:
            raise MissingDependency(
                "Runs.to_pandas() needs pandas, which is not installed",
                "pip install 'ThatMetricTimeline[pandas]' (or use Runs.to_records())",
            ) from None
        rows = self._rows
        cols = self._columns()
        data: dict[str, Any] = {"id": cols.pop("id"), "name": cols.pop("name"), "status": cols.pop("status")}
        data["created_at"] = pd.to_datetime([r[ix.C_CREATED] for r in rows], unit="s", utc=True)
        data["finished_at"] = pd.to_datetime(
            [math.nan if r[ix.C_FINISHED] is None else r[ix.C_FINISHED] for r in rows], unit="s", utc=True
        )
        data["duration_s"] = [math.nan if r[ix.C_DURATION] is None else float(r[ix.C_DURATION]) for r in rows]
        data["tags"] = [json.loads(t) if t != "[]" else [] for t in (r[ix.C_TAGS] for r in rows)]
        data["parent"] = [r[ix.C_PARENT] for r in rows]
        data.update(cols)
        return pd.DataFrame(data)


# -- the query ------------------------------------------------------------------------------


def _names_matching(conn, pattern: str) -> list[str]:
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise UsageError(f"name {pattern!r} is not a valid regular expression: {e}", "e.g. name='lr_.*'") from None
    names = [n for (n,) in conn.execute("SELECT DISTINCT name FROM runs")]
    return [n for n in names if rx.search(n)]


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
) -> Runs:
    """The runs matching every given filter, oldest first (see `tmt.runs`)."""
    clauses: list[str] = []
    args: list[Any] = []
    if since is not None:
        clauses.append("runs.created_at >= ?")
        args.append(parse_time(since, "since"))
    if until is not None:
        clauses.append("runs.created_at <= ?")
        args.append(parse_time(until, "until"))
    wanted: set[str] | None = None
    if status is not None:
        wanted = {status} if isinstance(status, str) else set(status)
        bad = sorted(wanted - set(STATUS_CHOICES))
        if bad:
            raise UsageError(f"unknown status {bad[0]!r}", f"choose from {', '.join(STATUS_CHOICES)}")
        stored = {("running" if s == "crashed" else s) for s in wanted}
        clauses.append(f"runs.status IN ({','.join('?' * len(stored))})")
        args.extend(sorted(stored))
    for cond in parse_where_list(where):  # type: ignore[arg-type]
        if cond.kind == "bool":
            clauses.append(f"runs.rid IN (SELECT rid FROM kv WHERE key = ? AND b {cond.op} ?)")
            args += [cond.key, int(cond.value)]
        else:
            column = "num" if cond.kind == "num" else "txt"
            clauses.append(f"runs.rid IN (SELECT rid FROM kv WHERE key = ? AND {column} {cond.op} ?)")
            args += [cond.key, cond.value]
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
    order = "DESC" if newest_first else "ASC"
    tail = f" ORDER BY runs.created_at {order}, runs.id {order}"
    if limit is not None:
        tail += f" LIMIT {int(limit)}"

    def query(conn):
        cl, a = list(clauses), list(args)
        if name is not None:
            names = _names_matching(conn, name)
            cl.append(f"runs.name IN ({','.join('?' * len(names))})" if names else "0")
            a.extend(names)
        sql = f"SELECT {ix.ROW_SQL} FROM runs" + (" WHERE " + " AND ".join(cl) if cl else "") + tail
        return conn.execute(sql, a).fetchall()

    rows = ix.index_for(repo).run(query)
    statuses = [row_status(r) if r[ix.C_STATUS] == "running" else r[ix.C_STATUS] for r in rows]
    if wanted is not None and ("running" in wanted) != ("crashed" in wanted):
        keep = [n for n, s in enumerate(statuses) if s in wanted]
        rows = [rows[n] for n in keep]
        statuses = [statuses[n] for n in keep]
    return Runs(repo, rows, statuses)

