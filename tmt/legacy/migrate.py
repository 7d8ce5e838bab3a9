"""`tmt migrate`: import the runs of a tmt 0.1.8 store (tmt_db.json, snapshots/, results/).

Every entry becomes a run whose id is its uuid without hyphens, so the import is idempotent:
an entry whose record exists is skipped, and two imports at once write the same bytes. Per
run, in the store's write order (docs/format.md): its snapshot folder becomes a code tree
through the ordinary snapshot (the folder's own .gitignore files and tmt's built-in excludes
apply; one in-memory stat cache is carried from run to run, so the files 0.1.8 hard-linked
between snapshots are read once), each result becomes an artifact blob, and the record is
written last. Every id is pinned before it is relied on and stays pinned until the records
are written, so a `tmt gc` beside the import is safe.

The legacy files are only read. `remove_legacy=True` deletes them afterwards, and only when
every entry is in the store with all the legacy files hold of it and `fsck` finds nothing
wrong; folders no entry names (results of runs that failed under 0.1.8) are kept.

What 0.1.8 did not record, and how the import decides (docs/upgrading.md):
- times: unix seconds without a zone; written in the local time zone of the machine that
  imports them (0.1.8 showed them in local time). Runs within one second keep the file's
  order by a microsecond each, so `last` and `NAME~N` follow the order they ran in;
- status: `completed`. 0.1.8 wrote an entry only when the function returned, or when it
  raised with save_on_exception=True, and recorded nothing that tells the two apart.
"""
from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tmt.legacy import notice
from tmt.legacy.db import DB_NAME, LegacyDb, LegacyEntry, read_db
from tmt.records.io import record_bytes, record_path
from tmt.records.model import Record, RunId
from tmt.text import printable

PROGRESS_PHASE = "migrate"
#: Runs whose objects are published with one file-system sync (and whose records with another).
CHUNK_RUNS = 100
LEGACY_FILES = (DB_NAME, f"{DB_NAME}.lock")
LEGACY_DIRS = ("snapshots", "results")
#: Artifact formats tmt loads, by the file's extension; anything else is a pickle, as 0.1.8's
#: TmtManager.load_results unpickled every result.
_FORMATS = {".npy": "npy", ".npz": "npz", ".json": "json", ".txt": "txt", ".csv": "csv", ".md": "md"}


@dataclass(slots=True)
class Problem:
    """Something of a legacy entry that is not in the store (or cannot be)."""

    message: str
    run: str | None = None  # the entry's uuid as 0.1.8 wrote it
    #: The legacy files hold data the store does not: deleting them would lose it.
    keeps_legacy: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "message": self.message, "keeps_legacy": self.keeps_legacy}


@dataclass(slots=True)
class MigrateResult:
    db: str | None = None  # the database read, None when the store has none
    found: int = 0  # entries in tmt_db.json (sub-entries included)
    imported: list[str] = field(default_factory=list)  # run ids imported now
    children: int = 0  # of the imported runs, sub-entries (runs with a parent)
    already: int = 0  # entries whose run was already in the store
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what tmt decided, as a native snapshot would
    dry_run: bool = False
    removed_legacy: bool = False
    kept_paths: list[str] = field(default_factory=list)  # legacy folders no entry names, kept
    fsck_ok: bool | None = None
    duration_s: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.problems or self.fsck_ok is False else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "found": self.found,
            "imported": list(self.imported),
            "children": self.children,
            "already": self.already,
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
            "dry_run": self.dry_run,
            "removed_legacy": self.removed_legacy,
            "kept_paths": list(self.kept_paths),
            "fsck_ok": self.fsck_ok,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(slots=True)
class _Plan:
    """Where an entry's code and results are on disk, found before anything is written."""

    entry: LegacyEntry
    snapshot: Path | None
    results: list[tuple[str, Path]]  # (artifact name, file)
    problems: list[Problem]


def migrate(
    repo: Any = None,
    *,
    remove_legacy: bool = False,
    dry_run: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> MigrateResult:
    """Import every run of the tmt 0.1.8 store in `repo` not yet in it (see the module doc).

    `dry_run` finds everything and reports what would be imported, writing nothing.
    `remove_legacy` then deletes tmt_db.json, snapshots/ and results/, only if nothing
    would be lost and `tmt fsck` finds no problem. Returns a MigrateResult whose
    `exit_code` is 1 when something could not be imported (listed in `problems`).
    """
    from tmt.repo import Repo

    notice.silence()  # this is the answer to the notice
    repo = Repo.resolve(repo)
    t0 = time.monotonic()
    result = _Migration(repo, progress).run(dry_run=dry_run, remove_legacy=remove_legacy)
    result.duration_s = time.monotonic() - t0
    return result


class _Migration:
    def __init__(self, repo: Any, progress: Callable[[str, int, int], None] | None) -> None:
        self.repo = repo
        self.tmt_dir = Path(repo.tmt_dir)
        self.project = Path(os.path.realpath(self.tmt_dir.parent))
        self.real_tmt = Path(os.path.realpath(self.tmt_dir))
        self.snapshots = self.tmt_dir / "snapshots"
        self.results = self.tmt_dir / "results"
        self.progress = progress or (lambda phase, done, total: None)
        self.r = MigrateResult()

    def run(self, *, dry_run: bool, remove_legacy: bool) -> MigrateResult:
        r = self.r
        r.dry_run = dry_run
        db_path = self.tmt_dir / DB_NAME
        if not db_path.exists():
            return r
        stamp = notice.db_stamp(self.tmt_dir)
        db = read_db(db_path)
        r.db = str(db_path)
        r.found = len(db.entries) + len(db.refused)
        for where, why in db.refused:  # its data is only in tmt_db.json: keep that file
            r.problems.append(Problem(f"{printable(where)} cannot be imported: {printable(why)}"))
        times = _created_times(db)
        todo: list[tuple[_Plan, float]] = []
        existing: list[_Plan] = []
        for entry in db.entries:
            plan = self._plan(entry)
            if record_path(self.repo.experiments_dir, entry.run_id).exists():
                existing.append(plan)
            else:
                todo.append((plan, times[entry.run_id]))
        r.already = len(existing)
        # An entry imported earlier is checked against its record: a snapshot or result
        # that was missing then and is back now would otherwise be lost to remove_legacy.
        for plan in existing:
            r.problems.extend(self._compare(plan))
        if dry_run:
            for plan, _ in todo:
                r.imported.append(plan.entry.run_id)
                r.children += plan.entry.parent is not None
                r.problems.extend(plan.problems)
            return r
        if todo:
            self._import(todo)
        notice.write_cache(self.tmt_dir, stamp, 0)
        if remove_legacy:
            self._remove_legacy(db)
        return r

    # -- finding an entry's files ------------------------------------------------------------

    def _inside(self, real: Path) -> bool:
        """True if `real` (a resolved path) is in the project folder, and not the store itself
        or a folder holding it (a hostile snapshot path must not import the store)."""
        try:
            if os.path.commonpath([real, self.project]) != str(self.project):
                return False
            return os.path.commonpath([real, self.real_tmt]) != str(real)
        except ValueError:
            return False

    def _plan(self, entry: LegacyEntry) -> _Plan:
        label = _label(entry)
        problems = [Problem(f"{label}: {printable(p)}", entry.legacy_id) for p in entry.problems]
        snapshot = self._find_snapshot(entry, label, problems)
        results: list[tuple[str, Path]] = []
        taken: dict[str, Path] = {}
        for name, recorded in entry.results:
            path = self._find_result(entry, name, recorded, label, problems)
            if path is None:
                continue
            if taken.get(name) == path:
                continue  # saved twice under one name: 0.1.8 overwrote the file, one object remains
            unique, n = name, 0
            while unique in taken:
                n += 1
                unique = f"{name}_{n}"  # as tmt.save(allow_exist=True) names a second object
            taken[unique] = path
            results.append((unique, path))
        return _Plan(entry, snapshot, results, problems)

    def _find_snapshot(self, entry: LegacyEntry, label: str, problems: list[Problem]) -> Path | None:
        candidates: list[Path] = []
        if entry.snapshot:
            recorded = Path(entry.snapshot)
            candidates.append(recorded if recorded.is_absolute() else self.tmt_dir.parent / recorded)
            # the project moved (0.1.8 recorded absolute paths): the same folder under snapshots/
            candidates.append(self.snapshots / recorded.name)
        candidates.append(self.snapshots / entry.legacy_id)
        outside = None
        for cand in candidates:
            real = Path(os.path.realpath(cand))
            if not real.is_dir():
                continue
            if self._inside(real):
                return real
            outside = outside or real
        if outside is not None:
            problems.append(Problem(
                f"{label}: its snapshot {printable(str(outside))} is outside the project; imported without code",
                entry.legacy_id, keeps_legacy=False,
            ))
        else:
            where = printable(entry.snapshot or str(self.snapshots / entry.legacy_id))
            problems.append(Problem(
                f"{label}: its snapshot {where} is missing; imported without code", entry.legacy_id, keeps_legacy=False
            ))
        return None

    def _find_result(
        self, entry: LegacyEntry, name: str, recorded: str, label: str, problems: list[Problem]
    ) -> Path | None:
        shown = f"{label}: result {printable(name)!r} ({printable(recorded)})"
        path = Path(recorded)
        if not path.is_absolute():
            path = self.tmt_dir.parent / path  # 0.1.8 wrote paths relative to the folder holding .tmt
        folder = self.results / entry.legacy_id
        for cand in (path, folder / path.name):
            if not os.path.lexists(cand):
                continue
            real = Path(os.path.realpath(cand))
            if not self._inside(real):
                problems.append(Problem(
                    f"{shown} is outside the project; not imported (copy it into {folder}, then "
                    f"`tmt rm {entry.run_id[:8]}` and `tmt migrate`)",
                    entry.legacy_id, keeps_legacy=False,
                ))
                return None
            if real.is_file():
                return real
        # A saver that adds its own extension (numpy.save: preds.pkl -> preds.pkl.npy)
        try:
            near = sorted(
                p for p in folder.iterdir()
                if p.name.startswith(path.name + ".") and p.is_file() and not p.is_symlink()
            )
        except OSError:
            near = []
        if len(near) == 1:
            return Path(os.path.realpath(near[0]))
        problems.append(Problem(f"{shown} is missing; not imported", entry.legacy_id, keeps_legacy=False))
        return None

    def _compare(self, plan: _Plan) -> list[Problem]:
        """Problems of an entry imported earlier: what its legacy files hold and its record lacks."""
        from tmt.errors import TmtError
        from tmt.records.io import read_record

        entry = plan.entry
        label = _label(entry)
        try:
            rec = read_record(record_path(self.repo.experiments_dir, entry.run_id))
        except TmtError as e:
            return [Problem(f"{label}: its record cannot be read ({e.message}); run `tmt fsck`", entry.legacy_id)]
        out = list(plan.problems)
        hint = f"`tmt rm {entry.run_id[:8]}` then `tmt migrate` imports it again"
        if plan.snapshot is not None and not (rec.code or {}).get("tree"):
            out.append(Problem(f"{label} was imported without code, but its snapshot is there now; {hint}",
                               entry.legacy_id))
        names = {a.get("name") for a in rec.artifacts}
        lacking = [n for n, _ in plan.results if n not in names]
        if lacking:
            out.append(Problem(
                f"{label} was imported without {', '.join(repr(printable(n)) for n in lacking)}; {hint}",
                entry.legacy_id,
            ))
        return out

    # -- importing ---------------------------------------------------------------------------

    def _import(self, todo: list[tuple[_Plan, float]]) -> None:
        """Import in chunks: a chunk's objects are published with one file-system sync,
        then its records with another (write order: objects, then records)."""
        from tmt.snapshot.statcache import StatCache
        from tmt.store.pins import PinFile

        self.repo.experiments_dir.mkdir(parents=True, exist_ok=True)
        if self.repo.store.epoch() is None:  # a 0.1.8 store never had one: as `tmt init` does
            self.repo.store.bump_epoch()
        cache = StatCache()
        pin = PinFile(self.tmt_dir)
        try:
            for start in range(0, len(todo), CHUNK_RUNS):
                built = []
                with self.repo.store.batch() as batch:
                    for i, (plan, created) in enumerate(todo[start:start + CHUNK_RUNS], start):
                        self.progress(PROGRESS_PHASE, i, len(todo))
                        built.append((plan, *self._build(plan, created, pin, cache, batch)))
                _publish_records(self.repo, [record for _, record, _ in built])
                for plan, _, problems in built:
                    self.r.imported.append(plan.entry.run_id)
                    self.r.children += plan.entry.parent is not None
                    self.r.problems.extend(problems)
            self.progress(PROGRESS_PHASE, len(todo), len(todo))
        finally:
            pin.close()  # after the last record: from then on the records are gc roots

    def _build(self, plan: _Plan, created: float, pin: Any, cache: Any, batch: Any) -> tuple[Record, list[Problem]]:
        """The run's objects (into `batch`, pinned) and its record, with what went wrong."""
        from tmt.errors import TmtError
        from tmt.recorder.values import to_params
        from tmt.snapshot.build import snapshot

        entry = plan.entry
        label = _label(entry)
        problems = list(plan.problems)
        code = None
        if plan.snapshot is not None:
            said: list[str] = []
            try:
                snap = snapshot(
                    plan.snapshot, self.repo.store, max_file_size=self.repo.config.max_file_size,
                    pin=pin, warn=said.append, stat_cache=cache, batch=batch,
                )
            except TmtError as e:
                problems.append(Problem(f"{label}: its snapshot could not be read ({e.message}); imported without code",
                                        entry.legacy_id))
            else:
                code = {"root": ".", "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": None}
                for path, reason in snap.skipped:
                    problems.append(Problem(f"{label}: {printable(path)} in its snapshot was not imported: {reason}",
                                            entry.legacy_id))
                self.r.notes.extend(f"{label}: {printable(m)}" for m in said if not m.startswith("skipped "))
        artifacts = []
        for name, result in plan.results:
            try:
                oid, size = store_result(self.repo.store, pin, batch, result)
            except TmtError as e:
                problems.append(Problem(f"{label}: result {printable(name)!r} could not be read ({e.message}); "
                                        "not imported", entry.legacy_id))
                continue
            artifacts.append({
                "name": name, "object": oid, "size": size,
                "format": _FORMATS.get(result.suffix.lower(), "pickle"), "filename": result.name,
            })
        metrics: dict[str, Any] = {}
        outputs: dict[str, Any] = {}
        for name, value in entry.metrics:
            if value is None:
                continue  # a missing metric, as tmt records a returned None
            if isinstance(value, (bool, int, float)):
                metrics[name] = value
            else:
                outputs[name] = value  # strings, lists, dicts: what tmt keeps as outputs
        record = Record(
            id=RunId(entry.run_id),
            name=entry.name,
            status="completed",
            created_at=_iso(created),
            finished_at=_iso(max(entry.saved, created)) if entry.saved is not None else None,
            duration_s=max(0.0, entry.saved - entry.created) if entry.saved is not None else None,
            description=entry.description,
            code=code,
            metrics=metrics,
            artifacts=artifacts,
            parent=entry.parent,
            env={"argv": entry.argv, "tmt": entry.version},
            outputs=to_params(outputs) if outputs else {},
        )
        return record, problems

    # -- removing the legacy files -----------------------------------------------------------

    def _remove_legacy(self, db: LegacyDb) -> None:
        from tmt.maintenance.fsck import fsck

        r = self.r
        if any(p.keeps_legacy for p in r.problems):
            r.notes.append("the tmt 0.1.8 files were kept: they hold what is listed above, which the store does not")
            return
        check = fsck(self.repo, progress=self.progress)
        r.fsck_ok = check.ok
        if not check.ok:
            r.notes.append("the tmt 0.1.8 files were kept: `tmt fsck` found problems in the store; run it to see them")
            return
        named = {e.legacy_id for e in db.entries}
        for sub in LEGACY_DIRS:
            folder = self.tmt_dir / sub
            if folder.is_symlink() or not folder.is_dir():
                continue
            for child in sorted(os.listdir(folder)):
                path = folder / child
                if child in named or (sub == "snapshots" and child == "last" and path.is_symlink()):
                    _remove(path)
                elif path.is_dir() and not path.is_symlink() and not os.listdir(path):
                    os.rmdir(path)  # an empty results folder of a run that failed under 0.1.8
                else:
                    r.kept_paths.append(str(path))
            try:
                folder.rmdir()
            except OSError:
                pass  # still holds what no entry names
        for name in LEGACY_FILES:
            try:
                os.unlink(self.tmt_dir / name)
            except FileNotFoundError:
                pass
        try:
            os.unlink(self.tmt_dir / "cache" / notice.CACHE_NAME)
        except OSError:
            pass
        r.removed_legacy = True


def store_result(store: Any, pin: Any, batch: Any, path: Path) -> tuple[str, int]:
    """Store a result file as a blob: pinned, then into `batch` (big files stream on their own)."""
    from tmt.errors import StoreError
    from tmt.recorder.artifacts import IN_MEMORY_MAX, store_file
    from tmt.store.ids import hash_bytes

    try:
        # No symlink (the path is resolved), and a FIFO swapped in must not block the import
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with open(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise StoreError(f"could not read {path}: not a regular file")
            data = f.read(IN_MEMORY_MAX + 1)
    except OSError as e:
        raise StoreError(f"could not read {path}: {e.strerror or e}") from e
    if len(data) > IN_MEMORY_MAX:
        return store_file(store, pin, path)
    oid = hash_bytes(data)
    pin.add([oid])  # before the object is written or found: gc protocol
    return batch.add(data, oid), len(data)


def _publish_records(repo: Any, records: list[Record]) -> None:
    """Write records as one batch: temp files, one file-system sync, renames, a folder sync.

    Each record is replaced atomically, and none is renamed into place before every temp
    file is on disk, so a crash leaves whole records or none.
    """
    from tmt.errors import StoreError
    from tmt.store.fsutil import _hint_for, _unlink_quiet, fsync_dir, syncfs, write_tmp

    tmp_dir = str(repo.tmp_dir)
    written: list[tuple[str, Path]] = []
    try:
        for rec in records:
            written.append((write_tmp(tmp_dir, record_bytes(rec), fsync=False), record_path(repo.experiments_dir, rec.id)))
        if not syncfs(tmp_dir):
            for tmp, _ in written:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        for tmp, path in written:
            os.replace(tmp, path)
    except OSError as e:
        for tmp, _ in written:
            _unlink_quiet(tmp)
        raise StoreError(f"could not write the imported records: {e.strerror or e}", _hint_for(e)) from e
    fsync_dir(repo.experiments_dir)


def _label(entry: LegacyEntry) -> str:
    return f"run {entry.run_id[:8]} ({printable(entry.name)})"


def _remove(path: Path) -> None:
    from tmt.query.run import _rmtree_readonly

    if path.is_symlink() or not path.is_dir():
        os.unlink(path)
    else:
        _rmtree_readonly(path)  # copies of read-only folders too; never follows a symlink inside


def _iso(ts: float) -> str:
    """Unix seconds as ISO 8601 in this machine's local time zone, with its offset then."""
    whole = int(ts)
    micros = round((ts - whole) * 1_000_000)
    return (datetime.fromtimestamp(whole).astimezone() + timedelta(microseconds=micros)).isoformat(
        timespec="microseconds"
    )


def _created_times(db: LegacyDb) -> dict[str, float]:
    """created_at of every entry: 0.1.8 kept whole seconds, so entries of one second get one
    microsecond each in the file's order (parents before their sub-entries)."""
    seen: dict[float, int] = {}
    out = {}
    for e in db.entries:
        n = seen.get(e.created, 0)
        seen[e.created] = n + 1
        out[e.run_id] = e.created + n / 1_000_000
    return out
