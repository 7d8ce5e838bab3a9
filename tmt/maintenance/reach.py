"""Reachability: which object ids the records and live pins need, trees followed recursively.

Shared by gc (to decide what may go) and fsck (to find what is missing). Roots come from
every record (its code tree, series blobs, artifact blobs) and every live pin. A pinned id
may be a blob or a tree; it is treated as a tree when its bytes decode as one (a blob that
happens to decode only makes gc keep more, never less).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from tmt.errors import CorruptObject, InvalidTree, ObjectNotFound, RecordError, StoreError
from tmt.records.io import read_record, record_files
from tmt.records.model import Record
from tmt.snapshot import tree as treemod
from tmt.snapshot.tree import MAX_DEPTH, MAX_TREE_BYTES
from tmt.store.ids import ObjectId, is_oid

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from tmt.store.backend import Aside, ObjectBackend

#: Every tree starts with msgpack fixarray(2) then the format number 1.
TREE_MAGIC = b"\x92\x01"
_POOL_MIN = 32  # below this many trees in one level, threads cost more than they save


@dataclass(slots=True)
class RecordRoots:
    """The ids one record references directly, split by what they must be."""

    trees: list[ObjectId] = field(default_factory=list)
    blobs: list[tuple[ObjectId, str]] = field(default_factory=list)  # (id, what: "series x")
    bad_refs: list[str] = field(default_factory=list)  # references that are not object ids


def record_roots(rec: Record) -> RecordRoots:
    roots = RecordRoots()
    tree = (rec.code or {}).get("tree")
    if tree is not None:
        if is_oid(tree):
            roots.trees.append(ObjectId(tree))
        else:
            roots.bad_refs.append(f"code.tree {tree!r:.80}")
    for name, oid in rec.series.items():
        if is_oid(oid):
            roots.blobs.append((ObjectId(oid), f"series {name}"))
        else:
            roots.bad_refs.append(f"series {name} -> {oid!r:.80}")
    for a in rec.artifacts:
        obj = a.get("object")
        if obj is None:
            continue
        if is_oid(obj):
            roots.blobs.append((ObjectId(obj), f"artifact {a.get('name')}"))
        else:
            roots.bad_refs.append(f"artifact {a.get('name')} -> {obj!r:.80}")
    return roots


class RecordCache:
    """Parsed records keyed by file identity, so a second pass re-reads only what changed.

    Records are replaced by rename, so (inode, mtime, size) changes whenever content does.
    """

    def __init__(self, experiments_dir: Path) -> None:
        self.dir = experiments_dir
        self._parsed: dict[str, tuple[tuple[int, int, int], Record | RecordError]] = {}

    def load(self) -> tuple[list[Record], list[tuple[Path, str]]]:
        """All records now on disk, and (path, reason) for each one that does not parse."""
        good: list[Record] = []
        bad: list[tuple[Path, str]] = []
        seen = set()
        for path in record_files(self.dir):
            key_path = str(path)
            seen.add(key_path)
            try:
                st = os.stat(path)
            except FileNotFoundError:
                continue  # deleted (tmt rm) since the listing
            except OSError as e:
                bad.append((path, f"unreadable: {e.strerror}"))
                continue
            ident = (st.st_ino, st.st_mtime_ns, st.st_size)
            hit = self._parsed.get(key_path)
            if hit is not None and hit[0] == ident:
                value = hit[1]
            else:
                try:
                    value = read_record(path)
                except RecordError as e:
                    if not path.exists():
                        continue
                    value = e
                self._parsed[key_path] = (ident, value)
            if isinstance(value, Record):
                good.append(value)
            else:
                bad.append((path, getattr(value, "reason", None) or value.message))
        for k in set(self._parsed) - seen:
            del self._parsed[k]
        return good, bad


class TreeProblem(Exception):
    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind  # "missing" | "corrupt" | "bad_tree"
        self.reason = reason


Reader = Callable[[ObjectId], bytes]  # raises TreeProblem


def store_reader(store: ObjectBackend, aside: Aside | None = None) -> Reader:
    """Read a tree from the store, or from `aside` (gc's trash) when it is there, never
    fetching (gc), at most MAX_TREE_BYTES."""

    def read(oid: ObjectId) -> bytes:
        for source in (store, aside):
            if source is None:
                continue
            try:
                if source is store:
                    return store.get(oid, limit=MAX_TREE_BYTES, fetch=False)  # gc: never a download
                return source.get(oid, limit=MAX_TREE_BYTES)
            except ObjectNotFound:
                continue
            except CorruptObject as e:
                raise TreeProblem("corrupt", e.reason) from None
            except StoreError as e:
                raise TreeProblem("corrupt", e.message) from None
        raise TreeProblem("missing", "missing from the store")

    return read


def looks_like_tree(store: ObjectBackend, oid: ObjectId, aside: Aside | None = None) -> bool:
    """Whether the object (in the store, else in `aside`) starts as every tree does."""
    try:
        return store.head(oid, 2, fetch=False) == TREE_MAGIC
    except (ObjectNotFound, CorruptObject, StoreError):
        pass
    if aside is not None:
        try:
            return aside.head(oid, 2) == TREE_MAGIC
        except (ObjectNotFound, CorruptObject, StoreError):
            pass
    return False


@dataclass(slots=True)
class Marker:
    """Mark ids reachable from roots; remembers what it has walked across calls.

    `via[id]` (when `track`) says how an id was first reached: (root label, parent tree or
    None, entry name); `describe(id)` turns that into "record …: path/in/tree".
    `problems[id]` holds trees that were needed but missing or undecodable: their children
    are unknown, which gc must treat as "cannot decide". `expected_tree` holds the ids
    reached as trees (walked, or in `problems`): an id that is only `marked` was reached
    as a blob, and is still walked when something later reaches it as a tree.
    """

    read: Reader
    threads: int = min(8, os.cpu_count() or 1)
    track: bool = False
    on_tree: Callable[[ObjectId, list[treemod.TreeEntry]], None] | None = None
    marked: set[str] = field(default_factory=set)
    via: dict[str, tuple[str, str | None, bytes]] = field(default_factory=dict)
    problems: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (kind, reason)
    expected_tree: set[str] = field(default_factory=set)
    new_problems: list[str] = field(default_factory=list)  # ids that failed since last reset

    def add_blobs(self, items: Iterable[tuple[ObjectId, str]]) -> None:
        for oid, label in items:
            if oid not in self.marked:
                self.marked.add(oid)
                if self.track:
                    self.via[oid] = (label, None, b"")

    def add_trees(self, items: Iterable[tuple[ObjectId, str]]) -> None:
        level = []
        for oid, label in items:
            # A tree that failed before is retried: it may have been restored since. An id
            # marked only as a blob so far (a pin of a tree not yet written) is walked now.
            if oid in self.expected_tree and oid not in self.problems:
                continue
            self.marked.add(oid)
            self.expected_tree.add(oid)
            if self.track and oid not in self.via:
                self.via[oid] = (label, None, b"")
            level.append(oid)
        self._walk(level)

    def describe(self, oid: str) -> str:
        """How `oid` is reached: "record <id> code: lib/util.py", "live pin", or "?"."""
        parts: list[bytes] = []
        cur: str | None = oid
        label = "?"
        for _ in range(MAX_DEPTH + 2):
            v = self.via.get(cur) if cur is not None else None
            if v is None:
                break
            label, parent, name = v
            if parent is None:
                break
            parts.append(name)
            cur = parent
        path = b"/".join(reversed(parts)).decode("utf-8", "replace")
        return f"{label}: {path}" if path else label

    def _load(self, oid: ObjectId) -> list[treemod.TreeEntry] | TreeProblem:
        try:
            data = self.read(oid)
            return treemod.decode_tree(data, oid)
        except TreeProblem as p:
            return p
        except InvalidTree as e:
            return TreeProblem("bad_tree", e.message)

    def _walk(self, level: list[ObjectId]) -> None:
        """Breadth first, one level of trees at a time (read by threads when a level is big)."""
        depth = 0
        pool: list[ThreadPoolExecutor] = []  # made on the first big level, at most one
        try:
            while level:
                depth += 1
                nxt: list[ObjectId] = []
                for oid, res in zip(level, self._load_level(level, pool)):
                    entries = self._walked(oid, res, depth)
                    if entries is not None:
                        self._mark_children(oid, entries, nxt)
                level = nxt
        finally:
            for p in pool:
                p.shutdown()

    def _load_level(self, level: list[ObjectId], pool: list[ThreadPoolExecutor]) -> list[list[treemod.TreeEntry] | TreeProblem]:
        if len(level) < _POOL_MIN or self.threads <= 1:
            return [self._load(o) for o in level]
        if not pool:
            # imported here: concurrent.futures pulls in logging, and small stores never need a pool
            from concurrent.futures import ThreadPoolExecutor

            pool.append(ThreadPoolExecutor(self.threads))
        return list(pool[0].map(self._load, level, chunksize=16))

    def _walked(self, oid: ObjectId, res: list[treemod.TreeEntry] | TreeProblem, depth: int) -> list[treemod.TreeEntry] | None:
        """The entries of a tree read at `depth`, or None with the problem recorded."""
        if isinstance(res, TreeProblem):
            self.problems[oid] = (res.kind, res.reason)
            self.new_problems.append(oid)
            return None
        self.problems.pop(oid, None)
        if depth > MAX_DEPTH:
            self.problems[oid] = ("bad_tree", f"nests deeper than {MAX_DEPTH} levels")
            self.new_problems.append(oid)
            return None
        if self.on_tree is not None:
            self.on_tree(oid, res)
        return res

    def _mark_children(self, oid: ObjectId, entries: list[treemod.TreeEntry], nxt: list[ObjectId]) -> None:
        """Mark a tree's entries; subtrees not walked yet go to the next level."""
        for e in entries:
            child = e.oid
            is_tree = e.kind == treemod.TREE
            if is_tree:
                if child in self.expected_tree and child not in self.problems:
                    continue  # walked already (see add_trees)
            elif child in self.marked:
                continue
            self.marked.add(child)
            if self.track and child not in self.via:
                self.via[child] = (self.via[oid][0], oid, e.name)
            if is_tree:
                self.expected_tree.add(child)
                nxt.append(child)
