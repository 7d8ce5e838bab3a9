"""Refs: the ways a user names one run.

    <32-hex id>     that run (also as the hyphenated uuid tmt 0.1.8 showed: `tmt migrate`
                    kept its runs' uuids as their ids, without the hyphens)
    NAME            the latest run called NAME
    <hex prefix>    the run whose id starts so (at least 4 characters, unique)
    last            the latest run of all
    last~N, NAME~N  the N-th run before the latest (of all, or of that name); `~` is `~1`

They are tried in that order: an exact name wins over an id prefix that looks the same.
Backups made by in-place checkouts (tag `checkout-backup`) are reached by id only: they are
never `last`, `last~N`, NAME or NAME~N, so a checkout does not shift them.
Unknown and ambiguous refs raise UnknownRef / AmbiguousRef, whose messages list candidates
as "<8-char id>  <name>  <age>  <status>" lines.
"""
from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from tmt._units import format_age  # the one age format ("5m ago"), shared with tmt ls
from tmt.errors import AmbiguousRef, UnknownRef
from tmt.query import index as ix
from tmt.query.run import Run, row_status
from tmt.text import is_text, printable

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo

MIN_PREFIX = 4
MAX_CANDIDATES = 10
_HEX_RE = re.compile(r"[0-9a-f]+\Z")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_TILDE_RE = re.compile(r"(?P<base>.+?)~(?P<n>\d*)\Z", re.S)
_ORDER = " ORDER BY runs.created_at DESC, runs.id DESC"
_NAMED = f"runs.name = ? AND {ix.NOT_BACKUP_SQL}"


def candidate_line(row: tuple, now: float | None = None) -> str:
    # The name comes from a record: escaped here, since the candidates are lines of one message.
    return f"{row[ix.C_ID][:8]}  {printable(row[ix.C_NAME])}  {format_age(row[ix.C_CREATED], now)}  {row_status(row)}"


def _rows(conn, where: str, args: tuple, limit: int, offset: int = 0) -> list[tuple]:
    return conn.execute(
        f"SELECT {ix.ROW_SQL} FROM runs WHERE {where}{_ORDER} LIMIT ? OFFSET ?", (*args, limit, offset)
    ).fetchall()


def _resolve(conn, ref: str) -> tuple:
    """The row `ref` names, tried in this order: an id (of this tmt or of 0.1.8), an exact
    name (names may contain '~'; `last` is a keyword, a run named "last" is reached by its
    id), NAME~N / last~N, an id prefix."""
    row = _by_id(conn, ref)
    if row is not None:
        return row
    rows = _rows(conn, _NAMED, (ref,), 1) if ref != "last" else []
    if rows:
        return rows[0]
    m = _TILDE_RE.match(ref)
    if m or ref == "last":
        return _by_position(conn, ref, m)
    return _by_prefix(conn, ref)


def _by_id(conn, ref: str) -> tuple | None:
    """The row of a whole id; None when `ref` is not one (an unknown 32-hex id is an error)."""
    if _UUID_RE.match(ref):  # a tmt 0.1.8 id; else a name that looks like one, tried after
        rows = _rows(conn, "runs.id = ?", (ref.replace("-", "").lower(),), 1)
        if rows:
            return rows[0]
    if len(ref) == 32 and _HEX_RE.match(ref):
        rows = _rows(conn, "runs.id = ?", (ref,), 1)
        if rows:
            return rows[0]
        raise UnknownRef(ref, hint="no record with this id; list runs with `tmt ls`")
    return None


def _by_position(conn, ref: str, m: re.Match[str] | None) -> tuple:
    """`last`, `last~N` or `NAME~N` (`m`: the match of the NAME~N form)."""
    base, n = ref, 0
    if m:
        # A huge N is beyond any run count: clamp it within SQLite's 64-bit integers (it
        # raised OverflowError), without int() of thousands of digits (a ValueError).
        digits = m["n"] or "1"
        base, n = m["base"], int(digits) if len(digits) <= 18 else 1 << 62
    if base == "last":
        rows = _rows(conn, ix.NOT_BACKUP_SQL, (), 1, n)
        if rows:
            return rows[0]
        total = conn.execute(f"SELECT COUNT(*) FROM runs WHERE {ix.NOT_BACKUP_SQL}").fetchone()[0]
        if total == 0:
            raise UnknownRef(ref, hint="no runs are recorded yet in this repository")
        raise UnknownRef(ref, hint=f"there are only {total} runs: last~{total - 1} is the oldest")
    rows = _rows(conn, _NAMED, (base,), 1, n)
    if rows:
        return rows[0]
    total = conn.execute(f"SELECT COUNT(*) FROM runs WHERE {_NAMED}", (base,)).fetchone()[0]
    if total:
        raise UnknownRef(ref, hint=f"{base!r} has only {total} runs: {base}~{total - 1} is its oldest")
    raise _unknown_name(conn, ref, base)


def _by_prefix(conn, ref: str) -> tuple:
    """The one run whose id starts with `ref`; else the error that says why not."""
    if _HEX_RE.match(ref) and len(ref) >= MIN_PREFIX:
        rows = _rows(conn, "runs.id >= ? AND runs.id < ?", (ref, ref + "g"), MAX_CANDIDATES + 1)
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            total = conn.execute(
                "SELECT COUNT(*) FROM runs WHERE id >= ? AND id < ?", (ref, ref + "g")
            ).fetchone()[0]
            now = time.time()
            lines = [candidate_line(r, now) for r in rows[:MAX_CANDIDATES]]
            if total > MAX_CANDIDATES:
                lines.append(f"... and {total - MAX_CANDIDATES} more")
            raise AmbiguousRef(ref, lines)
        raise _unknown_name(conn, ref, ref, hint="no run id starts with it and no run has this name; list runs with `tmt ls`")
    if _HEX_RE.match(ref):
        raise _unknown_name(
            conn, ref, ref, hint=f"an id prefix needs at least {MIN_PREFIX} characters; list runs with `tmt ls`"
        )
    raise _unknown_name(conn, ref, ref)


def _unknown_name(conn, ref: str, name: str, hint: str | None = None) -> UnknownRef:
    import difflib  # only for this message: not imported with every query

    names = [n for (n,) in conn.execute(f"SELECT DISTINCT name FROM runs WHERE {ix.NOT_BACKUP_SQL}")]
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.6)
    now = time.time()
    lines = []
    for c in close:
        rows = _rows(conn, _NAMED, (c,), 1)
        if rows:
            lines.append(candidate_line(rows[0], now))
    if hint is None and conn.execute(
        f"SELECT 1 FROM runs WHERE runs.name = ? AND NOT {ix.NOT_BACKUP_SQL} LIMIT 1", (name,)
    ).fetchone():
        hint = f"checkout backups are reached by id only: list them with `tmt ls --tag {ix.BACKUP_TAG}`"
    return UnknownRef(ref, lines, hint)


def resolve_row(repo: "Repo", ref: str) -> tuple:
    """The index row of the run `ref` names (see the module docstring)."""
    if not isinstance(ref, str):
        from tmt.errors import UsageError

        raise UsageError(f"a run reference must be a string or a Run, not {type(ref).__name__}")
    ref = ref.strip()
    if not ref:
        raise UnknownRef(ref, hint="give an id prefix, a run name, or `last`")
    if not is_text(ref):  # undecodable bytes from the command line (os.fsdecode surrogates)
        raise UnknownRef(ref, hint="this reference has bytes that are not UTF-8 text; run names are UTF-8")
    idx = ix.index_for(repo)
    return idx.run(lambda conn: idx.read(conn, lambda c: _resolve(c, ref)))


def resolve(repo: "Repo", ref: "str | Run") -> Run:
    if isinstance(ref, Run):
        return ref
    return Run(repo, resolve_row(repo, ref))
