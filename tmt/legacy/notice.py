"""The notice a store with runs of tmt 0.1.8 not yet imported gives, once per process.

`tmt.repo.Repo` looks for `.tmt/tmt_db.json` with one stat when it opens a store and calls
`notice()` only when the file is there, so stores without legacy files pay one stat and
never import this module.

The count (entries whose run has no record yet) would cost a parse of the database and a
stat per entry on every command, so it is kept in `.tmt/cache/legacy-0.1.8`, keyed by the
database file's (size, mtime_ns, inode): `tmt migrate` writes it, and any command that finds
it stale recounts and rewrites it. A run deleted after its import (`tmt rm`) does not bring
the notice back until tmt_db.json changes; `tmt migrate` would import it again.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tmt.legacy.db import DB_NAME

CACHE_NAME = "legacy-0.1.8"
_noticed: set[str] = set()  # stores this process has already told about
_silenced = False


def message(count: int) -> str:
    # "runs" even for one: the text is a contract (DESIGN section 14), matched by scripts
    return f"found {count} runs recorded by tmt 0.1.8: import them with 'tmt migrate'"


def silence() -> None:
    """No notice in this process any more: `tmt migrate` is the answer to it."""
    global _silenced
    _silenced = True


def notice(tmt_dir: Path) -> None:
    """Print the notice on stderr if the store has entries not imported; never raises."""
    key = os.fspath(tmt_dir)
    if _silenced or key in _noticed:
        return
    _noticed.add(key)
    try:
        count = pending(tmt_dir)
    except Exception:  # noqa: BLE001 - a notice must never break the command; migrate reports
        return
    if count:
        try:
            print(message(count), file=sys.stderr, flush=True)
        except (OSError, ValueError):
            pass


def pending(tmt_dir: Path) -> int:
    """How many 0.1.8 entries have no record in the store (0 without a tmt_db.json)."""
    stamp = db_stamp(tmt_dir)
    if stamp is None:
        return 0
    cached = _read_cache(tmt_dir)
    if cached is not None and cached.get("db") == stamp and isinstance(cached.get("pending"), int):
        return cached["pending"]
    from tmt.legacy.db import read_db
    from tmt.records.io import record_path

    db = read_db(tmt_dir / DB_NAME)
    experiments = tmt_dir / "experiments"
    count = sum(1 for e in db.entries if not record_path(experiments, e.run_id).exists())
    write_cache(tmt_dir, stamp, count)
    return count


def db_stamp(tmt_dir: Path) -> list[int] | None:
    try:
        st = os.stat(tmt_dir / DB_NAME)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _read_cache(tmt_dir: Path) -> dict | None:
    from tmt.store.nofollow import read_file

    try:
        data = json.loads(read_file(tmt_dir / "cache" / CACHE_NAME, limit=1 << 16))
    except (OSError, ValueError):  # absent, or not tmt's (a link, a FIFO): counted again
        return None
    return data if isinstance(data, dict) else None


def write_cache(tmt_dir: Path, stamp: list[int] | None, count: int) -> None:
    """Remember `count` for the database file as `stamp` saw it (best effort: a cache)."""
    if stamp is None:
        return
    from tmt.store.fsutil import atomic_write

    try:
        for sub in ("cache", "tmp"):  # never write through a symlink out of the store
            if (tmt_dir / sub).is_symlink():
                return
        (tmt_dir / "cache").mkdir(exist_ok=True)
        data = json.dumps({"db": stamp, "pending": count}).encode()
        atomic_write(tmt_dir / "cache" / CACHE_NAME, data, tmt_dir / "tmp", durable=False)
    except Exception:  # noqa: BLE001 - read-only store, full disk: only the count is redone
        pass
