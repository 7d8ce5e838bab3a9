"""The predecessor's database, `.tmt/tmt_db.json`, read and checked: one LegacyEntry per run.

What ThatMetricTimeline 0.1.8 wrote (read from its source: tmt/storage/json_db.py and
schema.py, tmt/history/context.py and snapshot.py):

    .tmt/tmt_db.json         {"data": [entry, ...]}, rewritten whole at the end of each run
    .tmt/tmt_db.json.lock    its file lock
    .tmt/snapshots/<uuid>/   the working directory at the *end* of the run: a full copy the
                             first time, then hard links to the previous snapshot's unchanged
                             files plus copies of changed ones
    .tmt/snapshots/last      symlink to the newest snapshot
    .tmt/results/<uuid>/     what tmt_save wrote: <name><extension>, pickled by default

    entry = {id: str(uuid4()), name, args: " ".join(sys.argv), description,
             date_created: int(unix seconds), date_saved: int | null,
             local_results_path: ".tmt/results", local_snapshot_path: absolute path,
             metrics: [{entry_id, name, value}], results: [{entry_id, name, path}],
             other_runs: [entry, ...] (sub-entries, DuplicatePolicy.AS_SUB_ENTRY), version}

Nothing in it is trusted: a malformed entry is refused with a reason, never half-read.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tmt.errors import StoreError
from tmt.repo import LEGACY_DB as DB_NAME
#: Sub-entries nest one level in 0.1.8; deeper nesting is refused rather than recursed into.
MAX_DEPTH = 32
_HEX32 = re.compile(r"[0-9a-f]{32}\Z")


@dataclass(slots=True)
class LegacyEntry:
    """One run as 0.1.8 recorded it, fields checked and converted to plain values."""

    legacy_id: str  # as 0.1.8 wrote it: a hyphenated uuid
    run_id: str  # the tmt run id: the uuid without hyphens
    name: str
    description: str
    argv: list[str]
    created: float  # unix seconds
    saved: float | None
    snapshot: str  # local_snapshot_path as recorded ("" if none)
    results: list[tuple[str, str]]  # (name, path as recorded)
    metrics: list[tuple[str, Any]]
    version: str
    parent: str | None = None  # run id of the entry this is a sub-entry of
    problems: list[str] = field(default_factory=list)  # parts of the entry that could not be read


@dataclass(slots=True)
class LegacyDb:
    path: Path
    entries: list[LegacyEntry]  # parents before their sub-entries, in the file's order
    refused: list[tuple[str, str]]  # (which entry, why) for entries that cannot be imported


def run_id_for(legacy_id: str) -> str | None:
    """The tmt id of a 0.1.8 uuid: its 32 hex digits, lowercase, without hyphens."""
    rid = legacy_id.replace("-", "").lower()
    return rid if _HEX32.match(rid) else None


#: 0.1.8 rewrote its whole database at the end of every run: real ones are a few MiB. A larger
#: file (a sparse one in a tarball) is refused before it is read.
MAX_DB_BYTES = 256 << 20


def read_db(path: Path) -> LegacyDb:
    """Parse tmt_db.json; StoreError if the file itself cannot be read as 0.1.8's database."""
    from tmt.store.nofollow import read_file

    try:
        raw = read_file(path, MAX_DB_BYTES)  # in the store: never through a link, never blocking on a FIFO
    except OSError as e:
        raise StoreError(f"could not read {path}: {e.strerror or e}", "check its permissions") from e
    if len(raw) > MAX_DB_BYTES:
        raise StoreError(f"{path} is larger than {MAX_DB_BYTES >> 20} MiB: not a tmt 0.1.8 database tmt can read",
                         "move it away if it is not one")
    try:
        data = json.loads(raw.decode("utf-8"))  # 0.1.8 wrote NaN as a bare NaN: json reads it
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise StoreError(
            f"{path} is not a readable tmt 0.1.8 database: {e.__class__.__name__}: {str(e)[:200]}",
            "restore it from a backup, or move it away if its runs are not needed",
        ) from None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise StoreError(f"{path} is not a tmt 0.1.8 database: no \"data\" list", "move it away if it is not one")
    db = LegacyDb(path, [], [])
    seen: set[str] = set()
    stack: list[tuple[Any, str, str | None, int]] = [
        (item, f"entry {i + 1}", None, 0) for i, item in reversed(list(enumerate(items)))
    ]
    while stack:  # depth first, parents before children, in the file's order
        item, where, parent, depth = stack.pop()
        entry = _entry(item, where, parent, db.refused)
        if entry is None:
            continue
        if entry.run_id in seen:
            db.refused.append((where, f"id {entry.legacy_id} appears twice in {DB_NAME}; the first is kept"))
            continue
        seen.add(entry.run_id)
        db.entries.append(entry)
        subs = item.get("other_runs") or []
        if not isinstance(subs, list):
            entry.problems.append("other_runs is not a list; its sub-entries are not imported")
            continue
        if subs and depth + 1 >= MAX_DEPTH:
            db.refused.append((f"sub-entries of {entry.legacy_id}", f"nested deeper than {MAX_DEPTH} levels"))
            continue
        for j in range(len(subs) - 1, -1, -1):
            stack.append((subs[j], f"sub-entry {j + 1} of {entry.legacy_id}", entry.run_id, depth + 1))
    return db


def _entry(item: Any, where: str, parent: str | None, refused: list[tuple[str, str]]) -> LegacyEntry | None:
    if not isinstance(item, dict):
        refused.append((where, "not a JSON object"))
        return None
    legacy_id = item.get("id")
    if not isinstance(legacy_id, str) or (run_id := run_id_for(legacy_id)) is None:
        refused.append((where, f"its id {str(legacy_id)[:80]!r} is not a uuid"))
        return None
    created, saved = _time(item.get("date_created")), _time(item.get("date_saved"))
    if created is None:
        created = saved
    if created is None:
        refused.append((f"{where} ({legacy_id})", "it has no readable date_created"))
        return None
    problems: list[str] = []
    name = item.get("name")
    if not isinstance(name, str) or not name:
        problems.append(f"its name {name!r} is not a non-empty string; imported as 'unnamed'")
        name = "unnamed"
    description = item.get("description")
    args = item.get("args")
    version = item.get("version")
    return LegacyEntry(
        legacy_id=legacy_id,
        run_id=run_id,
        name=name,
        description=description if isinstance(description, str) else "",
        # 0.1.8 kept " ".join(sys.argv): the original quoting is lost, whitespace splits it back
        argv=args.split() if isinstance(args, str) else [],
        created=created,
        saved=saved,
        snapshot=item["local_snapshot_path"] if isinstance(item.get("local_snapshot_path"), str) else "",
        results=_pairs(item.get("results"), "path", "results", problems),
        metrics=_pairs(item.get("metrics"), "value", "metrics", problems),
        version=version if isinstance(version, str) else "0.1",
        parent=parent,
        problems=problems,
    )


def _pairs(items: Any, key: str, what: str, problems: list[str]) -> list[tuple[str, Any]]:
    """[(name, item[key])] of a list of {name, key, ...} objects; bad items noted in problems."""
    if items is None:
        return []
    if not isinstance(items, list):
        problems.append(f"{what} is not a list; none imported")
        return []
    out = []
    for i, it in enumerate(items):
        if (
            not isinstance(it, dict) or not isinstance(it.get("name"), str) or not it["name"]
            or key not in it or (key == "path" and not isinstance(it[key], str))
        ):
            problems.append(f"{what} item {i + 1} is malformed; not imported")
            continue
        out.append((it["name"], it[key]))
    return out


def _time(value: Any) -> float | None:
    """Unix seconds from 0.1.8's int(datetime.now().timestamp()) (or an ISO text)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if 0 < value < 1e11 else None  # NaN and absurd values fail too
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()  # naive: local time, as 0.1.8 meant it
        except (ValueError, OverflowError, OSError):
            return None
    return None
