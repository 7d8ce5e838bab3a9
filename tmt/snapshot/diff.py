"""Tree against tree: which paths changed, and the unified text diff of a changed file.

`diff_trees` skips every subtree whose id is the same on both sides, so comparing two
snapshots of a large, mostly unchanged code root reads only the trees along changed paths.
Comparing with the working tree is the same operation on a fresh snapshot of it
(`snapshot_repo`), which costs a stat-walk thanks to the stat cache.
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from tmt.snapshot import tree as treemod
from tmt.snapshot.checkout import MAX_DEPTH, read_tree
from tmt.errors import InvalidTree
from tmt.store.ids import ObjectId
from tmt.store.objects import ObjectStore

ADDED = "added"
REMOVED = "removed"
MODIFIED = "modified"

#: Files larger than this are not diffed line by line (difflib is quadratic in the worst case).
MAX_DIFF_BYTES = 2 * 1024 * 1024
_BINARY_SNIFF = 8000  # like git: a NUL in the first 8000 bytes means binary

_MODES = {treemod.FILE: "100644", treemod.EXEC: "100755", treemod.SYMLINK: "120000"}


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs. `old`/`new` are None for an added/removed file."""

    path: bytes
    status: str  # ADDED | REMOVED | MODIFIED
    old: treemod.TreeEntry | None
    new: treemod.TreeEntry | None

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)

    @property
    def mode_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.kind != self.new.kind


@dataclass(slots=True)
class FileDiff:
    """The text diff of one change: unified diff lines, or a note for binary/large files."""

    change: Change
    lines: list[str] = field(default_factory=list)  # unified diff, headers included, no newlines
    added: int = 0
    removed: int = 0
    binary: bool = False
    note: str | None = None  # "Binary files differ", "mode 100644 -> 100755", …

    @property
    def path(self) -> str:
        return self.change.name


def diff_trees(store: ObjectStore, old: ObjectId | None, new: ObjectId | None, *,
               bounds: treemod.TreeBounds | None = None) -> list[Change]:
    """Every file-level change from tree `old` to tree `new`, sorted by path.

    A path that is a file on one side and a folder on the other shows up as the file
    removed (or added) plus the folder's files added (or removed). Either tree may be None
    (the empty tree). A comparison that would expand past `bounds` (a tree bomb on either
    side) raises TreeTooLarge before any change is listed.
    """
    trees: dict[str, dict[bytes, treemod.TreeEntry]] = {}

    def entries(oid: ObjectId | None) -> dict[bytes, treemod.TreeEntry]:
        if oid is None:
            return {}
        hit = trees.get(oid)
        if hit is None:
            hit = trees[oid] = {e.name: e for e in read_tree(store, oid)}
        return hit

    bounds = bounds or treemod.TreeBounds()
    paths, nbytes = _size(entries, old, new, {}, bounds.max_paths + 1, bounds.max_bytes + 1, 0)
    if paths > bounds.max_paths or nbytes > bounds.max_bytes:
        for side in (old, new):  # name the tree that is too large (a bomb), if one alone is
            if side is not None:
                bounds.expansion(lambda t: treemod.shape(list(entries(t).values())), side)
        bounds.check(f"{old} against {new}", paths, nbytes, what="the comparison of tree")
    return list(_diff(entries, old, new, b"", 0))


def _size(entries, old: ObjectId | None, new: ObjectId | None, memo: dict, cap_paths: int, cap_bytes: int,
          depth: int) -> tuple[int, int]:
    """(changes, bytes of the changed entries) that _diff(old, new) yields, each distinct pair
    of trees visited once, sums capped just past the bounds (the walk stops there)."""
    if old == new:
        return 0, 0
    hit = memo.get((old, new))
    if hit is not None:
        return hit
    if depth > MAX_DEPTH:
        raise InvalidTree(f"tree nests deeper than {MAX_DEPTH} levels")
    a, b = entries(old), entries(new)
    paths = nbytes = 0
    for name in a.keys() | b.keys():
        ea, eb = a.get(name), b.get(name)
        if ea is not None and eb is not None and ea.oid == eb.oid and ea.kind == eb.kind:
            continue
        a_tree = ea is not None and ea.is_tree
        b_tree = eb is not None and eb.is_tree
        for e, is_tree in ((ea, a_tree), (eb, b_tree)):
            if e is not None and not is_tree:
                nbytes += e.size
        if a_tree or b_tree:
            paths += (ea is not None and not a_tree) + (eb is not None and not b_tree)
            p, n = _size(entries, ea.oid if a_tree else None, eb.oid if b_tree else None, memo,
                         cap_paths, cap_bytes, depth + 1)
            paths += p
            nbytes += n
        else:
            paths += 1
        if paths >= cap_paths or nbytes >= cap_bytes:
            paths, nbytes = min(paths, cap_paths), min(nbytes, cap_bytes)
            break
    memo[(old, new)] = (paths, nbytes)
    return paths, nbytes


def _diff(entries, old: ObjectId | None, new: ObjectId | None, prefix: bytes, depth: int) -> Iterator[Change]:
    if old == new:
        return
    if depth > MAX_DEPTH:
        raise InvalidTree(f"tree nests deeper than {MAX_DEPTH} levels")
    a = entries(old)
    b = entries(new)
    for name in sorted(a.keys() | b.keys()):
        ea, eb = a.get(name), b.get(name)
        path = prefix + name
        if ea is not None and eb is not None and ea.oid == eb.oid and ea.kind == eb.kind:
            continue
        a_tree = ea is not None and ea.is_tree
        b_tree = eb is not None and eb.is_tree
        if a_tree or b_tree:
            # Files before folders at the same path keep the output sorted by path.
            if ea is not None and not a_tree:
                yield Change(path, REMOVED, ea, None)
            if eb is not None and not b_tree:
                yield Change(path, ADDED, None, eb)
            yield from _diff(entries, ea.oid if a_tree else None, eb.oid if b_tree else None, path + b"/", depth + 1)
        elif ea is None:
            yield Change(path, ADDED, None, eb)
        elif eb is None:
            yield Change(path, REMOVED, ea, None)
        else:
            yield Change(path, MODIFIED, ea, eb)


def is_binary(data: bytes) -> bool:
    if b"\0" in data[:_BINARY_SNIFF]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def file_diff(store: ObjectStore, change: Change, *, context: int = 3) -> FileDiff:
    """The unified diff of one change (`a/path` -> `b/path`, like git), or a note."""
    fd = FileDiff(change)
    old, new = change.old, change.new
    name = change.name
    notes = []
    if change.mode_changed:
        notes.append(f"mode {_MODES.get(old.kind, old.kind)} -> {_MODES.get(new.kind, new.kind)}")
    if old is not None and new is not None and old.oid == new.oid:
        fd.note = "; ".join(notes) or None
        return fd
    sizes = [e.size for e in (old, new) if e is not None]
    if max(sizes) > MAX_DIFF_BYTES:
        fd.binary = True
        notes.append(f"Large files a/{name} and b/{name} differ (not diffed)")
        fd.note = "; ".join(notes)
        return fd
    a = _content(store, old)
    b = _content(store, new)
    if a is None or b is None:  # an object larger than its entry claims (and than the limit)
        fd.binary = True
        notes.append(f"Large files a/{name} and b/{name} differ (not diffed)")
        fd.note = "; ".join(notes)
        return fd
    if (old is not None and old.kind == treemod.SYMLINK) or (new is not None and new.kind == treemod.SYMLINK):
        # Symlinks diff as their target, one line, like git.
        a = a + b"\n" if a and old.kind == treemod.SYMLINK else a
        b = b + b"\n" if b and new.kind == treemod.SYMLINK else b
    if is_binary(a) or is_binary(b):
        fd.binary = True
        left = f"a/{name}" if old is not None else "/dev/null"
        right = f"b/{name}" if new is not None else "/dev/null"
        notes.append(f"Binary files {left} and {right} differ")
        fd.note = "; ".join(notes)
        return fd
    a_lines = _split_lines(a.decode("utf-8"))
    b_lines = _split_lines(b.decode("utf-8"))
    fromfile = f"a/{name}" if old is not None else "/dev/null"
    tofile = f"b/{name}" if new is not None else "/dev/null"
    lines: list[str] = []
    for i, line in enumerate(difflib.unified_diff(a_lines, b_lines, fromfile, tofile, n=context)):
        if i < 2:  # the ---/+++ headers
            lines.append(line.rstrip("\n"))
            continue
        if line[:1] == "+":
            fd.added += 1
        elif line[:1] == "-":
            fd.removed += 1
        if line.endswith("\n"):
            lines.append(line[:-1])
        else:
            lines.append(line)
            if line[:1] != "@":
                lines.append("\\ No newline at end of file")  # same marker as git
    if not lines and (old is None or new is None):
        notes.append("new empty file" if old is None else "deleted empty file")
    fd.lines = lines
    fd.note = "; ".join(notes) or None
    return fd


def _content(store: ObjectStore, entry: treemod.TreeEntry | None) -> bytes | None:
    """An entry's bytes for a text diff, or None when the object is over MAX_DIFF_BYTES:
    sizes in trees are claims, so the read itself is bounded too."""
    if entry is None:
        return b""
    data = store.head(entry.oid, MAX_DIFF_BYTES + 1) if entry.size <= MAX_DIFF_BYTES else None
    return None if data is None or len(data) > MAX_DIFF_BYTES else data


def _split_lines(text: str) -> list[str]:
    """Lines with their "\n" kept; only "\n" ends a line (str.splitlines also splits on \r, \f…)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
