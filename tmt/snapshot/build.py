"""snapshot(code root) -> tree id: walk, reuse cached blob ids, hash what changed, build trees.

Hot path. An unchanged tree costs one stat-walk plus the in-memory tree encodings: the
stat cache supplies every blob id, and the gc epoch tells us whether the objects the cache
saw can have been removed since (only then is each checked on disk).

Concurrency with gc (docs/format.md, "gc protocol"): every id we rely on is pinned *before*
we check that it exists, and the epoch is read *after* the pins are written.
"""
from __future__ import annotations

import os
import stat as statmod
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from blake3 import blake3

from tmt._warn import warn as default_warn
from tmt.errors import SnapshotError, StoreError
from tmt.snapshot import tree as treemod
from tmt.snapshot.ignore import ALWAYS_IGNORED, Rules, is_ignored, load_rules
from tmt.snapshot.statcache import StatCache, is_racy
from tmt.store.ids import ObjectId
from tmt.store.objects import Batch, ObjectStore
from tmt.store.pins import PinFile

HASH_THREADS = min(8, (os.cpu_count() or 2) * 2)
_THREAD_MIN = 32  # below this many changed files threads cost more than they save


@dataclass(slots=True)
class SnapshotResult:
    tree: ObjectId
    files: int
    bytes: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    new_objects: int = 0
    new_bytes: int = 0
    hashed: int = 0  # files read this time (not from the cache)


# A row is [name, kind, oid32 | None, size, extra]; extra is a _Dir for subtrees, or
# (abs path, rel path, stat key) for a file that still has to be read.
Row = list


@dataclass(slots=True)
class _Dir:
    rows: list[Row]


@dataclass(slots=True)
class _Pending:
    row: Row
    abs: bytes
    rel: bytes
    key: tuple[int, int, int, int]


class _Snapshotter:
    def __init__(
        self,
        root: Path,
        store: ObjectStore,
        *,
        cache_dir: Path | None,
        max_file_size: int,
        exclude: list[Path],
        pin: PinFile,
        progress: Callable[[int, int], None] | None,
        warn: Callable[[str], None],
    ) -> None:
        self.root = os.fsencode(root)
        self.store = store
        self.cache_dir = cache_dir
        self.max_file_size = max_file_size
        self.exclude = {os.fsencode(p) for p in exclude}
        self.pin = pin
        self.progress = progress
        self.warn = warn
        self.cache = StatCache.load(cache_dir, os.fsdecode(self.root)) if cache_dir else StatCache()
        self.new_files: dict[bytes, list] = {}
        self.skipped: list[tuple[str, str]] = []
        self.too_large: list[str] = []
        self.pending: list[_Pending] = []
        self.cached_ids: list[bytes] = []
        self.cached_rows: list[tuple[Row, _Pending]] = []
        self.cache_dirty = False
        self.hashed = 0
        self.walk_start_ns = time.time_ns()

    # -- phase 1: walk ---------------------------------------------------------------------

    def walk(self, dir_abs: bytes, rel: bytes, stack: list[Rules]) -> _Dir:
        rules = load_rules(dir_abs, os.fsdecode(rel))
        if rules is not None:
            stack = [*stack, rules]
        rows: list[Row] = []
        try:
            with os.scandir(dir_abs) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            self._skip(rel or b".", f"cannot list directory: {e.strerror}")
            return _Dir(rows)
        files = self.cache.files
        for entry in entries:
            name = entry.name
            if name in ALWAYS_IGNORED:
                continue
            child_rel = rel + name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.path in self.exclude:
                        continue
                    if stack and is_ignored(stack, os.fsdecode(child_rel) + "/"):
                        continue
                    sub = self.walk(entry.path, child_rel + b"/", stack)
                    rows.append([name, treemod.TREE, None, 0, sub])
                    continue
                if stack and is_ignored(stack, os.fsdecode(child_rel)):
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                self._skip(child_rel, f"cannot stat: {e.strerror}")
                continue
            mode = st.st_mode
            if statmod.S_ISLNK(mode):
                try:
                    target = os.readlink(entry.path)
                except OSError as e:
                    self._skip(child_rel, f"cannot read link: {e.strerror}")
                    continue
                rows.append([name, treemod.SYMLINK, None, len(target), target])
                continue
            if not statmod.S_ISREG(mode):
                continue  # sockets, FIFOs, devices: not code
            size = st.st_size
            if size > self.max_file_size:
                self.too_large.append(f"{os.fsdecode(child_rel)} ({_human(size)})")
                continue
            kind = treemod.EXEC if mode & 0o111 else treemod.FILE
            key = (size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            row = [name, kind, None, size, None]
            rows.append(row)
            hit = files.get(child_rel)
            if hit is not None and hit[0] == size and hit[1] == key[1] and hit[2] == key[2] and hit[3] == key[3]:
                row[2] = hit[4]
                self.cached_ids.append(hit[4])
                self.cached_rows.append((row, _Pending(row, entry.path, child_rel, key)))
                self.new_files[child_rel] = hit
            else:
                self.pending.append(_Pending(row, entry.path, child_rel, key))
        return _Dir(rows)

    def _skip(self, rel: bytes, reason: str) -> None:
        self.skipped.append((os.fsdecode(rel), reason))

    # -- phase 2: read and hash what the cache did not cover -------------------------------

    def hash_pending(self, batch: Batch) -> None:
        pending, self.pending = self.pending, []
        if not pending:
            return
        self.cache_dirty = True
        total = len(pending)
        self.hashed += total
        done = 0
        chunks = [pending[i : i + 64] for i in range(0, total, 64)]
        if total >= _THREAD_MIN and HASH_THREADS > 1:
            with ThreadPoolExecutor(HASH_THREADS) as pool:
                for n in pool.map(lambda c: self._hash_chunk(c, batch), chunks):
                    done += n
                    if self.progress:
                        self.progress(done, total)
        else:
            for c in chunks:
                done += self._hash_chunk(c, batch)
                if self.progress:
                    self.progress(done, total)

    def _hash_chunk(self, chunk: list[_Pending], batch: Batch) -> int:
        loaded: list[tuple[_Pending, bytes, ObjectId]] = []
        for p in chunk:
            try:
                with open(p.abs, "rb") as f:
                    data = f.read(self.max_file_size + 1)
            except FileNotFoundError:
                self._skip(p.rel, "vanished during the snapshot")
                continue
            except OSError as e:
                self._skip(p.rel, f"cannot read: {e.strerror}")
                continue
            if len(data) > self.max_file_size:
                self._skip(p.rel, "grew over the size limit during the snapshot")
                continue
            loaded.append((p, data, ObjectId(blake3(data).hexdigest())))
        # Pin before adding: add() may find the object present and skip writing it.
        self.pin.add(oid for _, _, oid in loaded)
        for p, data, oid in loaded:
            batch.add(data, oid)
            raw = bytes.fromhex(oid)
            p.row[2] = raw
            p.row[3] = len(data)
            size, mtime, ctime, ino = p.key
            if len(data) == size and not is_racy(mtime, self.walk_start_ns):
                self.new_files[p.rel] = [size, mtime, ctime, ino, raw]
        return len(chunk)

    # -- phase 3: trees, bottom-up ----------------------------------------------------------

    def build(self, d: _Dir, out: list[tuple[bytes, bytes]], top: bool = True) -> tuple[bytes | None, int, int]:
        """Return (tree id, bytes, files) of `d`; None for a directory with nothing kept."""
        rows = []
        total = files = 0
        for name, kind, oid, size, extra in d.rows:
            if kind == treemod.TREE:
                oid, size, n = self.build(extra, out, top=False)
                if oid is None:
                    continue
                files += n
            elif kind == treemod.SYMLINK:
                oid = bytes.fromhex(treemod.tree_id(extra))
                out.append((oid, extra))
                files += 1
            elif oid is None:
                continue  # unreadable or vanished
            else:
                files += 1
            total += size
            rows.append([name, kind, oid, size])
        if not rows and not top:
            return None, 0, 0  # like git, a directory with nothing kept is left out
        data = treemod.encode_rows(rows)
        oid = bytes.fromhex(treemod.tree_id(data))
        out.append((oid, data))
        return oid, total, files

    def run(self) -> SnapshotResult:
        tree_objs: list[tuple[bytes, bytes]] = []
        root_dir = self.walk(self.root, b"", [])
        with self.store.batch() as batch:
            self.pin.add(o.hex() for o in self.cached_ids)
            epoch = self.store.epoch()
            trust = epoch is not None and epoch == self.cache.epoch
            if not trust and self.cached_rows:
                self._requeue_missing()
            self.hash_pending(batch)
            root, nbytes, nfiles = self.build(root_dir, tree_objs)
            self.pin.add(o.hex() for o, _ in tree_objs)
            if self.store.epoch() != epoch:
                # gc ran while we worked: trust nothing, re-check every object we rely on.
                trust = False
                missing = self._requeue_missing()
                if missing:
                    self.hash_pending(batch)
                    tree_objs.clear()
                    root, nbytes, nfiles = self.build(root_dir, tree_objs)
                    self.pin.add(o.hex() for o, _ in tree_objs)
            known = self.cache.trees if trust else set()
            for oid, data in tree_objs:
                if oid not in known:
                    batch.add(data, ObjectId(oid.hex()))
            new_objects = len(batch._pending)
            new_bytes = sum(os.path.getsize(t) for t in batch._pending.values())
        if self.too_large:
            self.warn(
                f"left out {len(self.too_large)} file(s) over {_human(self.max_file_size)} "
                f"(data and checkpoints are not code): {', '.join(self.too_large[:10])}"
                + (" …" if len(self.too_large) > 10 else "")
                + "; raise max_file_size in .tmt/config.toml to keep them"
            )
        for path, reason in self.skipped:
            self.warn(f"skipped {path}: {reason}")
        self._save_cache(epoch, tree_objs, trust)
        assert root is not None
        return SnapshotResult(
            ObjectId(root.hex()), nfiles, nbytes, list(self.skipped), new_objects, new_bytes, self.hashed
        )

    def _requeue_missing(self) -> int:
        """Cached ids whose objects are gone get re-read from disk."""
        missing = 0
        keep = []
        for row, p in self.cached_rows:
            if self.store.has(ObjectId(row[2].hex())):
                keep.append((row, p))
            else:
                row[2] = None
                self.pending.append(p)
                missing += 1
        self.cached_rows = keep
        return missing

    def _save_cache(self, epoch: str | None, tree_objs: list[tuple[bytes, bytes]], trust: bool) -> None:
        if self.cache_dir is None:
            return
        trees = {oid for oid, _ in tree_objs}
        unchanged = (
            trust
            and not self.cache_dirty
            and len(self.new_files) == len(self.cache.files)
            and trees <= self.cache.trees
        )
        if unchanged:
            return
        self.cache.files = self.new_files
        self.cache.trees = trees
        self.cache.epoch = epoch
        self.cache.save(self.cache_dir, self.store.tmp_dir)


def snapshot(
    root: str | os.PathLike[str],
    store: ObjectStore,
    *,
    cache_dir: Path | None = None,
    max_file_size: int = 10 * 1024 * 1024,
    exclude: list[Path] | None = None,
    pin: PinFile | None = None,
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] = default_warn,
) -> SnapshotResult:
    """Store every file of `root` that is not ignored and return the root tree's id.

    Pass a `pin` that outlives this call when a record will reference the tree later (the
    recorder does); otherwise a private pin protects the objects only during the call.
    """
    root = Path(root)
    if not root.is_dir():
        raise SnapshotError(f"code root {root} is not a directory")
    own_pin = pin is None
    pin = pin or PinFile(store.tmt_dir)
    try:
        s = _Snapshotter(
            root,
            store,
            cache_dir=cache_dir,
            max_file_size=max_file_size,
            exclude=list(exclude or []),
            pin=pin,
            progress=progress,
            warn=warn,
        )
        return s.run()
    except OSError as e:
        raise StoreError(f"snapshot of {root} failed: {e.strerror or e}") from e
    finally:
        if own_pin:
            pin.close()


def snapshot_repo(repo, *, pin: PinFile | None = None, progress=None, warn=default_warn) -> SnapshotResult:
    """Snapshot a repository's code root with its settings and stat cache."""
    return snapshot(
        repo.root,
        repo.store,
        cache_dir=repo.cache_dir,
        max_file_size=repo.config.max_file_size,
        exclude=[repo.tmt_dir],
        pin=pin,
        progress=progress,
        warn=warn,
    )


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
