"""The runs list behind the TUI: filtered and sorted row ids, and cells only for rows on screen.

Nothing here imports Textual, so the benchmark and the tests drive it directly.

Why it is fast at 100,000 runs: the list holds index row ids (`runs.rid`), never rows. A
sort is one SQL query giving every run's row id in order (`order_rids`), cached until the
index changes; a filter is one SQL query giving the matching row ids in no order
(`select_rids`, the query of `tmt.runs` without the rows), put in sort order by rank.
Rows are read from the index, and their cells formatted, only for the rows on screen
(`window`), with the columns `tmt ls` would choose for the runs at the top of the list.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tmt.errors import TmtError
from tmt.query import index as ix
from tmt.query.search import Filters, parse_filter

if TYPE_CHECKING:  # pragma: no cover
    from tmt.cli.cmd_ls import ValueColumn
    from tmt.query.keys import KnownKeys
    from tmt.repo import Repo

#: runs at the top of the list whose keys choose the columns, as `tmt ls -n SAMPLE` would
SAMPLE = 200
#: a name column never gets wider than this (the detail screen shows the whole name)
NAME_MAX = 40
NAME_MIN = 8
GAP = 2
#: newest runs whose keys are known without a scan (a where key among them is checked no further)
KEY_SAMPLE = 1000
#: seconds between two formattings of the cells on screen (their ages: "5m ago")
AGES_S = 10.0


@dataclass(slots=True)
class Column:
    header: str  # as shown (escaped)
    sort_key: str  # as Runs.sort / order_rids take it
    justify: str = "left"
    value: "ValueColumn | None" = None  # None: a fixed column (id, name, status, age, duration)
    width: int = 0
    #: a fresh sort by this column starts highest first (numbers, durations, ages: newest)
    descending_first: bool = True


@dataclass(frozen=True, slots=True)
class Changes:
    """The list made again after the store changed (see `Listing.changes`)."""

    asked: tuple[str, str, bool]  # the filter and sort it was made for
    generation: Any
    order: tuple[bool, list[int]]
    rids: list[int]


@dataclass(slots=True)
class Row:
    rid: int
    id: str
    name: str
    status: str
    cells: list[tuple[str, str | None]]  # (escaped text, rich style), one per column


def _fixed_columns() -> list[Column]:
    return [
        Column("id", "id", descending_first=False),
        Column("name", "name", descending_first=False),
        Column("status", "status", descending_first=False),
        Column("age", "created_at", "right"),
        Column("duration", "duration_s", "right"),
    ]


class Listing:
    """Runs of one repository, filtered by a line of the filter language and sorted by a column."""

    def __init__(self, repo: "Repo", *, filter_text: str = "", metric_names: str | None = None,
                 param_names: str | None = None, column_names: str | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.repo = repo
        self.idx = ix.index_for(repo)
        self.now = now
        self.choice = (metric_names, param_names, column_names)
        self.filter_text = ""
        self.filters = Filters()
        self.parent_id: str | None = None
        self.error: str | None = None  # the last filter's error ("what is wrong; hint")
        self.sort_key = "created_at"
        self.descending = True
        self.generation: Any = None
        self._order: tuple[bool, list[int]] | None = None  # (backups included, every run in order)
        self._rank: dict[int, int] | None = None
        self.rids: list[int] = []  # the list shown, in order
        self.total = 0
        self.columns: list[Column] = _fixed_columns()
        self._cells: dict[int, Row] = {}
        self._formatted_at = now()
        self._sample: tuple[Any, KnownKeys] | None = None
        self._every: tuple[Any, KnownKeys] | None = None  # every run's keys, when a scan was needed
        self.set_filter(filter_text)

    # -- queries ----------------------------------------------------------------------------

    def _gen(self) -> Any:
        def read(conn):
            row = conn.execute("SELECT value FROM meta WHERE key = 'gen'").fetchone()
            return row[0] if row else None

        return self.idx.run(read, quiet=True)

    def _order_of(self, filters: Filters) -> list[int]:
        """Every run in the sort's order; checkout backups only when the filter asks for their
        tag, as in `tmt ls`."""
        from tmt.query.index import BACKUP_TAG
        from tmt.query.runs import order_rids

        backups = BACKUP_TAG in filters.tags
        if self._order is None or self._order[0] != backups:
            self._order = (backups, order_rids(self.repo, self.sort_key, descending=self.descending, backups=backups))
            self._rank = None
        return self._order[1]

    def _query(self, filters: Filters, parent_id: str | None) -> list[int]:
        from tmt.query.runs import select_rids

        order = self._order_of(filters)
        self.total = len(order)
        if not filters or self._every_name(filters):
            return order
        # Backups included: the order leaves them out (one query per sort, not per keystroke).
        found = select_rids(self.repo, **filters.kwargs(), parent=parent_id, backups=True)
        if len(found) * 8 > len(order):  # most runs: walk the order once
            keep = set(found)
            return [r for r in order if r in keep]
        if self._rank is None:
            self._rank = {rid: n for n, rid in enumerate(order)}
        rank = self._rank
        return sorted((r for r in found if r in rank), key=rank.__getitem__)

    def _every_name(self, filters: Filters) -> bool:
        """Whether `filters` is name patterns alone that every run's name matches, as the
        first letters typed often are: the list is then every run, without a query (whose
        100,000 row ids would cost more than the distinct names)."""
        from dataclasses import replace

        from tmt.query.runs import names_matching

        pattern = filters.name  # None exactly when there are no names
        if pattern is None or replace(filters, names=[]):
            return False
        return self.idx.run(lambda conn: names_matching(conn, pattern)[1], quiet=True)

    def set_filter(self, text: str, *, columns: bool = True) -> bool:
        """Filter by a line of the filter language. On an error the list stays as it was and
        `error` says what is wrong; returns whether the filter applied. `columns`: choose
        the columns again for the runs now at the top (the bar does it on Enter, not while
        the user types: columns that come and go under each keystroke are hard to read)."""
        try:
            filters = parse_filter(text)
            parent_id = self._parent(filters.parent)
            self._check_keys(filters)
            rids = self._query(filters, parent_id)
            self.generation = self._gen()  # after: a new where key fills kv, a new generation
        except TmtError as e:
            self.error = e.message + (f"; {e.hint}" if e.hint else "")
            return False
        self.filter_text, self.filters, self.parent_id, self.error = text, filters, parent_id, None
        self.rids = rids
        self._cells.clear()
        if columns:
            self.choose_columns()
        return True

    def unfilled_keys(self, text: str) -> list[str]:
        """The index's kv keys that the filter `text` reads and no query has filled yet. The
        first query on such a key fills kv for it, about 1.5 s at 100,000 runs: the app does
        that in the background (`fill_keys`), not under a keystroke. [] when the line has
        an error (`set_filter` says which) or when the index is in memory (nothing to share)."""
        from tmt.query.runs import kv_keys_read

        try:
            filters = parse_filter(text)
            if not filters.where or self.idx.memory:
                return []
            self._check_keys(filters)  # a typo is an error, never a kv key filled for good
            keys = kv_keys_read(**filters.kwargs())
        except TmtError:
            return []
        return self.idx.run(lambda conn: self.idx.missing_keys(conn, keys), quiet=True)

    def fill_keys(self, keys: list[str]) -> None:
        """Fill kv for `keys` through a connection of its own, for a worker thread: the list's
        queries go on meanwhile, reading the index as it was (SQLite's WAL)."""
        idx = ix.Index(self.repo)
        try:
            idx.run(lambda conn: idx.ensure_keys(conn, keys), quiet=True)
        finally:
            idx.close()

    def _parent(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        from tmt.query.refs import resolve

        return resolve(self.repo, ref).id

    def _sample_keys(self) -> "KnownKeys":
        """The keys of the newest runs (cheap; kept until the index changes)."""
        from tmt.query.keys import known_keys
        from tmt.query.runs import select

        gen = self._gen()
        if self._sample is None or self._sample[0] != gen:
            self._sample = (gen, known_keys(select(self.repo, newest_first=True, limit=KEY_SAMPLE)))
        return self._sample[1]

    def _key_exists(self, key: str, kv_key: str) -> bool:
        """Whether any run has `key` (a where key as typed; `kv_key` as the index names it)."""
        if self._sample_keys().kind(key) is not None:
            return True

        def probe(conn) -> bool | None:
            if conn.execute("SELECT 1 FROM kv_keys WHERE key = ?", (kv_key,)).fetchone() is None:
                return None  # never filtered on: kv cannot tell
            return conn.execute("SELECT 1 FROM kv WHERE key = ? AND (num IS NOT NULL OR txt IS NOT NULL OR "
                                "b IS NOT NULL) LIMIT 1", (kv_key,)).fetchone() is not None

        known = self.idx.run(probe, quiet=True)
        if known is not None:
            return known
        # A key new to the index: a query would fill the kv table for it for good, so look
        # at every run first (a typo in `--where` costs a scan, not an index entry).
        from tmt.query.keys import known_keys
        from tmt.query.runs import select

        gen = self._gen()
        if self._every is None or self._every[0] != gen:
            self._every = (gen, known_keys(select(self.repo)))
        return self._every[1].kind(key) is not None

    def _check_keys(self, filters: Filters) -> None:
        """A where key no run has is an error naming the closest keys (as `tmt ls` says)."""
        from tmt.errors import UsageError
        from tmt.query.filters import parse_where
        from tmt.query.keys import describe, key_hint, where_key

        for text in filters.where:
            cond = parse_where(text)
            key = where_key(cond)
            if not self._key_exists(key, cond.key):
                raise UsageError(f"no run has {describe(key)} (in {cond.text!r})", key_hint(key, self._sample_keys()))

    def set_sort(self, key: str, descending: bool) -> None:
        if (key, descending) == (self.sort_key, self.descending):
            return
        self.sort_key, self.descending = key, descending
        self._order = None
        self.rids = self._query(self.filters, self.parent_id)
        self.generation = self._gen()
        self._cells.clear()

    def changes(self) -> "Changes | None":
        """What the list is now if the index changed since it was made (records written or
        deleted), else None; cheap when nothing changed (a stat of the records folder).
        Changes nothing, so it can run in a thread while the screen draws; `apply` it then."""
        from tmt.query.index import BACKUP_TAG
        from tmt.query.runs import order_rids, select_rids

        asked = (self.filter_text, self.sort_key, self.descending)
        filters, parent_id = self.filters, self.parent_id
        gen = self._gen()  # Index.run syncs first: new and rewritten records are seen
        if gen == self.generation:
            return None
        backups = BACKUP_TAG in filters.tags
        order = order_rids(self.repo, asked[1], descending=asked[2], backups=backups)
        if not filters:
            return Changes(asked, gen, (backups, order), order)
        found = set(select_rids(self.repo, **filters.kwargs(), parent=parent_id, backups=True))
        return Changes(asked, gen, (backups, order), [r for r in order if r in found])

    def apply(self, changes: "Changes") -> bool:
        """Take `changes` unless the filter or the sort changed meanwhile (then the next
        look computes them again); whether they were taken."""
        if changes.asked != (self.filter_text, self.sort_key, self.descending):
            return False
        self.generation, self._order, self.rids = changes.generation, changes.order, changes.rids
        self.total = len(self._order[1])
        self._rank = None
        self._cells.clear()
        return True

    def poll(self) -> bool:
        """`changes()` applied at once; whether there were any."""
        try:
            found = self.changes()
        except TmtError as e:  # a parent deleted meanwhile, say
            self.error = e.message
            return False
        return found is not None and self.apply(found)

    def forget_moving(self) -> bool:
        """Drop the cells that the clock has moved: a running run's (its duration and its
        series' last values move), and every cell once every AGES_S (ages); whether any."""
        now = self.now()
        if now - self._formatted_at >= AGES_S:
            self._formatted_at = now
            moved = bool(self._cells)
            self._cells.clear()
            return moved
        live = [rid for rid, row in self._cells.items() if row.status == "running"]
        for rid in live:
            del self._cells[rid]
        return bool(live)

    def previous(self, run_id: str) -> str | None:
        """The run before `run_id`: the latest earlier run of the same name, else the run
        just before it in time (what "diff to the previous run" compares with)."""
        def query(conn):
            me = conn.execute("SELECT name, created_at FROM runs WHERE id = ?", (run_id,)).fetchone()
            if me is None:
                return None
            before = "(created_at < ? OR (created_at = ? AND id < ?))"
            for extra, args in ((" AND name = ?", (me[0],)), ("", ())):
                row = conn.execute(f"SELECT id FROM runs WHERE {before}{extra} ORDER BY created_at DESC, id DESC "
                                   "LIMIT 1", (me[1], me[1], run_id, *args)).fetchone()
                if row is not None:
                    return row[0]
            return None

        return self.idx.run(query, quiet=True)

    # -- rows and cells ---------------------------------------------------------------------

    def _fetch(self, rids: list[int]) -> dict[int, tuple]:
        from tmt.query.runs import fetch_rows

        rows = self.idx.run(lambda conn: fetch_rows(conn, rids, extra="runs.rid"), quiet=True)
        return {r[-1]: r[:-1] for r in rows}

    def choose_columns(self) -> None:
        """The columns `tmt ls` would show for the runs at the top of the list."""
        from tmt.cli.cmd_ls import Table
        from tmt.query.runs import Runs

        sample_rids = self.rids[:SAMPLE]
        fetched = self._fetch(sample_rids)
        rows = [fetched[r] for r in sample_rids if r in fetched]
        self._cells.clear()
        values: list = []
        if rows:
            table = Table(Runs(self.repo, rows))
            values = table.choose(*self.choice)
        old = {c.header: c.width for c in self.columns}
        cols = _fixed_columns()
        for v in values:
            numeric = v.kind != "param" or not table.has_text(v.key)
            sort_key = f"params.{v.key}" if v.kind == "param" else f"metrics.{v.key}"
            cols.append(Column(_escape(v.header), sort_key, "right" if numeric else "left", value=v))
        self.columns = cols
        for c in cols:
            c.width = max(old.get(c.header, 0), _cell_len(c.header) + 1)  # room for the sort arrow
        self.window(0, len(rows))  # widths from the sample

    def window(self, start: int, stop: int) -> list[Row]:
        """The rows shown from position `start` to `stop` (cells formatted once, then cached)."""
        want = self.rids[max(start, 0):max(stop, 0)]
        missing = [r for r in want if r not in self._cells]
        if missing:
            fetched = self._fetch(missing)
            for row in self._format([(r, fetched[r]) for r in missing if r in fetched]):
                self._cells[row.rid] = row
        out = [self._cells[r] for r in want if r in self._cells]
        return out

    def _format(self, items: list[tuple[int, tuple]]) -> list[Row]:
        from tmt.cli.cmd_ls import Table
        from tmt.cli.output import STATUS_STYLES, clean_cells, fmt_age, fmt_duration
        from tmt.query.runs import Runs

        if not items:
            return []
        runs = Runs(self.repo, [row for _rid, row in items])
        table = Table(runs)
        values = [table.cells(c.value) if c.value is not None else None for c in self.columns[5:]]
        now_s = self.now()
        now = datetime.fromtimestamp(now_s, timezone.utc)
        out = []
        for i, ((rid, row), r) in enumerate(zip(items, table.runs)):
            status = r.status
            duration: str | tuple[str, str]
            if status == "running":
                duration = (fmt_duration(max(now_s - row[ix.C_CREATED], 0.0)), "cyan")
            else:
                duration = fmt_duration(r.duration_s)
            cells = clean_cells([r.id[:8], r.name, (status, STATUS_STYLES.get(status, "")),
                                 fmt_age(r.created_at, now), duration, *(v[i] for v in values if v is not None)])
            out.append(Row(rid, r.id, r.name, status, cells))
            for c, (text, _style) in zip(self.columns, cells):
                w = _cell_len(text)
                if w > c.width:
                    c.width = min(w, NAME_MAX) if c.header == "name" else w
        return out

    # -- positions ---------------------------------------------------------------------------

    def position_of(self, run_id: str) -> int | None:
        """Where run `run_id` is in the list now (its row id changes when its record is rewritten)."""
        found = self.idx.run(lambda conn: conn.execute("SELECT rid FROM runs WHERE id = ?", (run_id,)).fetchone(),
                             quiet=True)
        if found is None:
            return None
        try:
            return self.rids.index(found[0])
        except ValueError:
            return None


def _escape(text: str) -> str:
    from tmt.text import printable

    return printable(text)


def _cell_len(text: str) -> int:
    from rich.cells import cell_len

    return cell_len(text)
