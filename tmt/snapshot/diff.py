"""Tree against tree: which paths changed, renames among them, and each file's patch in
git's format (so `tmt diff A B | git apply` works: modes, empty files, binary patches).

`diff_trees` skips every subtree whose id is the same on both sides, so comparing two
snapshots of a large, mostly unchanged code root reads only the trees along changed paths.
Comparing with the working tree is the same operation on a fresh snapshot of it
(`snapshot_repo`), which costs a stat-walk thanks to the stat cache.
"""
from __future__ import annotations

import difflib
import os
import zlib
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
RENAMED = "renamed"

#: Files larger than this are not diffed line by line (difflib is quadratic in the worst case).
MAX_DIFF_BYTES = 2 * 1024 * 1024
_BINARY_SNIFF = 8000  # like git: a NUL in the first 8000 bytes means binary

_MODES = {treemod.FILE: "100644", treemod.EXEC: "100755", treemod.SYMLINK: "120000"}


@dataclass(frozen=True, slots=True)
class Change:
    """One path that differs. `old`/`new` are None for an added/removed file; a rename has
    both, `old_path` (where it was) and `similarity` (percent of its content kept)."""

    path: bytes
    status: str  # ADDED | REMOVED | MODIFIED | RENAMED
    old: treemod.TreeEntry | None
    new: treemod.TreeEntry | None
    old_path: bytes | None = None
    similarity: int | None = None

    @property
    def name(self) -> str:
        return os.fsdecode(self.path)

    @property
    def old_name(self) -> str:
        return os.fsdecode(self.old_path if self.old_path is not None else self.path)

    @property
    def mode_changed(self) -> bool:
        return self.old is not None and self.new is not None and self.old.kind != self.new.kind


@dataclass(slots=True)
class FileDiff:
    """The patch of one change, as git writes it: `header` (`diff --git`, modes, rename,
    index lines), then `lines` (`---`/`+++` and hunks, or a `GIT binary patch`); or, for a
    binary or large file without its binary patch, `note` says it differs."""

    change: Change
    lines: list[str] = field(default_factory=list)  # unified diff, ---/+++ included, no newlines
    added: int = 0
    removed: int = 0
    binary: bool = False
    note: str | None = None  # "Binary files a/x and b/x differ", "mode 100644 -> 100755", …
    header: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.change.name

    def patch_lines(self) -> list[str]:
        """Every line of this file's patch, in order (what `git apply` reads)."""
        body = self.lines
        if not body and self.binary and self.note:
            body = [self.note]
        return self.header + body


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
        raise InvalidTree(f"tree nests deeper than {MAX_DEPTH} levels", treemod.DEEP_HINT)
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
        raise InvalidTree(f"tree nests deeper than {MAX_DEPTH} levels", treemod.DEEP_HINT)
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


def file_diff(store: ObjectStore, change: Change, *, context: int = 3, binary_patch: bool = False) -> FileDiff:
    """The git-style patch of one change (`a/path` -> `b/path`). A binary file, or one too
    large to diff by lines, gets a `GIT binary patch` when `binary_patch`, else a note."""
    fd = FileDiff(change)
    old, new = change.old, change.new
    a_name, b_name = change.old_path if change.old_path is not None else change.path, change.path
    notes = []
    if change.mode_changed:
        notes.append(f"mode {_MODES.get(old.kind, old.kind)} -> {_MODES.get(new.kind, new.kind)}")
    same = old is not None and new is not None and old.oid == new.oid
    a = store.get(old.oid) if old is not None and not same else b""
    b = store.get(new.oid) if new is not None and not same else b""
    fd.header = _header(change, a_name, b_name, None if same else (a, b))
    if same:
        fd.note = "; ".join(notes) or None
        return fd
    large = max(len(a), len(b)) > MAX_DIFF_BYTES
    if large or is_binary(a) or is_binary(b):
        fd.binary = True
        left = quote_path(b"a/" + a_name) if old is not None else "/dev/null"
        right = quote_path(b"b/" + b_name) if new is not None else "/dev/null"
        if large and not binary_patch:
            notes.append(f"Large files {left} and {right} differ (not diffed)")
        else:
            notes.append(f"Binary files {left} and {right} differ")
        fd.note = "; ".join(notes)
        if binary_patch:
            fd.header[-1] = f"index {git_blob_id(a) if old is not None else _NULL_ID}.." \
                            f"{git_blob_id(b) if new is not None else _NULL_ID}" + _index_mode(change)
            fd.lines = binary_patch_lines(a, b)
        return fd
    fromfile = _label(b"a/", a_name) if old is not None else "/dev/null"
    tofile = _label(b"b/", b_name) if new is not None else "/dev/null"
    lines: list[str] = []
    a_lines = _split_lines(a.decode("utf-8"))
    b_lines = _split_lines(b.decode("utf-8"))
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


# -- git's patch format ---------------------------------------------------------------------

_NULL_ID = "0" * 40
_SHORT = 7  # hex digits of the blob ids on an `index` line, as git abbreviates them


def git_blob_id(data: bytes) -> str:
    """The id git gives a file with these bytes (SHA-1 of "blob <size>\\0" + data): the
    `index` line of a patch names the pre- and postimage by it, and `git apply` checks it."""
    import hashlib

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _mode(entry: treemod.TreeEntry) -> str:
    return _MODES.get(entry.kind, "100644")


def _index_mode(change: Change) -> str:
    old, new = change.old, change.new
    return f" {_mode(new)}" if old is not None and new is not None and old.kind == new.kind else ""


def _header(change: Change, a_name: bytes, b_name: bytes, contents: tuple[bytes, bytes] | None) -> list[str]:
    old, new = change.old, change.new
    out = [f"diff --git {quote_path(b'a/' + a_name)} {quote_path(b'b/' + b_name)}"]
    if old is None:
        out.append(f"new file mode {_mode(new)}")
    elif new is None:
        out.append(f"deleted file mode {_mode(old)}")
    elif old.kind != new.kind:
        out += [f"old mode {_mode(old)}", f"new mode {_mode(new)}"]
    if change.old_path is not None:
        out += [f"similarity index {change.similarity}%", f"rename from {quote_path(a_name)}",
                f"rename to {quote_path(b_name)}"]
    if contents is not None:
        a, b = contents
        left = git_blob_id(a)[:_SHORT] if old is not None else _NULL_ID[:_SHORT]
        right = git_blob_id(b)[:_SHORT] if new is not None else _NULL_ID[:_SHORT]
        out.append(f"index {left}..{right}{_index_mode(change)}")
    return out


_QUOTE = {0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r",
          0x22: '\\"', 0x5C: "\\\\"}


def quote_path(path: bytes) -> str:
    """A path as git writes it in a patch: as is, or in double quotes with C escapes when it
    holds a control character, a quote, a backslash or a byte above 0x7f (octal)."""
    if all(0x20 <= c < 0x7F and c not in (0x22, 0x5C) for c in path):
        return path.decode("ascii")
    out = []
    for c in path:
        if c in _QUOTE:
            out.append(_QUOTE[c])
        elif c < 0x20 or c >= 0x7F:
            out.append(f"\\{c:03o}")
        else:
            out.append(chr(c))
    return '"' + "".join(out) + '"'


def _label(prefix: bytes, name: bytes) -> str:
    """The name on a ---/+++ line: git ends it with a tab when it holds a space (unquoted)."""
    text = quote_path(prefix + name)
    return text + "\t" if " " in text and not text.startswith('"') else text


def binary_patch_lines(old: bytes, new: bytes) -> list[str]:
    """A `GIT binary patch`: the new content, then the old (so `git apply -R` works too),
    each zlib-deflated and written in base85 lines of up to 52 bytes."""
    out = ["GIT binary patch"]
    for data in (new, old):
        out.append(f"literal {len(data)}")
        out.extend(_base85_lines(zlib.compress(data, 9)))
        out.append("")
    return out


def _base85_lines(data: bytes) -> list[str]:
    import base64

    lines = []
    for i in range(0, len(data), 52):
        chunk = data[i : i + 52]
        n = len(chunk)
        # the length of the chunk: A-Z for 1-26, a-z for 27-52
        length = chr(ord("A") + n - 1) if n <= 26 else chr(ord("a") + n - 27)
        lines.append(length + base64.b85encode(chunk, pad=True).decode("ascii"))
    return lines


# -- renames --------------------------------------------------------------------------------

#: A removed and an added file are a rename when this share of their content is the same
#: (git's default, -M50%).
RENAME_SIMILARITY = 50
#: Above this many (removed x added) pairs, only exact renames (same blob) are looked for.
RENAME_PAIRS_LIMIT = 100_000


def detect_renames(store: ObjectStore, changes: list[Change]) -> list[Change]:
    """Pairs of a removed and an added file turned into renames: first the same blob, then
    similar content (the bytes of their common lines over the larger size, at least
    RENAME_SIMILARITY percent, the best pairs first). Symlinks, folders and empty files
    (all alike, as git says) are not paired."""
    removed = [c for c in changes if c.status == REMOVED and c.old.kind in (treemod.FILE, treemod.EXEC) and c.old.size]
    added = [c for c in changes if c.status == ADDED and c.new.kind in (treemod.FILE, treemod.EXEC) and c.new.size]
    if not removed or not added:
        return changes
    pairs: dict[bytes, tuple[Change, int]] = {}  # added path -> (removed change, similarity)
    used: set[bytes] = set()
    by_oid: dict[str, list[Change]] = {}
    for c in removed:
        by_oid.setdefault(c.old.oid, []).append(c)
    for c in added:
        twins = [r for r in by_oid.get(c.new.oid, ()) if r.path not in used]
        if twins:
            best = min(twins, key=lambda r: (_basename(r.path) != _basename(c.path), r.path))
            pairs[c.path] = (best, 100)
            used.add(best.path)
    rest_r = [c for c in removed if c.path not in used]
    rest_a = [c for c in added if c.path not in pairs]
    if rest_r and rest_a and len(rest_r) * len(rest_a) <= RENAME_PAIRS_LIMIT:
        lines = {}
        for c in (*rest_r, *rest_a):
            entry = c.old or c.new
            if entry.size <= MAX_DIFF_BYTES:
                lines[c.path] = _line_counts(store.get(entry.oid))
        scored = []
        for r in rest_r:
            for a in rest_a:
                if r.path in lines and a.path in lines:
                    score = _similarity(lines[r.path], lines[a.path], r.old.size, a.new.size)
                    if score >= RENAME_SIMILARITY:
                        scored.append((-score, r.path, a.path, r, a))
        for neg, _, _, r, a in sorted(scored, key=lambda t: t[:3]):
            if r.path not in used and a.path not in pairs:
                pairs[a.path] = (r, min(-neg, 99))  # 100% is for the same bytes only
                used.add(r.path)
    if not pairs:
        return changes
    out = []
    for c in changes:
        if c.status == REMOVED and c.path in used:
            continue
        if c.status == ADDED and c.path in pairs:
            r, score = pairs[c.path]
            c = Change(c.path, RENAMED, r.old, c.new, old_path=r.path, similarity=score)
        out.append(c)
    return out


def _basename(path: bytes) -> bytes:
    return path.rsplit(b"/", 1)[-1]


def _line_counts(data: bytes):
    from collections import Counter

    return Counter(data.splitlines(keepends=True))


def _similarity(a, b, size_a: int, size_b: int) -> int:
    """Percent of the larger file made of lines both have (as git: copied bytes / max size)."""
    biggest = max(size_a, size_b)
    if biggest == 0:
        return 100
    if len(a) > len(b):
        a, b = b, a
    common = sum(min(n, b[line]) * len(line) for line, n in a.items() if line in b)
    return common * 100 // biggest


def _split_lines(text: str) -> list[str]:
    """Lines with their "\n" kept; only "\n" ends a line (str.splitlines also splits on \r, \f…)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines
