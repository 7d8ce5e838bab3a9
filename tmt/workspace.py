"""The code root as a working tree: compare runs with it, restore a run's code into it.

The API twins of `tmt diff` and `tmt checkout`:

    tmt.diff("last~1", "last")      # RunDiff: changed files (+ text diffs), params, metrics
    tmt.diff("last")                # the run against the working tree
    tmt.checkout("last~1")          # restore in place (backup first), CheckoutResult
    tmt.checkout("last~1", "out")   # read-only hard-linked copy in out/

In-place checkout never loses work. In this order it
1. resolves the run and snapshots the working tree (no record yet);
2. plans: diff(working-tree snapshot -> run tree); refuses, before touching anything, when a
   file *not* in the snapshot (ignored, too large, unreadable) is in the way of a file of
   the run, or a run is recording from this code root (its lazy imports would see the new
   code) — `force=True` overrides both;
3. records the snapshot as a run named `checkout-backup` (tag `backup`), or reuses the latest
   backup of that very tree, so `tmt checkout <backup id>` returns to the working tree;
4. deletes the files the snapshot tracked and the run does not (and folders left empty by
   those deletions), then writes the run's changed and added files as real copies
   (reflinks where the file system has them). Unchanged files are not rewritten; ignored
   files are never touched.
"""
from __future__ import annotations

import errno
import os
import stat as statmod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tmt.errors import CheckoutError, RecordError, TmtError
from tmt.records.model import Record, code_tree, effective_status, flatten, new_run_id
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.snapshot.diff import ADDED, REMOVED, Change, FileDiff, detect_renames, diff_trees, file_diff
from tmt.store.ids import ObjectId
from tmt.store.pins import PinFile

BACKUP_NAME = "checkout-backup"
BACKUP_TAG = "backup"


# -- resolving runs -------------------------------------------------------------------------


def _resolve(ref: Any, repo: Repo) -> Record:
    """A Record for a ref string, a Run (query module) or a Record."""
    if isinstance(ref, Record):
        return ref
    if isinstance(ref, str):
        from tmt.query import get

        ref = get(ref, repo=repo)
    record = getattr(ref, "record", None)
    if isinstance(record, Record):
        return record
    raise TypeError(f"expected a run ref, Run or Record, got {type(ref).__name__}")


def _code_tree(record: Record) -> ObjectId:
    return ObjectId(code_tree(record))  # type: ignore[arg-type]


def _label(record: Record) -> str:
    return f"{record.id[:8]} ({record.name})"


# -- diff -----------------------------------------------------------------------------------


@dataclass(slots=True)
class RunDiff:
    """Two runs compared (or a run and the working tree: `b` is None, `b_tree` its snapshot)."""

    repo: Repo
    a: Record
    b: Record | None
    a_tree: ObjectId | None
    b_tree: ObjectId | None
    changes: list[Change]
    params: list[tuple[str, Any, Any]] = field(default_factory=list)  # (key, a, b), union, sorted
    metrics: list[tuple[str, Any, Any]] = field(default_factory=list)
    packages: list[tuple[str, Any, Any]] = field(default_factory=list)  # only those that differ

    def file_diffs(self, context: int = 3, *, binary_patch: bool = False) -> Iterator[FileDiff]:
        for change in self.changes:
            yield file_diff(self.repo.store, change, context=context, binary_patch=binary_patch)


def diff(a: Any, b: Any = None, *, repo: Repo | None = None, progress=None) -> RunDiff:
    """Compare run `a` with run `b`, or with the working tree when `b` is None
    (`progress(phase, done, total)` follows that snapshot, as in snapshot_repo)."""
    repo = repo or Repo.find()
    ra = _resolve(a, repo)
    a_tree = code_tree(ra, required=False)
    if b is None:
        from tmt.snapshot.build import snapshot_repo

        rb = None
        b_tree = snapshot_repo(repo, progress=progress).tree
    else:
        rb = _resolve(b, repo)
        b_tree = code_tree(rb, required=False)
    changes = detect_renames(repo.store, diff_trees(repo.store, a_tree, b_tree))  # type: ignore[arg-type]
    out = RunDiff(repo, ra, rb, a_tree, b_tree, changes)  # type: ignore[arg-type]
    if rb is not None:
        out.params = _side_by_side(flatten(ra.params), flatten(rb.params))
        out.metrics = _side_by_side(ra.metrics, rb.metrics)
        pa, pb = _packages(ra), _packages(rb)
        if pa is not None and pb is not None:  # a run that recorded none (crashed, older) says nothing
            out.packages = [row for row in _side_by_side(pa, pb) if row[1] != row[2]]
    return out


def _packages(record: Record) -> dict[str, Any] | None:
    packages = (record.env or {}).get("packages")
    return packages if isinstance(packages, dict) else None


def _side_by_side(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    keys = sorted(a.keys() | b.keys())
    return [(k, a.get(k, None), b.get(k, None)) for k in keys]


# -- checkout -------------------------------------------------------------------------------


@dataclass(slots=True)
class CheckoutResult:
    run_id: str
    name: str
    tree: ObjectId
    target: Path
    backup_id: str | None = None  # the run holding the working tree as it was
    backup_reused: bool = False  # an earlier backup had the same tree
    unchanged: bool = False  # the working tree already held the run's code
    written: int = 0
    removed: int = 0
    removed_dirs: int = 0
    overwritten_untracked: list[str] = field(default_factory=list)  # with force=True


@dataclass(slots=True)
class RestorePlan:
    """What an in-place restore of `target` over a working tree snapshotted as `current` does."""

    current: ObjectId
    target: ObjectId
    changes: list[Change]
    in_the_way: list[str] = field(default_factory=list)  # untracked paths the run would overwrite
    blocking: list[str] = field(default_factory=list)  # folders where the run has a file: never forced

    @property
    def to_delete(self) -> list[Change]:
        return [c for c in self.changes if c.status == REMOVED]

    @property
    def to_write(self) -> list[Change]:
        return [c for c in self.changes if c.status != REMOVED]


def checkout(ref: Any, to: str | os.PathLike[str] | None = None, *, repo: Repo | None = None,
             force: bool = False, progress=None) -> CheckoutResult:
    """Restore run `ref`'s code: into the code root (see the module doc), or into `to`.

    `to` gets a read-only, hard-linked copy and must not exist or be empty; its `.tmt`
    pointer file makes runs started inside it record into this store.
    """
    repo = repo or Repo.find()
    record = _resolve(ref, repo)
    tree = _code_tree(record)
    if to is not None:
        from tmt.repo import write_pointer
        from tmt.snapshot.checkout import materialize

        stats = materialize(repo.store, tree, to)
        write_pointer(to, repo.tmt_dir)  # runs started in the view record into this store
        return CheckoutResult(record.id, record.name, tree, Path(to), written=stats.files)
    return _checkout_in_place(repo, record, tree, force=force, ref=ref if isinstance(ref, str) else record.id[:8],
                              progress=progress)


def _checkout_in_place(repo: Repo, record: Record, tree: ObjectId, *, force: bool, ref: str,
                       progress=None) -> CheckoutResult:
    from tmt.snapshot.build import snapshot_repo

    result = CheckoutResult(record.id, record.name, tree, repo.root)
    if not force:
        busy = running_here(repo)
        if busy:
            raise CheckoutError(
                f"run {_label(busy[0])} is recording from {repo.root}; changing its code now "
                "could change what it imports",
                "wait for it to finish, or pass --force",
            )
    pin = PinFile(repo.tmt_dir)
    try:
        # The target's objects are referenced by its record, but pin them anyway: a `tmt rm`
        # + `tmt gc` of that run while we copy must not pull blobs from under us.
        pin.add([tree])
        snap = snapshot_repo(repo, pin=pin, progress=progress)  # the backup's snapshot
        if snap.tree == tree:
            result.unchanged = True
            return result
        plan = plan_restore(repo, snap.tree, tree)
        if plan.blocking:
            raise CheckoutError(
                "these folders hold files that are not part of the working-tree snapshot, where "
                f"run {_label(record)} has a file:\n" + "\n".join(f"  {p}" for p in plan.blocking),
                "move them away and check out again",
            )
        if plan.in_the_way and not force:
            raise CheckoutError(
                f"checking out run {_label(record)} would overwrite files that are not part of the "
                "working-tree snapshot (ignored, too large or unreadable), so no backup could keep "
                "them:\n" + "\n".join(f"  {p}" for p in plan.in_the_way),
                "move them away, or pass --force to overwrite them",
            )
        backup, reused = save_backup(repo, snap, ref=ref)
        result.backup_id, result.backup_reused = backup.id, reused
        try:
            apply_restore(repo, plan, pin, result)
        except (TmtError, OSError) as e:
            msg = e.message if isinstance(e, TmtError) else str(e)
            raise CheckoutError(
                f"checkout stopped half-way: {msg}",
                f"your working tree was saved as run {backup.id[:8]}; return with: tmt checkout {backup.id[:8]}",
            ) from e
        result.overwritten_untracked = plan.in_the_way
        return result
    finally:
        pin.close()


def running_here(repo: Repo) -> list[Record]:
    """Live runs (status running, process alive) recording from this repository's code root."""
    roots = {repo.root_label, str(repo.root), None}
    out = []
    for rec in _running_records(repo):
        if effective_status(rec) != "running":
            continue
        if (rec.code or {}).get("root") in roots:
            out.append(rec)
    return out


def _running_records(repo: Repo) -> list[Record]:
    from tmt.query import runs

    records = []
    for run in runs(status="running", repo=repo):
        try:
            records.append(run.record)
        except RecordError:  # removed or damaged since the query: not recording
            pass
    return records


def plan_restore(repo: Repo, current: ObjectId, target: ObjectId) -> RestorePlan:
    """Diff the working-tree snapshot `current` against `target` and find what is in the way."""
    store = repo.store
    changes = diff_trees(store, current, target)
    plan = RestorePlan(current, target, changes)
    removed = {c.path for c in changes if c.status == REMOVED}
    root = os.fsencode(repo.root)
    checked_parents: set[bytes] = set()
    for c in changes:
        if c.status != ADDED:
            continue
        # Parents: a non-folder the snapshot did not track, where the run has a folder.
        parts = c.path.split(b"/")
        for i in range(1, len(parts)):
            parent = b"/".join(parts[:i])
            if parent in checked_parents:
                continue
            checked_parents.add(parent)
            st = _lstat(os.path.join(root, parent))
            if st is None:
                break
            if statmod.S_ISDIR(st.st_mode):
                continue
            if parent not in removed:
                plan.in_the_way.append(os.fsdecode(parent))
            break
        st = _lstat(os.path.join(root, c.path))
        if st is None:
            continue
        if statmod.S_ISDIR(st.st_mode):
            # A folder where the run has a file: fine only if the deletions empty it.
            if _has_untracked(os.path.join(root, c.path), root, removed):
                plan.blocking.append(c.name)
        elif not _same_content(repo, os.path.join(root, c.path), st, c.new):
            plan.in_the_way.append(c.name)
    return plan


def _has_untracked(base: bytes, root: bytes, tracked: set[bytes]) -> bool:
    for dirpath, dirs, files in os.walk(base):
        links = [d for d in dirs if os.path.islink(os.path.join(dirpath, d))]
        for f in (*files, *links):
            if os.path.relpath(os.path.join(dirpath, f), root) not in tracked:
                return True
    return False


def _lstat(path: bytes) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _same_content(repo: Repo, path: bytes, st: os.stat_result, entry: treemod.TreeEntry | None) -> bool:
    if entry is None:
        return False
    from tmt.store.ids import hash_bytes

    try:
        if entry.kind == treemod.SYMLINK:
            return statmod.S_ISLNK(st.st_mode) and hash_bytes(os.readlink(path)) == entry.oid
        if not statmod.S_ISREG(st.st_mode) or st.st_size != entry.size:
            return False
        with open(path, "rb") as f:
            return hash_bytes(f.read()) == entry.oid
    except OSError:
        return False


def apply_restore(repo: Repo, plan: RestorePlan, pin: PinFile, result: CheckoutResult) -> None:
    """Delete what the run does not have, then write what differs (via a tree of just that)."""
    from tmt.snapshot.checkout import restore

    root = repo.root
    emptied: set[Path] = set()
    for c in plan.to_delete:
        path = root / c.name
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            continue
        if statmod.S_ISDIR(st.st_mode):
            continue  # became a folder since the snapshot: not ours to delete
        os.unlink(path)
        result.removed += 1
        emptied.add(path.parent)
    # Folders left empty by those deletions, deepest first, up to (not including) the root.
    for d in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        while d != root and root in d.parents:
            try:
                os.rmdir(d)
            except OSError as e:
                if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
                    break
                raise
            result.removed_dirs += 1
            d = d.parent
    writes = plan.to_write
    if writes:
        delta = _delta_tree(repo, writes, pin)
        stats = restore(repo.store, delta, root)
        result.written = stats.files


def _delta_tree(repo: Repo, changes: list[Change], pin: PinFile) -> ObjectId:
    """Store a tree holding only `changes`' new entries, so restore rewrites nothing else."""
    root: dict[bytes, Any] = {}
    for c in changes:
        parts = c.path.split(b"/")
        node = root
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = c.new
    pin.add([c.new.oid for c in changes if c.new is not None])
    return _store_tree(repo, root, pin)[0]


def _store_tree(repo: Repo, node: dict[bytes, Any], pin: PinFile) -> tuple[ObjectId, int]:
    entries = []
    total = 0
    for name, value in node.items():
        if isinstance(value, dict):
            oid, size = _store_tree(repo, value, pin)
            entries.append(treemod.TreeEntry(name, treemod.TREE, oid, size))
        else:
            entries.append(value)
            size = value.size
        total += size
    data = treemod.encode_tree(entries)
    oid = treemod.tree_id(data)
    pin.add([oid])
    repo.store.put(data)
    return oid, total


def save_backup(repo: Repo, snap, *, ref: str) -> tuple[Record, bool]:
    """Record the working-tree snapshot as a `checkout-backup` run (or reuse one of that tree)."""
    previous = _latest_backup(repo)
    if previous is not None and (previous.code or {}).get("tree") == snap.tree:
        return previous, True
    from tmt.records.io import write_record

    now = datetime.now(timezone.utc).astimezone().isoformat()
    git = None
    try:
        from tmt.recorder.env import GitProbe, capture_env

        env = capture_env(repo.root)
        git = GitProbe(repo.root).result()
    except ImportError:  # pragma: no cover
        env = {"pid": os.getpid()}
    record = Record(
        id=new_run_id(),
        name=BACKUP_NAME,
        status="completed",
        created_at=now,
        finished_at=now,
        duration_s=0.0,
        description=f"working tree before `tmt checkout {ref}`",
        tags=[BACKUP_TAG],
        code={"root": repo.root_label, "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": git},
        env=env,
    )
    # The query index notices the new record file by itself (it syncs with experiments/).
    write_record(repo.experiments_dir, repo.tmp_dir, record)
    return record, False


def _latest_backup(repo: Repo) -> Record | None:
    try:
        return _resolve(BACKUP_NAME, repo)
    except TmtError:
        return None
