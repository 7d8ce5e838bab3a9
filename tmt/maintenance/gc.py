"""gc: delete objects that no record or live run needs, without ever racing a writer into loss.

Protocol (docs/maintenance.md, CONTEXT "gc safety protocol"); the order is what makes it safe:

1. mark every id reachable from every live pin and every record (trees recursively);
2. bump the gc epoch, so snapshots stop trusting their cache of "objects that exist";
3. move unreachable objects older than the grace period into `.tmt/trash-<gcid>/` (rename);
4. mark again: re-read the live pins, *then* the records, *after* every move is done;
5. move back every trashed object that is now reachable (or was touched within the grace);
6. delete the rest.

A writer pins an id before it checks or writes the object. If its pin was written before
step 4 read the pins, step 5 puts the object back; if after, the writer finds the object
missing (it is in the trash, or gone) and writes it again. Pins are read before records
because a writer does the opposite: it publishes its record, then drops its pin. Read in
the other order, the record of a writer that published it after the records were listed
and dropped its pin before the pins were read would be seen in neither, and the objects
it found present just before the move would be deleted. A gc killed at any point leaves
at most a trash folder, which the next gc (or `fsck --repair`) moves back before anything
else: trashed objects are never deleted without passing through steps 4-5 again.
"""
from __future__ import annotations

import os
import shutil
import stat as statmod
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tmt._sys import host_label, pid_alive
from tmt._units import parse_duration
from tmt.errors import RecordError, TmtError, UnsafePath, UsageError
from tmt.maintenance.lock import GcLock, os_error
from tmt.maintenance.reach import Marker, RecordCache, looks_like_tree, record_roots, store_reader
from tmt.records.io import read_record, record_path
from tmt.records.model import Record, effective_status, is_run_id
from tmt.records.series import JOURNAL_DIRNAME, JOURNAL_SUFFIX
from tmt.repo import Repo
from tmt.store.fsutil import tmp_owner
from tmt.store.ids import ObjectId
from tmt.store.nofollow import UNSAFE_HINT, layout_problems, own_dir
from tmt.store.pins import live_pin_owners, live_pins, remove_dead_pins

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.store.backend import Aside, ObjectBackend

DEFAULT_GRACE_S = 3600.0
#: a temp file whose pid is not alive here must also be this old: older names ("<pid>-<rand>")
#: carry no host, so on a store shared between hosts it may be a live writer's elsewhere.
TMP_DEAD_MIN_AGE_S = 300.0
#: another host's temp file ("<host>_<pid>-<rand>") is only removed when this old.
TMP_FOREIGN_MIN_AGE_S = 24 * 3600.0
DELETE_THREADS = 8
#: statuses --keep-last may prune (effective: `crashed` is a running record whose process is gone)
FINISHED = ("completed", "failed", "interrupted", "crashed")

Progress = Callable[[str, int, int], None]  # (phase, done, total)


class GcRefused(TmtError):
    """gc cannot tell what is reachable (an unreadable record or tree) and will not guess."""


class GcDeclined(TmtError):
    """`confirm` said no to deleting the runs beyond --keep-last: nothing was deleted."""


#: Runs with one of these tags are never deleted by keep_last (`tmt gc --keep-tag` adds more).
KEEP_TAGS = ("keep",)


@dataclass(slots=True)
class GcResult:
    objects_deleted: int = 0  # (or that would be deleted, with dry_run)
    bytes_freed: int = 0
    objects_kept: int = 0  # reachable objects
    objects_young: int = 0  # unreachable but within the grace period: kept for now
    objects_restored: int = 0  # candidates put back because they became needed during gc
    temp_files_removed: int = 0
    trash_restored: int = 0  # objects moved back from a crashed gc's trash
    pins_removed: int = 0  # pin files of dead processes
    journals_removed: int = 0  # step-metric journals of deleted or already packed runs
    records_deleted: list[str] = field(default_factory=list)  # --keep-last
    unreadable_records: list[str] = field(default_factory=list)  # ignored with force=True
    dry_run: bool = False
    grace_s: float = DEFAULT_GRACE_S
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def gc(
    repo=None,
    *,
    grace: float | str = DEFAULT_GRACE_S,
    dry_run: bool = False,
    keep_last: int | None = None,
    keep_tags: Iterable[str] = KEEP_TAGS,
    confirm: Callable[[list[Record]], bool] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> GcResult:
    """Delete unreachable objects older than `grace` seconds; see the module docstring.

    `keep_last=N` first deletes (as `tmt rm` does), per run name, the finished runs
    (completed, failed, interrupted, crashed) beyond the newest N finished ones; running
    runs, and runs tagged with one of `keep_tags`, are never deleted nor counted. Before
    deleting any, `confirm(records)` is asked (newest first); if it answers False nothing
    at all is deleted (GcDeclined). `force=True` proceeds although some record is
    unreadable (its objects may go).
    """
    repo = Repo.resolve(repo)
    grace_s = parse_duration(grace)
    if keep_last is not None and keep_last < 0:
        raise UsageError(f"--keep-last must be 0 or more, not {keep_last}")
    t0 = time.monotonic()
    result = GcResult(dry_run=dry_run, grace_s=grace_s)
    with GcLock(repo.tmt_dir):
        try:
            _Gc(repo, grace_s, dry_run, keep_last, force, progress, result,
                keep_tags=frozenset(keep_tags), confirm=confirm).run()
        except OSError as e:  # a read-only or foreign-owned store, a full disk
            raise os_error("gc", e) from e
    result.duration_s = time.monotonic() - t0
    return result


class _Gc:
    def __init__(self, repo, grace_s, dry_run, keep_last, force, progress, result: GcResult, *,
                 keep_tags: frozenset[str] = frozenset(KEEP_TAGS), confirm=None) -> None:
        self.repo = repo
        self.store = repo.store
        self.tmt_dir = Path(repo.tmt_dir)
        self.grace_s = grace_s
        self.dry_run = dry_run
        self.keep_last = keep_last
        self.force = force
        self.progress = progress or (lambda phase, done, total: None)
        self.keep_tags = keep_tags
        self.confirm = confirm
        self.r = result
        self.records = RecordCache(repo.experiments_dir)

    def run(self) -> None:
        # gc deletes and renames all over the store: a link or special file where tmt keeps
        # its own folder or file (planted in a store copied from elsewhere) stops it before
        # anything is touched, since deleting "stale" files through a link deletes elsewhere.
        problems = layout_problems(self.tmt_dir)
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise UnsafePath(f"{problems[0][1]}{more}; gc changes nothing", UNSAFE_HINT)
        # A crashed gc's trash goes back first, dry run or not: that only undoes damage.
        self.r.trash_restored = restore_trash(self.store)
        pins = self._live_pins(first=True)  # pins before records (module docstring)
        records = self._load_records(first=True)
        if self.keep_last is not None:
            records = self._keep_last(records)
        marker = Marker(read=store_reader(self.store))
        self._mark(marker, records, pins)
        candidates = self._scan(marker)
        self.r.objects_deleted = len(candidates)
        self.r.bytes_freed = sum(size for _, size in candidates)
        if self.dry_run:
            self.r.temp_files_removed = len(stale_tmp_files(self.repo.tmp_dir, self.grace_s))
            self.r.journals_removed = len(stale_journals(self.repo, self.grace_s))
            return
        if candidates:
            self._sweep(marker, candidates)
        self.r.temp_files_removed = remove_stale_tmp(self.repo.tmp_dir, self.grace_s)
        self.r.journals_removed = remove_stale_journals(self.repo, self.grace_s)

    # -- records ---------------------------------------------------------------------------

    def _load_records(self, first: bool) -> list[Record]:
        records, bad = self.records.load()
        if bad:
            names = [str(p) for p, _ in bad]
            if not self.force:
                path, reason = bad[0]
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise GcRefused(
                    f"record {path} cannot be read ({reason}){more}; it may reference objects, "
                    "so gc deletes nothing",
                    "run `tmt fsck` to list damaged records and repair or remove them, "
                    "or `tmt gc --force` to ignore them (their objects may be deleted)",
                )
            self.r.unreadable_records = sorted(set(self.r.unreadable_records) | set(names))
        return records

    def _keep_last(self, records: list[Record]) -> list[Record]:
        # Effective statuses: a crashed run (recorded `running`, its process gone) is finished.
        by_name: dict[str, list[Record]] = {}
        for rec in records:
            if effective_status(rec) in FINISHED and not self.keep_tags.intersection(rec.tags):
                by_name.setdefault(rec.name, []).append(rec)
        drop: list[Record] = []
        for recs in by_name.values():
            recs.sort(key=_created_key, reverse=True)
            drop.extend(recs[self.keep_last :])
        self.r.records_deleted = sorted(r.id for r in drop)
        if drop and not self.dry_run and self.confirm is not None:
            if not self.confirm(sorted(drop, key=_created_key, reverse=True)):
                raise GcDeclined("nothing deleted")
        if drop and not self.dry_run:
            # The one deletion path (as `tmt rm`): record, journal, cached views, index row.
            # Only finished runs are dropped (above), so the live-run rule has nothing to refuse.
            from tmt.mutations import remove
            from tmt.query.run import Run

            remove([Run.from_record(self.repo, r) for r in drop], repo=self.repo, force=True)
        gone = {r.id for r in drop}
        return [r for r in records if r.id not in gone]

    # -- marking ---------------------------------------------------------------------------

    def _live_pins(self, first: bool) -> set[ObjectId]:
        if first and not self.dry_run:
            self.r.pins_removed = remove_dead_pins(self.tmt_dir)
        return live_pins(self.tmt_dir)

    def _mark(self, marker: Marker, records: list[Record], pins: set[ObjectId],
              trash: Aside | None = None) -> None:
        """Mark from `records` and from `pins`, which the caller read *before* the records."""
        self.progress("mark", 0, len(records))
        trees: list[tuple[ObjectId, str]] = []
        blobs: list[tuple[ObjectId, str]] = []
        for rec in records:
            roots = record_roots(rec)
            trees.extend((t, rec.id) for t in roots.trees)
            blobs.extend((b, rec.id) for b, _ in roots.blobs)
        marker.new_problems.clear()
        marker.add_blobs(blobs)
        marker.add_trees(trees)
        self.progress("mark", len(records), len(records))
        # A tree a record needs but that cannot be read hides which objects it needs.
        broken = [o for o in marker.new_problems if o in marker.problems]
        if self.store.lazy:
            # A lazy clone lacks whole subtrees until they are needed (tmt clone --lazy); a
            # fetched tree always comes with its subtree, so nothing here hides below one.
            broken = [o for o in broken if marker.problems[o][0] != "missing"]
        if broken and not self.force:
            oid = broken[0]
            kind, reason = marker.problems[oid]
            raise GcRefused(
                f"tree {oid} needed by a record is {'missing' if kind == 'missing' else 'unreadable'} "
                f"({reason}); gc cannot tell which objects it needs, so it deletes nothing",
                "run `tmt fsck --repair` to restore it, or `tmt gc --force` to proceed anyway",
            )
        trees_p = [(o, "pin") for o in pins if looks_like_tree(self.store, o, trash)]
        tree_set = {o for o, _ in trees_p}
        marker.add_blobs((o, "pin") for o in pins if o not in tree_set)
        marker.add_trees(trees_p)

    def _scan(self, marker: Marker) -> list[tuple[ObjectId, int]]:
        """Unreachable objects older than the grace period, with their sizes."""
        now = time.time()
        out: list[tuple[ObjectId, int]] = []
        marked = marker.marked
        shards = self.store.shards()
        for i, shard in enumerate(shards):
            for info in self.store.scan(shard, skip=marked):  # names that are not ids: fsck's
                if info.oid in marked:
                    self.r.objects_kept += 1
                elif now - info.mtime < self.grace_s:
                    self.r.objects_young += 1
                else:
                    out.append((info.oid, info.size))
            self.progress("scan", i + 1, len(shards))
        return out

    # -- moving aside, re-marking, deleting -----------------------------------------------

    def _sweep(self, marker: Marker, candidates: list[tuple[ObjectId, int]]) -> None:
        self.store.bump_epoch()  # before any object leaves objects/
        trash = self.store.new_aside()
        try:
            self._sweep_into(trash, marker, candidates)
        except BaseException:
            # Whatever went wrong (a permission error, Ctrl-C), nothing stays in the trash:
            # every object still there goes back, reachable or not; the next gc decides again.
            for info in trash.scan():
                trash.put_back(info.oid)
            raise
        finally:
            trash.close()

    def _sweep_into(self, trash: Aside, marker: Marker, candidates: list[tuple[ObjectId, int]]) -> None:
        moved: list[ObjectId] = []
        sizes: dict[str, int] = {}
        total = len(candidates)
        for i, (oid, size) in enumerate(candidates):
            if not trash.move(oid):
                continue
            moved.append(oid)
            sizes[oid] = size
            if i % 1024 == 0:
                self.progress("move", i, total)
        self.progress("move", total, total)

        # Second mark, only after every move: new pins and records written meanwhile. Pins
        # first: a writer publishes its record before it drops its pin, so a pin that is
        # gone when we read the pins left a record that the listing after it includes.
        marker.read = store_reader(self.store, trash)
        pins = self._live_pins(first=False)
        records = self._load_records(first=False)
        self._mark(marker, records, pins, trash=trash)
        now = time.time()
        doomed: list[ObjectId] = []
        restored = 0
        for oid in moved:
            keep = oid in marker.marked
            if not keep and self.grace_s > 0:
                # A writer that refreshed the mtime just before our rename counts as new.
                mtime = trash.mtime(oid)
                if mtime is None:
                    continue
                keep = now - mtime < self.grace_s
            if keep:
                trash.put_back(oid)
                restored += 1
            else:
                doomed.append(oid)
        deleted, freed = self._delete(trash, doomed, sizes)
        self.r.objects_deleted = deleted
        self.r.bytes_freed = freed
        self.r.objects_restored = restored
        self.r.objects_kept += restored

    def _delete(self, trash: Aside, doomed: list[ObjectId], sizes: dict[str, int]) -> tuple[int, int]:
        """Delete in threads: an unlink can cost 0.2 ms (ext4 with discard), and they overlap."""
        chunks = [doomed[i : i + 256] for i in range(0, len(doomed), 256)]

        def delete_all(chunk: list[ObjectId]) -> tuple[int, int]:
            n = b = 0
            for oid in chunk:
                if trash.delete(oid):
                    n += 1
                    b += sizes[oid]
            return n, b

        deleted = freed = 0
        self.progress("delete", 0, len(doomed))
        if len(chunks) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(DELETE_THREADS) as pool:
                results = pool.map(delete_all, chunks)
                for chunk, (n, b) in zip(chunks, results):
                    deleted += n
                    freed += b
                    self.progress("delete", deleted, len(doomed))
        else:
            for chunk in chunks:
                deleted, freed = delete_all(chunk)
        self.progress("delete", len(doomed), len(doomed))
        return deleted, freed


def _created_key(rec: Record):
    try:
        return rec.created.timestamp()
    except (TypeError, ValueError):
        return 0.0


def restore_trash(store: ObjectBackend) -> int:
    """Put every object of a crashed gc's trash back into the store; return how many.

    Callers hold the gc lock, so no set aside belongs to a live gc. Only regular files go
    back; anything else (and names that are not object ids) stays, and the set with it, for
    a person to look at.
    """
    n = 0
    for trash in store.asides():
        for info in list(trash.scan()):
            if statmod.S_ISREG(info.mode):
                trash.put_back(info.oid)
                n += 1
        trash.close()
    return n


# -- temp files -------------------------------------------------------------------------------


def stale_tmp_files(tmp_dir: Path, grace_s: float) -> list[Path]:
    """Temp files left by dead writers. Ages come from this machine's clock, which may be
    hours off another host's (or this host's, changed meanwhile), so age alone never makes a
    live writer's file stale:

    - this host's, pid alive: never stale (a live process may be mid-write, however long);
    - this host's, pid dead: stale after TMP_DEAD_MIN_AGE_S;
    - another host's: stale only when older than a day (TMP_FOREIGN_MIN_AGE_S, far beyond any
      clock skew) and no live pin of that process is in pins/ (a long run pins as it writes);
    - older names without a host ("<pid>-<rand>"): as this host's when the pid is alive,
      else after TMP_DEAD_MIN_AGE_S.
    """
    now = time.time()
    out: list[Path] = []
    store, name = os.path.split(os.fspath(tmp_dir))
    try:
        it = os.scandir(own_dir(store, name))  # tmt's own folder: a link there is never listed
    except FileNotFoundError:
        return out
    pinned: set[tuple[str, int]] | None = None
    with it:
        for entry in it:
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            host, pid = tmp_owner(entry.name)
            if host is not None and host != host_label():
                # Another host's writer (a long save, a slow first snapshot over NFS): its
                # pid means nothing here; only a long age and no live pin make it stale.
                if age <= max(grace_s, TMP_FOREIGN_MIN_AGE_S):
                    continue
                if pinned is None:
                    pinned = live_pin_owners(store)
                stale = (host, pid) not in pinned
            elif pid is not None and pid_alive(pid):
                stale = False
            else:
                stale = age > TMP_DEAD_MIN_AGE_S
            if stale:
                out.append(Path(entry.path))
    return out


def remove_stale_tmp(tmp_dir: Path, grace_s: float) -> int:
    n = 0
    for p in stale_tmp_files(tmp_dir, grace_s):
        try:
            # lstat, not is_dir(): a link in tmp/ is removed as a link, never followed
            if statmod.S_ISDIR(os.lstat(p).st_mode):
                shutil.rmtree(p)  # never follows links inside (it works from folder descriptors)
            else:
                p.unlink()
            n += 1
        except FileNotFoundError:
            continue
        except OSError:
            continue
    return n


# -- journals ---------------------------------------------------------------------------------


def stale_journals(repo, grace_s: float) -> list[Path]:
    """journal/<id>.log files no reader needs: their record is gone (deleted while the run
    was live, or by hand), or is final with its series packed (the run died between writing
    its final record and deleting the journal), or is final and the journal empty. A
    running or crashed run's journal is its only copy of the step metrics: kept. A `tmt run`
    channel (<id>.attach) goes by the same rules, and with any final record.

    A journal is created only after its run's record is written, so a journal listed here
    whose record is missing now had its record deleted, never "not yet written".
    """
    now = time.time()
    out: list[Path] = []
    try:
        it = os.scandir(own_dir(repo.tmt_dir, JOURNAL_DIRNAME))  # never listed through a link
    except (FileNotFoundError, NotADirectoryError, UnsafePath):  # a link: fsck's unsafe_path
        return out
    with it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        # <id>.attach: the channel of a `tmt run` (tmt/recorder/attach.py), kept and dropped
        # by the same rules as its journal
        suffix = next((s for s in (JOURNAL_SUFFIX, ".attach") if entry.name.endswith(s)), None)
        run_id = entry.name[: -len(suffix)] if suffix else ""
        if not is_run_id(run_id):
            continue  # not ours: fsck reports it
        try:
            rec = read_record(record_path(repo.experiments_dir, run_id))
        except RecordError:
            if record_path(repo.experiments_dir, run_id).exists():
                continue  # unreadable, not absent: its journal may be all that is left
            try:
                # a live run whose record was deleted (tmt rm --force) still appends: wait a grace
                if now - entry.stat(follow_symlinks=False).st_mtime < grace_s:
                    continue
            except FileNotFoundError:
                continue
            out.append(Path(entry.path))
            continue
        if rec.status != "running" and (rec.series or suffix != JOURNAL_SUFFIX or _empty(entry)):
            out.append(Path(entry.path))
    return out


def _empty(entry: os.DirEntry) -> bool:
    try:
        return entry.stat(follow_symlinks=False).st_size == 0
    except OSError:
        return False


def remove_stale_journals(repo, grace_s: float) -> int:
    n = 0
    for p in stale_journals(repo, grace_s):
        try:
            p.unlink()
            n += 1
        except OSError:
            continue
    return n
