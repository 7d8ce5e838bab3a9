"""The code root as a working tree: compare runs with it, restore a run's code into it.

The API twins of `tmt diff` and `tmt checkout`:

    tmt.diff("last~1", "last")      # RunDiff: changed files (+ text diffs), params, metrics
    tmt.diff("last")                # the run against the working tree
    tmt.checkout("last~1")          # restore in place (backup first), CheckoutResult
    tmt.checkout("last~1", "out")   # read-only hard-linked copy in out/

In-place checkout never loses a byte the user had (DESIGN section 11). In this order it
1. takes the code root's checkout lock (tmt.snapshot.rootlock): one checkout at a time, and
   no run starts half-way through; refuses if a run is recording from this code root (its
   lazy imports would see the new code) unless `force=True`;
2. pins every object of the run's tree before reading it (safe beside `tmt gc --grace 0`);
3. snapshots the working tree and plans: diff(snapshot -> run tree). A path ignored by the
   working tree's rules or by the run's (built-in excludes included), or inside the running
   interpreter's prefix, is never deleted or rewritten; only paths of the snapshot are ever
   deleted. Refuses, before touching anything, when a file *not* in the snapshot (too large,
   unreadable) is in the way of a file of the run (`force=True` overwrites it);
4. reads every file it will replace or delete and checks it still holds the snapshot's
   bytes (else snapshots again), then records the snapshot as a run named and tagged
   `checkout-backup` (or reuses the latest backup of that very tree) *before* the first file
   changes, so `tmt checkout <backup id>` returns to the working tree;
5. deletes the snapshot's files the run does not have (and folders left empty), then writes
   the run's changed and added files as real copies (reflinks where the file system has
   them). Right before each path changes its lstat must still be the checked one (stat
   before replace; content hashed again if it was racily clean), else the checkout stops
   there and leaves that file as it is. Any stop (an error, Ctrl-C, SIGTERM) names the backup
   and the command that returns to it. Unchanged files are not rewritten.
"""
from __future__ import annotations

import errno
import os
import stat as statmod
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tmt.errors import CheckoutError, CheckoutInterrupted, InvalidTree, ObjectNotFound, RecordError, TmtError
from tmt.records.model import Record, code_tree, effective_status, flatten
from tmt.repo import Repo, ensure_store_gitignore
from tmt.snapshot import tree as treemod
from tmt.snapshot.diff import ADDED, MODIFIED, REMOVED, Change, FileDiff, detect_renames, diff_trees, file_diff
from tmt.store.ids import ObjectId
from tmt.store.pins import PinFile
from tmt.text import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.snapshot.excludes import SideRules

# Backups are record mutations (tmt/mutations.py); `save_backup` is looked up here at each
# checkout, so a test can wrap it.
from tmt.mutations import BACKUP_NAME, BACKUP_TAG, latest_backup, save_backup  # noqa: F401 (re-exported)


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
    return ObjectId(str(code_tree(record)))  # required: a record without one raised


def _code_tree_or_none(record: Record) -> ObjectId | None:
    tree = code_tree(record, required=False)
    return None if tree is None else ObjectId(tree)


def _written(c: Change) -> treemod.TreeEntry:
    """The entry a change to write brings: a plan writes added and modified files only."""
    assert c.new is not None
    return c.new


def _label(record: Record) -> str:
    return f"{record.id[:8]} ({printable(record.name)})"


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


def diff(a: Any, b: Any = None, *, repo: "Repo | str | os.PathLike[str] | None" = None, progress=None) -> RunDiff:
    """Compare run `a` with run `b`, or with the working tree when `b` is None
    (`progress(phase, done, total)` follows that snapshot, as in snapshot_repo)."""
    repo = Repo.resolve(repo)
    ra = _resolve(a, repo)
    a_tree = _code_tree_or_none(ra)
    b_tree: ObjectId | None
    if b is None:
        from tmt.snapshot.build import snapshot_repo

        rb = None
        b_tree = snapshot_repo(repo, progress=progress).tree
    else:
        rb = _resolve(b, repo)
        b_tree = _code_tree_or_none(rb)
    changes = detect_renames(repo.store, diff_trees(repo.store, a_tree, b_tree, bounds=repo.tree_bounds))
    out = RunDiff(repo, ra, rb, a_tree, b_tree, changes)
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
    kept_ignored: list[str] = field(default_factory=list)  # ignored here or by the run: left as they are


@dataclass(slots=True)
class RestorePlan:
    """What an in-place restore of `target` over a working tree snapshotted as `current` does."""

    current: ObjectId
    target: ObjectId
    changes: list[Change]
    in_the_way: list[str] = field(default_factory=list)  # untracked paths the run would overwrite
    blocking: list[str] = field(default_factory=list)  # folders where the run has a file: never forced
    kept: list[str] = field(default_factory=list)  # ignored by either side (or the interpreter's): untouched
    to_delete: list[Change] = field(default_factory=list)
    to_write: list[Change] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Expect:
    """A file as the backup holds it: its lstat key then, and whether that key can hide a
    later write of the same size (racily clean: the content is hashed again before replacing)."""

    key: tuple
    oid: str
    racy: bool
    regular: bool


def checkout(ref: Any, to: str | os.PathLike[str] | None = None, *, repo: "Repo | str | os.PathLike[str] | None" = None,
             force: bool = False, progress=None) -> CheckoutResult:
    """Restore run `ref`'s code: into the code root (see the module doc), or into `to`.

    `to` gets a read-only copy (hard links into the store; reflinks or copies for root) and
    must not exist or be empty; its `.tmt` pointer file makes runs started inside it record
    into this store.
    """
    repo = Repo.resolve(repo)
    record = _resolve(ref, repo)
    tree = _code_tree(record)
    if to is not None:
        from tmt.repo import write_pointer
        from tmt.snapshot.checkout import materialize

        stats = materialize(repo.store, tree, to, bounds=repo.tree_bounds)
        write_pointer(to, repo.tmt_dir)  # runs started in the view record into this store
        return CheckoutResult(record.id, record.name, tree, Path(to), written=stats.files)
    return _checkout_in_place(repo, record, tree, force=force, ref=ref if isinstance(ref, str) else record.id[:8],
                              progress=progress)


def _checkout_in_place(repo: Repo, record: Record, tree: ObjectId, *, force: bool, ref: str,
                       progress=None) -> CheckoutResult:
    from tmt.snapshot.build import snapshot_repo
    from tmt.snapshot.rootlock import RootLock

    result = CheckoutResult(record.id, record.name, tree, repo.root)
    ensure_store_gitignore(repo.tmt_dir)
    # The lock first: runs hold it (shared) from their snapshot to their first record, so once
    # it is ours every run that started is visible to running_here, and none can start.
    with RootLock(repo.tmt_dir, repo.root, exclusive=True, what=_label(record)):
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
            pin_tree(repo, tree, pin)
            for _attempt in range(_RESNAPSHOTS):
                snap = snapshot_repo(repo, pin=pin, progress=progress)  # the backup's snapshot
                _remove_checkout_temps(repo.root, snap.checkout_temps)
                if snap.tree == tree:
                    result.unchanged = True
                    return result
                plan = plan_restore(repo, snap.tree, tree)
                _refuse(plan, record, force)
                expected = _expected_state(repo.root, plan)
                if expected is not None:
                    break  # else a file changed since the snapshot: take it again
            else:
                from tmt.text import printable

                raise CheckoutError(
                    f"files in {printable(str(repo.root))} kept changing while the checkout took its backup; "
                    "nothing was changed",
                    "stop what writes into the working tree, then check out again",
                )
            _check_present(repo, plan)
            # Ctrl-C and SIGTERM wait from here until the backup's hint can be printed.
            held = _hold_signals()
            try:
                backup, reused = save_backup(repo, snap, ref=ref)  # the record, before any file changes
                result.backup_id, result.backup_reused = backup.id, reused
                result.kept_ignored = plan.kept
                _apply_guarded(repo, plan, expected, result, backup, held)
            finally:
                _release_signals(held)
            result.overwritten_untracked = plan.in_the_way
            return result
        finally:
            pin.close()


_RESNAPSHOTS = 3


def _refuse(plan: RestorePlan, record: Record, force: bool) -> None:
    if plan.blocking:
        raise CheckoutError(
            "these folders hold files that are not part of the working-tree snapshot, where "
            f"run {_label(record)} has a file:\n" + "\n".join(f"  {printable(p)}" for p in plan.blocking),
            "move them away and check out again",
        )
    if plan.in_the_way and not force:
        raise CheckoutError(
            f"checking out run {_label(record)} would overwrite files that are not part of the "
            "working-tree snapshot (too large, unreadable or new), so no backup could keep "
            "them:\n" + "\n".join(f"  {printable(p)}" for p in plan.in_the_way),
            "move them away, or pass --force to overwrite them",
        )


def _hold_signals():
    """Block SIGINT and SIGTERM (main thread only): a Ctrl-C between writing the backup
    record and being ready to name it would otherwise print no way back."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _release_signals(held) -> None:
    if held is not None:
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def _apply_guarded(repo: Repo, plan: RestorePlan, expected: dict, result: CheckoutResult, backup: Record,
                   held=None) -> None:
    """apply_restore, with every way it can stop (an error, Ctrl-C, SIGTERM) naming the backup."""
    from tmt.recorder.run import Terminated, _catch_sigterm, _release_sigterm

    hint = f"your working tree was saved as run {backup.id[:8]}; return with: tmt checkout {backup.id[:8]}"
    caught = _catch_sigterm()  # SIGTERM becomes an exception here, so the hint is printed
    try:
        _release_signals(held)  # a signal that came meanwhile is delivered now, inside this try
        apply_restore(repo, plan, result, expected)
    except KeyboardInterrupt as e:
        raise CheckoutInterrupted(f"checkout interrupted half-way (Ctrl-C); {_progress(result)}", hint) from e
    except Terminated as e:
        raise CheckoutInterrupted(f"checkout interrupted half-way (SIGTERM); {_progress(result)}", hint,
                                  exit_code=e.code if isinstance(e.code, int) else 143) from e
    except (TmtError, OSError) as e:
        msg = e.message if isinstance(e, TmtError) else str(e)
        raise CheckoutError(f"checkout stopped half-way: {msg}", hint) from e
    finally:
        if caught:
            _release_sigterm()


def _progress(result: CheckoutResult) -> str:
    return f"{result.removed} file(s) removed and {result.written} written so far"


def pin_tree(repo: Repo, tree: ObjectId, pin: PinFile) -> None:
    """Pin every object of `tree`, each before it is read: a checkout is a writer for gc
    (docs/maintenance.md), so `tmt gc --grace 0` beside it takes nothing it needs, even if
    the run's record is removed meanwhile."""
    pin.add([tree])
    todo = [(tree, 0)]
    seen = {tree}  # each distinct tree once: a tree bomb names the same subtree 2**30 times
    while todo:
        oid, depth = todo.pop()
        if depth > treemod.MAX_DEPTH:
            raise InvalidTree(f"tree {oid} nests deeper than {treemod.MAX_DEPTH} levels", treemod.DEEP_HINT)
        entries = _read_tree_waiting(repo, oid)
        pin.add([e.oid for e in entries])
        for e in entries:
            if e.kind == treemod.TREE and e.oid not in seen:
                seen.add(e.oid)
                todo.append((e.oid, depth + 1))


def _read_tree_waiting(repo: Repo, oid: ObjectId) -> list[treemod.TreeEntry]:
    """The tree, read the one way (tmt.snapshot.checkout.read_tree), after a gc that has it
    moved aside for a moment."""
    from tmt.snapshot.checkout import read_tree

    try:
        return read_tree(repo.store, oid)
    except ObjectNotFound:
        if not _wait_for_gc(repo, oid):
            raise
        return read_tree(repo.store, oid)


def _wait_for_gc(repo: Repo, oid: str) -> bool:
    """A pinned object can be missing only while a gc has it moved aside (it puts pinned ones
    back before it ends): wait for that gc, bounded, then say whether the object is back."""
    from tmt.maintenance.lock import is_held

    deadline = time.monotonic() + _GC_WAIT_S
    while is_held(repo.tmt_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    return repo.store.has(ObjectId(oid))


_GC_WAIT_S = 60.0


def _check_present(repo: Repo, plan: RestorePlan) -> None:
    """Every object the restore will read exists (pinned, so it stays): checked before the
    first file changes, so an incomplete run stops the checkout with nothing touched."""
    for c in plan.to_write:
        oid = _written(c).oid
        if not repo.store.has(oid) and not _wait_for_gc(repo, oid):
            raise CheckoutError(
                f"the code of this run is incomplete: {c.name} (object {oid[:12]}…) is missing from the store; "
                "nothing was changed",
                "run `tmt fsck` to see what is damaged",
            )


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


def _interpreter_paths(root: Path) -> list[bytes]:
    """The running interpreter's prefixes inside the code root, relative, ending with '/'."""
    out = []
    real_root = os.path.realpath(root)
    for prefix in {sys.prefix, sys.exec_prefix, sys.base_prefix}:
        rel = os.path.relpath(os.path.realpath(prefix), real_root)
        if rel == ".":
            continue  # an interpreter *at* the code root: nothing else could be protected
        if not rel.startswith(".."):
            out.append(os.fsencode(rel) + b"/")
    return out


@dataclass(slots=True)
class _Untouchable:
    """What an in-place checkout never deletes or rewrites (DESIGN section 11): a path ignored
    by the working tree's rules or by the run's, or inside the running interpreter."""

    here: SideRules  # the working tree's rules
    theirs: SideRules  # the run's rules, read from its tree
    interpreter: list[bytes]  # the running interpreter's prefixes inside the code root

    def __call__(self, path: bytes) -> bool:
        return self.in_interpreter(path) or self.here.ignored(path) or self.theirs.ignored(path)

    def in_interpreter(self, path: bytes) -> bool:
        return any(path.startswith(p) for p in self.interpreter)

    def left_out(self, path: bytes) -> bool:
        """Inside a folder either side leaves out (a venv, a cache, an ignored folder)."""
        return self.in_interpreter(path) or self.here.in_left_out_folder(path) or self.theirs.in_left_out_folder(path)


def plan_restore(repo: Repo, current: ObjectId, target: ObjectId) -> RestorePlan:
    """Diff the working-tree snapshot `current` against `target`: what to delete, what to
    write, what is in the way, and what must stay untouched (`_Untouchable`).

    Two passes: each change on its own (`_triage`), then the files to add whose parent is a
    non-folder there (`_parent_kept`) and what sits where a file goes (`_note_in_the_way`)."""
    from tmt.snapshot.excludes import disk_rules, tree_rules

    changes = diff_trees(repo.store, current, target, bounds=repo.tree_bounds)
    plan = RestorePlan(current, target, changes)
    guard = _Untouchable(disk_rules(repo.root), tree_rules(repo.store, target), _interpreter_paths(repo.root))
    root = os.fsencode(repo.root)
    writes: list[Change] = []
    for c in changes:
        verdict = _triage(repo, c, guard, root)
        if verdict == "delete":
            plan.to_delete.append(c)
        elif verdict == "keep":
            plan.kept.append(c.name)
        elif verdict == "write":
            writes.append(c)
    removed = {c.path for c in plan.to_delete}
    checked_parents: dict[bytes, bool] = {}  # a non-folder where the run has a folder: ignored?
    for c in writes:
        if c.status == ADDED and _parent_kept(root, c.path, removed, guard, checked_parents, plan):
            plan.kept.append(c.name)
            continue
        plan.to_write.append(c)
        if c.status == ADDED:
            _note_in_the_way(root, c, removed, plan)
    return plan


def _triage(repo: Repo, c: Change, guard: _Untouchable, root: bytes) -> str:
    """One change on its own: "delete", "keep" (untouched), "same" (already the run's bytes:
    not rewritten) or "write"."""
    if c.status == REMOVED:
        # In the backup, not in the run: deleted, unless the run's rules ignore it.
        return "keep" if guard(c.path) else "delete"
    st = _lstat(os.path.join(root, c.path)) if c.status == ADDED else None
    if st is not None and not statmod.S_ISDIR(st.st_mode) and _same_content(repo, os.path.join(root, c.path), st, c.new):
        return "same"
    if (c.status == MODIFIED or st is not None) and guard(c.path):
        return "keep"  # there, and ignored by a side: never rewritten
    if c.status == ADDED and guard.left_out(c.path):
        # Nothing new goes into a venv, a cache or an ignored folder: a run's tree that
        # holds .venv/.../sitecustomize.py must not reach the user's interpreter.
        return "keep"
    return "write"


def _parent_kept(root: bytes, path: bytes, removed: set[bytes], guard: _Untouchable,
                 checked: dict[bytes, bool], plan: RestorePlan) -> bool:
    """Whether a file to add waits because a parent is a non-folder the snapshot did not
    track, where the run has a folder, and that is ignored (or the interpreter's): it stays.
    Such a parent that is not ignored is in the way."""
    parts = path.split(b"/")
    for i in range(1, len(parts)):
        parent = b"/".join(parts[:i])
        if parent not in checked:
            st = _lstat(os.path.join(root, parent))
            if st is None:
                return False
            if statmod.S_ISDIR(st.st_mode):
                continue
            checked[parent] = parent not in removed and guard(parent)
            if parent not in removed and not checked[parent]:
                plan.in_the_way.append(os.fsdecode(parent))
        return checked[parent]
    return False


def _note_in_the_way(root: bytes, c: Change, removed: set[bytes], plan: RestorePlan) -> None:
    """What is where a file to add goes: a folder blocks unless the deletions empty it; a
    file there (not in the backup, not ignored, other bytes) is in the way."""
    st = _lstat(os.path.join(root, c.path))
    if st is None:
        return
    if statmod.S_ISDIR(st.st_mode):
        if _has_untracked(os.path.join(root, c.path), root, removed):
            plan.blocking.append(c.name)
    else:
        plan.in_the_way.append(c.name)


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
        if (entry.kind == treemod.EXEC) != bool(st.st_mode & 0o111):
            return False
        with open(path, "rb") as f:
            return hash_bytes(f.read()) == entry.oid
    except OSError:
        return False


# -- applying a plan: every replaced file is the one the backup holds ------------------------


def _key(st: os.stat_result) -> tuple:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _expected_state(root: Path, plan: RestorePlan) -> dict[bytes, _Expect | None] | None:
    """What each path the restore replaces or deletes holds now, checked against the backup
    (None: a file changed since the snapshot, so the backup would not hold it)."""
    from tmt.snapshot.statcache import is_racy
    from tmt.store.ids import hash_bytes

    base = os.fsencode(root)
    now = time.time_ns()
    out: dict[bytes, _Expect | None] = {}
    forced = {os.fsencode(p) for p in plan.in_the_way}
    for c in (*plan.to_delete, *plan.to_write):
        path = os.path.join(base, c.path)
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            out[c.path] = None  # gone since the snapshot (the backup has it): nothing to lose
            continue
        racy = is_racy(max(st.st_mtime_ns, st.st_ctime_ns), now)
        if c.path in forced:  # --force: overwritten as it is now
            out[c.path] = _Expect(_key(st), "", racy=False, regular=statmod.S_ISREG(st.st_mode))
            continue
        if c.old is None:
            if statmod.S_ISDIR(st.st_mode):
                continue  # an emptied folder the deletions remove
            return None  # appeared since the snapshot
        try:
            if statmod.S_ISLNK(st.st_mode):
                data = os.readlink(path)
            elif statmod.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    data = f.read()
                    st = os.fstat(f.fileno())
            else:
                return None
        except OSError:
            return None
        if hash_bytes(data) != c.old.oid:
            return None
        out[c.path] = _Expect(_key(st), c.old.oid, racy, statmod.S_ISREG(st.st_mode))
    return out


class _Changed(CheckoutError):
    pass


def _changed(path: bytes, how: str) -> _Changed:
    from tmt.text import printable

    return _Changed(f"{printable(os.fsdecode(path))} {how} after the backup was taken, so it was left as it is "
                    "(something is writing into the working tree)")


class _Guard:
    """Right before a path is replaced or deleted: it must still be what the backup holds.

    An open descriptor of the old file is kept across the replace: a write that lands on it
    in between (an appending writer) is seen afterwards and its bytes are put back."""

    def __init__(self, expected: dict[bytes, _Expect | None]) -> None:
        self.expected = expected

    def __call__(self, dirfd: int, name: bytes, path: bytes):
        exp = self.expected.get(path)
        try:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if exp is None:
            if st is not None and not statmod.S_ISDIR(st.st_mode):
                raise _changed(path, "appeared")
            return _noop
        if st is None:
            return _noop  # deleted since: the backup holds it
        if not exp.regular or not statmod.S_ISREG(st.st_mode):
            if _key(st) != exp.key:
                raise _changed(path, "changed")
            return _noop
        try:
            f = open(os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dirfd), "rb")
        except OSError:
            raise _changed(path, "changed") from None
        try:
            before = os.fstat(f.fileno())
            if _key(before) != exp.key:
                raise _changed(path, "changed")
            if exp.racy and exp.oid:
                from tmt.store.ids import hash_bytes

                if hash_bytes(f.read()) != exp.oid:
                    raise _changed(path, "changed")
        except BaseException:
            f.close()
            raise

        def after() -> None:
            with f:
                now = os.fstat(f.fileno())
                if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                    _put_back(f, dirfd, name)
                    raise _changed(path, "was written to")

        return after


def _noop() -> None:
    pass


def _put_back(f, dirfd: int, name: bytes) -> None:
    """The old file got a write while it was being replaced: its bytes go back in place."""
    from tmt._sys import token_hex

    tmp = b".tmt-" + token_hex(6).encode() + b"-" + name[:100]
    f.seek(0)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=dirfd)
    try:
        with open(fd, "wb", closefd=False) as out:
            while chunk := f.read(1 << 20):
                out.write(chunk)
        os.fchmod(fd, os.fstat(f.fileno()).st_mode & 0o7777)
    finally:
        os.close(fd)
    os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)


def apply_restore(repo: Repo, plan: RestorePlan, result: CheckoutResult,
                  expected: dict[bytes, _Expect | None] | None = None) -> None:
    """Delete what the run does not have, then write what differs; each path is checked
    against `expected` (see _Guard) right before it changes."""
    from tmt.snapshot.checkout import restore_entries

    guard = _Guard(expected if expected is not None else {})
    root = repo.root
    rootfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    emptied: set[bytes] = set()
    try:
        for c in plan.to_delete:
            parent, _, name = c.path.rpartition(b"/")
            dirfd = _open_dir(rootfd, parent) if parent else rootfd
            if dirfd is None:
                continue  # its folder is gone or became a symlink: nothing of ours below it
            try:
                try:
                    st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if statmod.S_ISDIR(st.st_mode):
                    continue  # became a folder since the snapshot: not ours to delete
                after = guard(dirfd, name, c.path)
                os.unlink(name, dir_fd=dirfd)
                after()
                result.removed += 1
                if parent:
                    emptied.add(parent)
            finally:
                if dirfd != rootfd:
                    os.close(dirfd)
        # Folders left empty by those deletions, deepest first, up to (not including) the root.
        for d in sorted(emptied, key=lambda p: p.count(b"/"), reverse=True):
            while d:
                try:
                    os.rmdir(d, dir_fd=rootfd)
                except OSError as e:
                    if e.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT, errno.ENOTDIR):
                        break
                    raise
                result.removed_dirs += 1
                d = d.rpartition(b"/")[0]
    finally:
        os.close(rootfd)
    if plan.to_write:
        stats = restore_entries(repo.store, root, [(c.path, _written(c)) for c in plan.to_write], guard=guard,
                                on_missing=lambda oid: _wait_for_gc(repo, oid))
        result.written = stats.files


def _open_dir(rootfd: int, rel: bytes) -> int | None:
    """The folder `rel` below the root, every part opened without following a symlink."""
    fd = rootfd
    for part in rel.split(b"/"):
        try:
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        except OSError:
            nfd = None
        if fd != rootfd:
            os.close(fd)
        if nfd is None:
            return None
        fd = nfd
    return fd


def _remove_checkout_temps(root: Path, temps: list[bytes]) -> None:
    """Temp files a killed checkout left beside the files it was writing (the snapshot never
    records them); we hold the checkout lock, so none is another checkout's."""
    base = os.fsencode(root)
    for rel in temps:
        try:
            os.unlink(os.path.join(base, rel))
        except OSError:
            pass
    return None
