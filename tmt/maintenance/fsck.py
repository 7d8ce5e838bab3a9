"""fsck: re-hash every object, decode every tree, parse every record, follow every reference.

Problems are named one by one (kind, object or run id, path, message). Kinds:

  corrupt_object   an object whose bytes do not hash to its id (or cannot be read)   error
  missing_object   an id a record (or a tree it reaches) references, absent           error
  bad_tree         a referenced tree that does not decode, or an entry of the wrong size error
  bad_record       a record file that does not parse, or references a non-id       error
  leftover_trash   a crashed gc's trash folder (its objects look missing)            error
  unsafe_path      a link or special file where tmt keeps its own folder or file      error
  bad_cache        a stat cache that is damaged or disagrees with the store           error
  bad_config       the store's own settings aim outside the project (code_root)       error
  dangling_object  an object nothing references (gc removes it)                      info
  stale_journal    a step-metric journal whose run is deleted or packed (gc removes it) info
  stray_file       a file under objects/ or experiments/ that is not ours            info

`repair=True` restores a crashed gc's trash, moves unsafe paths and corrupt objects to
.tmt/quarantine/ (renamed, never followed), deletes disagreeing stat caches,
restores missing blobs from files with the same BLAKE3 (code root, .tmt/cache/checkouts/,
extra `search` folders), restores missing trees by snapshotting the code root, rebuilds the
query index, then checks again and says what it could not repair.
"""
from __future__ import annotations

import os
import stat as statmod
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from blake3 import blake3

from tmt.maintenance.gc import restore_trash, stale_journals
from tmt.maintenance.lock import LOCK_NAME, GcLock, is_held, os_error
from tmt.maintenance.reach import (
    TREE_MAGIC, Marker, RecordCache, TreeProblem, looks_like_tree, record_roots, store_reader,
)
from tmt.records.io import RECORD_SUFFIX, record_path
from tmt.records.model import is_run_id
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.errors import CorruptObject, InvalidTree, ObjectNotFound, StoreError, TreeTooLarge, UnsafePath, UsageError
from tmt.snapshot import statcache
from tmt.store import nofollow
from tmt.store.ids import ObjectId, hash_bytes
from tmt.store.objects import quarantine_path
from tmt.store.pins import live_pins

ERROR, INFO = "error", "info"
SEVERITY = {
    "corrupt_object": ERROR,
    "missing_object": ERROR,
    "bad_tree": ERROR,
    "bad_record": ERROR,
    "leftover_trash": ERROR,
    "unsafe_path": ERROR,
    "bad_cache": ERROR,
    "bad_config": ERROR,
    "dangling_object": INFO,
    "stale_journal": INFO,
    "stray_file": INFO,
    "not_fetched": INFO,  # a lazy clone's missing object: its remote has it (tmt clone --lazy)
}
_CHUNK = 1 << 20
_TREE_KEEP_MAX = 1 << 20  # tree-like objects up to this size are kept in memory for the walk

Progress = Callable[[str, int, int], None]


@dataclass(slots=True)
class Problem:
    kind: str
    message: str
    id: str | None = None  # object id, or run id for records
    path: str | None = None  # file path, or "record <id>: path/in/tree" for a reference
    repaired: bool = False
    repair: str | None = None  # what was done, or why it could not be repaired
    size: int | None = None  # bytes of the object, where known

    @property
    def severity(self) -> str:
        return SEVERITY.get(self.kind, ERROR)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity
        return d


@dataclass(slots=True)
class FsckResult:
    problems: list[Problem] = field(default_factory=list)
    objects_checked: int = 0
    bytes_checked: int = 0
    trees_checked: int = 0
    records_checked: int = 0
    repair: bool = False
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def remaining(self) -> list[Problem]:
        """Real problems not repaired: what makes `tmt fsck` exit 1."""
        return [p for p in self.problems if p.severity == ERROR and not p.repaired]

    @property
    def ok(self) -> bool:
        return not self.remaining

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def by_kind(self, kind: str) -> list[Problem]:
        return [p for p in self.problems if p.kind == kind]

    def to_dict(self) -> dict:
        counts: dict[str, int] = {}
        for p in self.problems:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        return {
            "ok": self.ok,
            "repair": self.repair,
            "objects_checked": self.objects_checked,
            "bytes_checked": self.bytes_checked,
            "trees_checked": self.trees_checked,
            "records_checked": self.records_checked,
            "counts": counts,
            "remaining": len(self.remaining),
            "problems": [p.to_dict() for p in self.problems],
            "notes": list(self.notes),
            "duration_s": round(self.duration_s, 3),
        }


def fsck(
    repo=None,
    *,
    repair: bool = False,
    progress: Progress | None = None,
    threads: int | None = None,
    search: Iterable[str | os.PathLike[str]] = (),
) -> FsckResult:
    """Check the whole store; with `repair`, fix what can be fixed (see the module docstring)."""
    repo = Repo.resolve(repo)
    t0 = time.monotonic()
    threads = threads or max(2, min(8, os.cpu_count() or 1))
    try:
        if not repair:
            result = _Check(repo, progress, threads).run()
        else:
            moved = _unplant_lock(Path(repo.tmt_dir))
            with GcLock(repo.tmt_dir, purpose="fsck --repair"):
                result = _repair(repo, progress, threads, [Path(s) for s in search], moved)
    except OSError as e:  # a read-only or foreign-owned store, a full disk
        raise os_error("fsck --repair" if repair else "fsck", e) from e
    result.duration_s = time.monotonic() - t0
    return result


def code_root(repo) -> Path | None:
    """The code root, or None when the store's settings aim it outside the project (fsck
    reports that as bad_config, and repairs from the other places)."""
    try:
        return repo.root
    except UsageError:
        return None


def _unplant_lock(tmt_dir: Path) -> list[Problem]:
    """A link or special file at gc.lock would stop the repair from taking the lock: move it
    to quarantine first. No gc can hold such a lock (every gc refuses to open one)."""
    path = tmt_dir / LOCK_NAME
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return []
    if statmod.S_ISREG(mode):
        return []
    p = Problem("unsafe_path", nofollow.unsafe(path, mode, "file").message, path=str(path))
    p.repair, p.repaired = f"moved to {quarantine_path(tmt_dir, path)}", True
    return [p]


# -- checking ---------------------------------------------------------------------------------


class _Check:
    def __init__(self, repo, progress: Progress | None, threads: int) -> None:
        self.repo = repo
        self.store = repo.store
        self.tmt_dir = Path(repo.tmt_dir)
        self.progress = progress or (lambda phase, done, total: None)
        self.threads = threads
        self.r = FsckResult()
        self.sizes: dict[str, int] = {}  # every object on disk -> size
        self.corrupt: dict[str, str] = {}  # id -> reason
        self.expected_size: dict[str, int] = {}  # blob id -> size a tree or artifact says
        self.tree_bytes: dict[str, bytes] = {}  # verified objects that start like a tree
        self.size_claims: list[tuple[str, list[treemod.TreeEntry]]] = []  # checked after hashing
        self.shapes: dict[str, tuple[int, int, list[ObjectId]]] = {}  # tree -> treemod.shape, for bounds

    def run(self) -> FsckResult:
        for path, message in nofollow.layout_problems(self.tmt_dir):
            self.add("unsafe_path", message, path=path)
        try:
            self.repo.root
        except UsageError as e:  # code_root aims outside the project: everything else is still checked
            self.add("bad_config", f"{e.message}; {e.hint}", path=str(self.repo.tmt_dir / "config.toml"))
        self._trash()
        # Records before objects: a record is published only after its objects, so every
        # object a record we read references was already there when we list objects.
        records = self._records()
        for journal in stale_journals(self.repo, grace_s=0):
            self.add("stale_journal", f"{journal} is not needed: its run is deleted or its series are packed; "
                     "`tmt gc` removes it", path=str(journal))
        # Hash everything first (threads), keeping the verified bytes of tree-like objects,
        # then walk the trees from memory. Measured against walking from disk while the
        # pool hashes: the overlap lost more to GIL hand-offs than it won on 2 cores.
        with ThreadPoolExecutor(self.threads) as pool:
            self._collect(self._start_hashing(pool))
        marker = self._walk_records(records)
        self._report(marker)
        self._bounds(records)
        self._caches()
        self._confirm_missing()
        return self.r

    def add(self, kind: str, message: str, id: str | None = None, path: str | None = None) -> None:
        if kind == "missing_object" and self.store.lazy:
            kind, message = "not_fetched", message.replace(
                " is missing", " is not fetched yet (this lazy clone fetches it from its remote when needed)")
        self.r.problems.append(Problem(kind, message, id, path))

    def _trash(self) -> None:
        dirs = self.store.asides()
        if dirs and is_held(self.tmt_dir):
            self.r.notes.append(
                "a gc is running: objects it has moved aside for a moment may be reported missing; "
                "run fsck again when it has finished"
            )
        elif dirs:
            for d in dirs:
                n = sum(1 for _ in d.scan())
                self.add(
                    "leftover_trash",
                    f"{d.name} holds {n} object(s) moved aside by a gc that did not finish; "
                    "`tmt gc` or `tmt fsck --repair` moves them back",
                    path=str(self.tmt_dir / d.name),
                )

    def _records(self) -> list:
        """Parse every record (the same reading as gc's), then name the strays beside them."""
        exp = self.repo.experiments_dir
        try:
            good, bad = RecordCache(exp).load()  # records deleted since the listing are skipped
        except UnsafePath:
            return []  # experiments/ is a link: reported as unsafe_path, never read through
        self.r.records_checked = len(good) + len(bad)
        for path, reason in sorted(bad):
            self.add("bad_record", f"record {path} is corrupt: {reason}", path.name[: -len(RECORD_SUFFIX)], str(path))
        records = []
        for rec in sorted(good, key=lambda r: r.id):
            path = record_path(exp, rec.id)
            roots = record_roots(rec)
            for ref in roots.bad_refs:
                self.add("bad_record", f"record {path} references {ref}, which is not an object id", rec.id, str(path))
            records.append((rec, roots))
        try:
            names = sorted(os.listdir(exp))
        except FileNotFoundError:
            names = []
        for name in names:
            if not (name.endswith(RECORD_SUFFIX) and is_run_id(name[: -len(RECORD_SUFFIX)])) and not name.startswith("."):
                path = exp / name
                self.add("stray_file", f"{path} is not a record (name is not <run id>.json)", path=str(path))
        return records

    def _start_hashing(self, pool: ThreadPoolExecutor):
        """Submit the re-hash of every object, one group of shards (fan-out folders) per task.

        BLAKE3 and file reads release the GIL, so threads overlap the real work; listing
        inside the tasks (no separate stat pass) keeps the Python overhead per object small.
        """
        for path, what in self.store.strays():
            self.add("stray_file", f"{path} is not {what}", path=path)
        todo = self.store.shards()
        # About 8 tasks per thread: few enough that per-task cost vanishes, enough to balance.
        per = max(1, len(todo) // (self.threads * 8))
        groups = [todo[i : i + per] for i in range(0, len(todo), per)]
        self.progress("hash", 0, len(todo))
        return len(todo), [pool.submit(_hash_shards, self.store, g) for g in groups]

    def _collect(self, pending) -> None:
        total, futures = pending
        nbytes = done = 0
        for fut in futures:
            results = fut.result()
            for sizes, bad, stray, n, trees in results:
                self.tree_bytes.update(trees)
                self.sizes.update(sizes)
                self.corrupt.update(bad)
                nbytes += n
                for path in stray:
                    self.add("stray_file", f"{path} is not an object", path=path)
            done += len(results)
            self.progress("hash", done, total)
        self.r.objects_checked = len(self.sizes)
        self.r.bytes_checked = nbytes
        for oid, reason in sorted(self.corrupt.items()):
            self.add("corrupt_object", f"object {oid} is corrupt: {reason}", oid, self._where(oid))

    def _where(self, oid: str) -> str:
        """An object's place for messages: its file, or its id where the store has no files."""
        return self.store.local_path(ObjectId(oid)) or oid

    def _read(self, oid: ObjectId) -> bytes:
        data = self.tree_bytes.get(oid)
        if data is not None:
            return data  # verified while hashing
        try:
            # fsck checks what is here: a lazy clone's missing tree is not fetched (not_fetched)
            data = self.store.get(oid, limit=treemod.MAX_TREE_BYTES, fetch=False)
        except ObjectNotFound:
            raise TreeProblem("missing", "missing from the store") from None
        except CorruptObject as e:
            raise TreeProblem("corrupt", e.reason) from None
        except StoreError as e:
            raise TreeProblem("corrupt", e.message) from None
        if hash_bytes(data) != oid:  # reported as corrupt_object by the hashing side
            raise TreeProblem("corrupt", "its content does not match its id")
        return data

    def _on_tree(self, oid: ObjectId, entries: list[treemod.TreeEntry]) -> None:
        self.r.trees_checked += 1
        self.shapes[oid] = treemod.shape(entries)
        files = [e for e in entries if e.kind in (treemod.FILE, treemod.EXEC)]
        for e in files:
            self.expected_size.setdefault(e.oid, e.size)
        if files:
            self.size_claims.append((oid, files))

    def _walk_records(self, records: list) -> Marker:
        marker = Marker(read=self._read, threads=1, track=True, on_tree=self._on_tree)
        for rec, roots in records:
            label = f"record {rec.id}"
            marker.add_blobs((oid, f"{label} {what}") for oid, what in roots.blobs)
            for a in rec.artifacts:
                if isinstance(a.get("size"), int) and a.get("object"):
                    self.expected_size.setdefault(a["object"], a["size"])
            marker.add_trees((t, f"{label} code") for t in roots.trees)
        return marker

    def _report(self, marker: Marker) -> None:
        self._report_sizes()
        record_problems = dict(marker.problems)  # before the pins add theirs
        self._mark_pins(marker)
        self._report_unreached(marker, record_problems)
        self._report_dangling(marker)
        self.marker = marker

    def _report_sizes(self) -> None:
        """A tree entry whose size disagrees with its object's (a corrupt object is judged
        by its hash instead)."""
        for tree, files in self.size_claims:
            for e in files:
                actual = self.sizes.get(e.oid)
                if actual is not None and actual != e.size and e.oid not in self.corrupt:
                    self.add(
                        "bad_tree",
                        f"tree {tree} says {e.name.decode('utf-8', 'replace')} has {e.size} bytes, "
                        f"but its object {e.oid} has {actual}",
                        tree, self._where(tree),
                    )

    def _mark_pins(self, marker: Marker) -> None:
        """Live runs' pins are roots too: their objects are not dangling, though they may not
        all exist yet (a run writes after pinning), so nothing reached only by a pin is missing."""
        for o in live_pins(self.tmt_dir):
            if o in self.sizes and looks_like_tree(self.store, o):
                marker.add_trees([(o, "live pin")])
            else:
                marker.add_blobs([(o, "live pin")])

    def _report_unreached(self, marker: Marker, record_problems: dict) -> None:
        """What the records need and cannot be read: missing or undecodable trees, missing
        objects; a corrupt object some record needs says by whom."""
        for oid, (kind, reason) in sorted(record_problems.items()):
            ref = marker.describe(oid)
            if kind == "missing":
                self.add("missing_object", f"tree {oid} ({ref}) is missing", oid, ref)
            elif kind == "bad_tree":
                self.add("bad_tree", f"tree {oid} ({ref}) does not decode: {reason}", oid, ref)
            # corrupt trees are reported once, as corrupt_object
        for oid in sorted(marker.marked):
            if oid in self.sizes or oid in record_problems:
                continue
            if marker.via.get(oid, ("?",))[0] == "live pin":
                continue
            ref = marker.describe(oid)
            self.add("missing_object", f"object {oid} ({ref}) is missing", oid, ref)
        for p in self.r.problems:
            if p.kind == "corrupt_object" and p.id in marker.via:
                p.message += f" (needed by {marker.describe(p.id)})"

    def _report_dangling(self, marker: Marker) -> None:
        for oid in sorted(set(self.sizes) - marker.marked):
            if oid not in self.corrupt:
                self.r.problems.append(Problem(
                    "dangling_object", f"object {oid} is not referenced by any run ({self.sizes[oid]} bytes)",
                    oid, self._where(oid), size=self.sizes[oid],
                ))

    def _bounds(self, records: list) -> None:
        """A record's tree that expands past the bounds (a tree bomb) is a bad_tree: checkout
        and diff refuse it. Computed from the trees already decoded, each visited once."""
        bounds = self.repo.tree_bounds
        memo: dict = {}

        def shape_of(oid: str):
            return self.shapes.get(oid, (0, 0, []))  # a missing or bad subtree adds nothing here

        seen: set[str] = set()
        for rec, roots in records:
            for tree in roots.trees:
                if tree in seen or tree not in self.shapes:
                    continue
                seen.add(tree)
                try:
                    bounds.expansion(shape_of, tree, memo)
                except TreeTooLarge as e:
                    self.add("bad_tree", f"tree {tree} (record {rec.id} code) expands to {e.over}: "
                             "checkout and diff refuse it", tree, f"record {rec.id} code")
                except InvalidTree:
                    pass  # too deep: the walk reported it

    def _caches(self) -> None:
        """Stat caches that are damaged or name objects the store does not have (as they
        claim): a snapshot drops such entries, and `--repair` deletes the file."""
        try:
            folder = Path(nofollow.own_dir(self.tmt_dir, "cache"))
        except (OSError, UnsafePath):
            return

        def size_of(oid: str) -> int | None:
            # Writers add objects (and caches naming them) after we listed the objects: ask
            # the store again. A corrupt object's size is not judged (it is reported already).
            if oid in self.corrupt:
                return -1
            size = self.sizes.get(oid)
            if size is not None:
                return size
            try:
                return self.store.stat(oid, fetch=False).st_size
            except (ObjectNotFound, CorruptObject, UnsafePath):
                return None

        for path in statcache.cache_files(folder):
            epoch = self.store.epoch()
            reason = statcache.disagreement(path, size_of, epoch)
            if reason and self.store.epoch() != epoch:  # a gc ran meanwhile: absence means nothing
                reason = statcache.disagreement(path, size_of, None)
            if reason:
                self.add("bad_cache", f"stat cache {path} {reason}; it only saves time: "
                         "`tmt fsck --repair` deletes it", path=str(path))

    def _confirm_missing(self) -> None:
        """Drop missing objects that were not lost: beside live writers and gc, a record read
        at the start may have been deleted since (`tmt rm`, then a gc took its objects), or a
        gc may have had the object in its trash for a moment. What is still referenced by
        the records as they are now, and still absent, is reported."""
        missing = [p for p in self.r.problems if p.kind == "missing_object"]
        if not missing:
            return
        busy = is_held(self.tmt_dir)  # a running gc's trash is a moment's stay; a crashed one's is not
        gone = {p.id for p in missing
                if p.id and not self.store.has(ObjectId(p.id)) and not (busy and _in_trash(self.store, p.id))}
        if gone:
            try:
                now, _ = RecordCache(self.repo.experiments_dir).load()
            except UnsafePath:
                now = []
            again = Marker(read=store_reader(self.store), threads=1)
            for rec in now:
                roots = record_roots(rec)
                again.add_blobs(roots.blobs)
                again.add_trees((t, "record") for t in roots.trees)
            pinned = live_pins(self.tmt_dir)
            gone = {o for o in gone if o in again.marked and o not in pinned}
        self.r.problems = [p for p in self.r.problems if p.kind != "missing_object" or p.id in gone]


def _in_trash(store, oid: str) -> bool:
    return any(d.has(oid) for d in store.asides())


def _real_dir(path: str) -> bool:
    try:
        return statmod.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _hash_shards(store, shards: list[str]) -> list:
    return [_hash_shard(store, shard) for shard in shards]


def _hash_shard(store, shard: str):
    """(sizes, corrupt, stray paths, bytes read, tree-like bytes) of one shard, read back
    by the store."""
    sizes: dict[str, int] = {}
    bad: list[tuple[str, str]] = []
    stray: list[str] = []
    trees: dict[str, bytes] = {}
    nbytes = 0
    for oid, size, digest, data, problem in store.verify(shard, keep=_TREE_KEEP_MAX):
        if oid is None:
            stray.append(problem)
            continue
        sizes[oid] = size
        if problem is not None:
            bad.append((oid, problem))
            continue
        if digest != oid:
            bad.append((oid, f"its content hashes to {digest}"))
        elif data is not None and data[:2] == TREE_MAGIC:
            trees[oid] = data
        nbytes += size
    return sizes, bad, stray, nbytes, trees


# -- repairing --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Wanted:
    """The objects the first pass found missing or corrupt that some record reaches: what the
    repair tries to bring back."""

    needed: set[str]
    sizes: dict[str, int]  # the blobs among them whose size a tree or an artifact states
    trees: set[str]  # the trees among them
    found: set[str] = field(default_factory=set)  # stored again from a file with the same hash

    def why_not(self, oid: str) -> str:
        if oid in self.trees:
            return "no directory of the code root has this content now; restore it from a backup"
        if oid not in self.sizes:
            return "its size is unknown (series or unsized reference), so no file could be matched"
        return f"no file of {self.sizes[oid]} bytes with this hash was found; pass --search DIR to look elsewhere"


def _repair(repo: Repo, progress: Progress | None, threads: int, search: list[Path], moved: list[Problem]) -> FsckResult:
    """Repair in phases, each on what the first check found, then check again: what the second
    check no longer shows was repaired."""
    # Links and special files where tmt keeps its own folders and files go first, so nothing
    # below writes through one.
    unsafe = moved + _quarantine_unsafe(Path(repo.tmt_dir))
    trash, restored_from_trash = _restore_trash(repo)
    first = _Check(repo, progress, threads)
    first.run()
    problems = unsafe + trash + first.r.problems
    _quarantine_corrupt(repo, problems)
    _delete_bad_caches(problems)
    wanted = _wanted(first, problems)
    wanted.found = _restore_from_files(repo, wanted.sizes, _search_roots(repo, search), progress)
    _snapshot_code_root(repo, wanted.trees - wanted.found)
    index_note = _rebuild_index(repo)
    second = _Check(repo, None, threads)
    second.run()
    _judge(problems, second.r.problems, wanted)
    r = second.r
    r.problems = _merge(problems, second.r.problems)
    r.repair = True
    if index_note:
        r.notes.append(index_note)
    if restored_from_trash:
        r.notes.append(f"moved {restored_from_trash} object(s) back from a crashed gc's trash")
    return r


def _quarantine_unsafe(tmt_dir: Path) -> list[Problem]:
    """Move each link or special file in tmt's layout to quarantine (the link itself, renamed:
    never followed)."""
    unsafe = [Problem("unsafe_path", message, path=path) for path, message in nofollow.layout_problems(tmt_dir)]
    for p in unsafe:
        try:
            p.repair = f"moved to {quarantine_path(tmt_dir, Path(str(p.path)))}"
            p.repaired = True
        except OSError as e:
            p.repair = f"could not be moved aside: {e.strerror}; move it away by hand"
    return unsafe


def _restore_trash(repo: Repo) -> tuple[list[Problem], int]:
    """Put a crashed gc's trash back (listed first, as it was found), before the first check."""
    tmt_dir = Path(repo.tmt_dir)
    trash = [Problem("leftover_trash", f"{d.name}: objects moved aside by a gc that did not finish",
                     path=str(tmt_dir / d.name)) for d in repo.store.asides()]
    restored = restore_trash(repo.store)
    for p in trash:
        p.repaired, p.repair = True, f"moved {restored} object(s) back into objects/"
    return trash, restored


def _quarantine_corrupt(repo: Repo, problems: list[Problem]) -> None:
    """Corrupt objects go to quarantine (never deleted: they may be someone's only copy).
    Snapshots must then stop trusting their caches' "this object exists": bump the epoch."""
    moved = 0
    for p in problems:
        if p.kind == "corrupt_object" and p.id:
            try:
                p.repair = f"moved to {repo.store.quarantine(ObjectId(p.id))}"
                moved += 1
            except ObjectNotFound:
                pass
    if moved:
        repo.store.bump_epoch()


def _delete_bad_caches(problems: list[Problem]) -> None:
    """A stat cache is derived data: deleting one costs one full re-hash."""
    for p in problems:
        if p.kind == "bad_cache" and p.path:
            try:
                os.unlink(p.path)
                p.repaired, p.repair = True, "deleted (the next snapshot rebuilds it)"
            except FileNotFoundError:
                p.repaired, p.repair = True, "already gone"
            except OSError as e:
                p.repair = f"could not be deleted: {e.strerror}"


def _wanted(first: _Check, problems: list[Problem]) -> _Wanted:
    absent = {p.id for p in problems if p.kind in ("missing_object", "corrupt_object") and p.id}
    needed = {o for o in absent if o in first.marker.marked}
    return _Wanted(
        needed=needed,
        sizes={o: first.expected_size[o] for o in needed if o in first.expected_size},
        trees={o for o in needed if o in first.marker.expected_tree},
    )


def _search_roots(repo: Repo, search: list[Path]) -> list[Path]:
    """Where files with a wanted blob's bytes may be: the code root, checkout views, `search`."""
    views = Path(repo.tmt_dir) / "cache" / "checkouts"
    root = code_root(repo)
    return [*([root] if root else []), *([views] if _real_dir(str(views)) else []), *search]


def _snapshot_code_root(repo: Repo, trees: set[str]) -> None:
    """A snapshot of the code root rewrites every tree it contains, the wanted ones with them."""
    if not trees:
        return
    try:
        from tmt.snapshot.build import snapshot_repo
        from tmt.store.pins import PinFile

        with PinFile(repo.tmt_dir) as pin:
            pin.add(trees)
            snapshot_repo(repo, pin=pin, warn=lambda msg: None)
    except Exception:  # noqa: BLE001 - a failed snapshot only means fewer repairs
        pass


def _judge(problems: list[Problem], after: list[Problem], wanted: _Wanted) -> None:
    """Mark each problem of the first check repaired or not, from what the second check found."""
    still = {(p.kind, p.id, p.path) for p in after}
    absent = {p.id for p in after if p.kind in ("missing_object", "corrupt_object")}
    for p in problems:
        if p.kind == "corrupt_object":
            _judge_corrupt(p, absent, wanted)
        elif p.kind == "missing_object":
            p.repaired = p.id not in absent
            if not p.repaired:
                p.repair = wanted.why_not(str(p.id))
            elif p.id in wanted.found:
                p.repair = "restored from a file with the same hash"
            else:
                p.repair = "restored from a snapshot of the code root"
        elif p.kind in ("bad_record", "bad_tree"):
            p.repaired = (p.kind, p.id, p.path) not in still
            if not p.repaired:
                p.repair = "cannot be repaired automatically: " + (
                    "fix the file or delete it (the run is lost either way)" if p.kind == "bad_record"
                    else "restore the tree from a backup"
                )


def _judge_corrupt(p: Problem, absent: set[str | None], wanted: _Wanted) -> None:
    if p.id not in wanted.needed:
        p.repaired = p.repair is not None  # quarantined; nothing references it
        return
    p.repaired = p.id not in absent
    p.repair = (p.repair or "") + ("; a good copy was restored" if p.repaired else "; " + wanted.why_not(str(p.id)))


def _merge(problems: list[Problem], after: list[Problem]) -> list[Problem]:
    """The first check's errors, then the second check's informational items (dangling, stray:
    as they are now) and the errors it found that the first did not (e.g. children of a tree
    just restored)."""
    merged = [p for p in problems if p.severity == ERROR]
    known = {(p.kind, p.id, p.path) for p in merged}
    known_ids = {p.id for p in merged if p.kind in ("missing_object", "corrupt_object")}
    for p in after:
        if p.severity != ERROR or ((p.kind, p.id, p.path) not in known and p.id not in known_ids):
            merged.append(p)
    return merged


def _restore_from_files(repo: Repo, want: dict[str, int], roots: list[Path], progress: Progress | None) -> set[str]:
    """Store every file under `roots` whose size and BLAKE3 match a wanted blob."""
    found: set[str] = set()
    sizes = set(want.values())
    for path in _files_under(roots, os.path.realpath(repo.tmt_dir)) if want else ():
        try:
            oid = _store_if_wanted(repo, path, want, sizes, found)
        except OSError:
            continue
        if oid is not None:
            found.add(oid)
            if len(found) == len(want):
                break
    return found


def _files_under(roots: list[Path], tmt_dir: str) -> Iterator[str]:
    """Every file name under `roots`, links not followed, leaving out the store and the top
    level's .git and .tmt."""
    skip = {".git", ".tmt"}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            if os.path.realpath(dirpath) == tmt_dir:
                dirnames[:] = []
                continue
            if Path(dirpath) == root:
                dirnames[:] = [d for d in dirnames if d not in skip]
            for name in filenames:
                yield os.path.join(dirpath, name)


def _store_if_wanted(repo: Repo, path: str, want: dict[str, int], sizes: set[int], found: set[str]) -> str | None:
    """Store the file (or the link's target text) at `path` if it is a wanted blob not found
    yet; its id, or None."""
    st = os.lstat(path)
    if statmod.S_ISLNK(st.st_mode):
        target = os.readlink(os.fsencode(path))
        if len(target) not in sizes:
            return None
        oid = blake3(target).hexdigest()
        if oid not in want or oid in found:
            return None
        repo.store.put(target, ObjectId(oid))
        return oid
    if not statmod.S_ISREG(st.st_mode) or st.st_size not in sizes:
        return None  # a FIFO or device is never opened (it could block forever)
    h = blake3()
    with nofollow.open_file(path) as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    oid = h.hexdigest()
    if oid not in want or oid in found:
        return None
    got, _ = repo.store.put_file(path)
    return oid if got == oid else None  # the file may have changed since we hashed it


def _rebuild_index(repo) -> str:
    from tmt.query.index import rebuild_index

    try:
        rebuild_index(repo)
    except Exception as e:  # noqa: BLE001 - derived data; say so and move on
        return f"could not rebuild the query index: {e}"
    return "rebuilt the query index from the records"
