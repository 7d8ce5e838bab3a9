"""Tree objects: canonical msgpack manifests of one directory each, nested like git's.

Bytes (format version 1): a msgpack array `[1, entries]`, entries sorted by name bytes,
each `[name: bin, kind: str, oid: bin(32), size: uint]`. See docs/format.md.
"""
from __future__ import annotations

from collections.abc import Iterable
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Literal

    Kind = Literal["f", "x", "l", "d"]
else:
    Kind = str

from tmt._plain import Frozen
from tmt.errors import InvalidTree, TreeTooLarge
from tmt.store import codec
from tmt.store.ids import ObjectId, hash_bytes, is_oid

TREE_FORMAT = 1

FILE: Kind = "f"
EXEC: Kind = "x"
SYMLINK: Kind = "l"
TREE: Kind = "d"
KINDS = frozenset((FILE, EXEC, SYMLINK, TREE))
MAX_NAME = 4096
#: Names no tree may hold, in any case (a case-insensitive file system would open `.GIT` as
#: `.git`): no snapshot records them, and a checkout writing one would plant a git hook or a
#: store config in the user's project (like git's verify_path).
RESERVED_NAMES = frozenset((b".git", b".tmt"))
#: Deepest nesting of trees any reader follows (a hostile tree may nest without end).
MAX_DEPTH = 512
DEEP_HINT = "no project nests that deep: the store is damaged or hostile (`tmt fsck` names the tree)"
#: Largest tree object any reader loads (a directory of a million entries is ~100 MB); a
#: record naming a bigger object as its tree is refused before it is read into memory.
MAX_TREE_BYTES = 256 * 1024 * 1024


class TreeEntry(Frozen):
    """One directory entry. `name` is raw bytes so that non-UTF-8 names round-trip.

    `size` is the file's byte count, the symlink target's length, or for a subtree the total
    bytes of the files below it. Frozen (tmt/_plain.py: not a dataclass, which a run would
    pay for importing).
    """

    __slots__ = ("name", "kind", "oid", "size")
    name: bytes
    kind: Kind
    oid: ObjectId
    size: int

    def __init__(self, name: bytes, kind: Kind, oid: ObjectId, size: int) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "oid", oid)
        object.__setattr__(self, "size", size)

    @property
    def is_tree(self) -> bool:
        return self.kind == TREE


#: Bounds on a tree's expansion (every path below it, and the bytes of its files), checked by
#: checkout, diff and fsck before they walk it (settings max_tree_paths, max_tree_bytes).
DEFAULT_MAX_TREE_PATHS = 10_000_000
DEFAULT_MAX_TREE_BYTES = 1 << 40  # 1 TiB


class TreeBounds(Frozen):
    """How far a tree may expand: paths (files, links and folders, at every level) and bytes
    (the sizes its file and link entries claim). Content addressing lets 30 small trees, each
    naming the next twice, stand for 2**30 paths: every walk is bounded first. Frozen."""

    __slots__ = ("max_paths", "max_bytes")
    max_paths: int
    max_bytes: int

    def __init__(self, max_paths: int = DEFAULT_MAX_TREE_PATHS, max_bytes: int = DEFAULT_MAX_TREE_BYTES) -> None:
        object.__setattr__(self, "max_paths", max_paths)
        object.__setattr__(self, "max_bytes", max_bytes)

    def check(self, oid: str, paths: int, nbytes: int, what: str = "tree") -> None:
        """Raise TreeTooLarge when (paths, nbytes) is past either bound."""
        if paths > self.max_paths:
            over = f"more than {self.max_paths:,} paths (max_tree_paths)"
        elif nbytes > self.max_bytes:
            over = f"more than {self.max_bytes:,} bytes (max_tree_bytes)"
        else:
            return
        error = TreeTooLarge(
            f"{what} {oid} expands to {over}; refusing to walk it",
            "a tree this large is almost always a damaged or hostile store (a \"tree bomb\" names "
            "the same subtree many times): run `tmt fsck`; for a real one, raise max_tree_paths or "
            "max_tree_bytes in [tool.tmt] of pyproject.toml",
        )
        error.over = over
        raise error

    def expansion(self, shape_of, oid: ObjectId, memo: dict | None = None) -> tuple[int, int]:
        """(paths, bytes) below tree `oid`, each distinct subtree visited once; `shape_of(id)`
        gives a tree's `shape`. Sums stop growing past the bounds, so a bomb costs one visit of
        each of its few trees, not an exponential walk. Raises TreeTooLarge when past."""
        memo = {} if memo is None else memo
        paths, nbytes = _expand(shape_of, oid, memo, self.max_paths + 1, self.max_bytes + 1, 0)
        self.check(oid, paths, nbytes)
        return paths, nbytes


def shape(entries: list[TreeEntry]) -> tuple[int, int, list[ObjectId]]:
    """What a tree adds to an expansion: (its entries, the bytes of its non-tree entries, its
    subtrees' ids)."""
    subtrees = [e.oid for e in entries if e.kind == TREE]
    return len(entries), sum(e.size for e in entries if e.kind != TREE), subtrees


def _expand(shape_of, oid: str, memo: dict, cap_paths: int, cap_bytes: int, depth: int) -> tuple[int, int]:
    hit = memo.get(oid)
    if hit is not None:
        return hit
    if depth > MAX_DEPTH:
        raise InvalidTree(f"tree {oid} nests deeper than {MAX_DEPTH} levels", DEEP_HINT)
    paths, nbytes, subtrees = shape_of(oid)
    for sub in subtrees:
        if paths >= cap_paths or nbytes >= cap_bytes:
            break  # past the bound already: the rest cannot bring it back
        p, b = _expand(shape_of, sub, memo, cap_paths, cap_bytes, depth + 1)
        paths += p
        nbytes += b
    result = memo[oid] = (min(paths, cap_paths), min(nbytes, cap_bytes))
    return result


def _valid_size(size: object) -> bool:
    return isinstance(size, int) and not isinstance(size, bool) and 0 <= size < 1 << 63


def check_name(name: bytes) -> None:
    if not isinstance(name, bytes):
        raise InvalidTree(f"entry name {name!r:.80} is not bytes")
    if not name or name in (b".", b".."):
        raise InvalidTree(f"invalid entry name {name!r}")
    if b"/" in name or b"\0" in name:
        raise InvalidTree(f"invalid entry name {name!r}: contains '/' or NUL")
    if len(name) > MAX_NAME:
        raise InvalidTree(f"entry name too long ({len(name)} bytes)")
    if is_reserved(name):
        raise InvalidTree(f"entry name {name!r} is reserved: no snapshot holds .git or .tmt")


def is_reserved(name: bytes) -> bool:
    """`.git` or `.tmt` in any case (see RESERVED_NAMES)."""
    return len(name) == 4 and name.lower() in RESERVED_NAMES


def encode_tree(entries: Iterable[TreeEntry]) -> bytes:
    ordered = sorted(entries, key=lambda e: e.name)
    rows = []
    prev = None
    for e in ordered:
        check_name(e.name)
        if e.name == prev:
            raise InvalidTree(f"duplicate entry name {e.name!r}")
        prev = e.name
        if not isinstance(e.kind, str) or e.kind not in KINDS:
            raise InvalidTree(f"entry {e.name!r} has unknown kind {e.kind!r}")
        if not is_oid(e.oid):
            raise InvalidTree(f"entry {e.name!r} has a malformed object id {e.oid!r:.80}")
        if not _valid_size(e.size):
            raise InvalidTree(f"entry {e.name!r} has an invalid size {e.size!r}")
        rows.append([e.name, e.kind, bytes.fromhex(e.oid), e.size])
    return codec.packb([TREE_FORMAT, rows])


def encode_rows(rows: list[list]) -> bytes:
    """Fast path for the snapshot builder: rows already sorted and validated."""
    return codec.packb([TREE_FORMAT, rows])


def tree_id(data: bytes) -> ObjectId:
    return hash_bytes(data)


def decode_tree(data: bytes, oid: str = "?") -> list[TreeEntry]:
    """Decode and validate a tree; any defect raises InvalidTree naming the object."""
    try:
        value = codec.unpackb(data)
    except ValueError as e:
        raise InvalidTree(f"tree {oid} does not decode: {e}") from None
    if not (isinstance(value, list) and len(value) == 2 and isinstance(value[1], list)):
        raise InvalidTree(f"tree {oid} is not a [version, entries] array")
    if type(value[0]) is not int or value[0] != TREE_FORMAT:
        raise InvalidTree(
            f"tree {oid} has format version {value[0]!r}; this tmt reads version {TREE_FORMAT}",
            "upgrade tmt",
        )
    entries: list[TreeEntry] = []
    prev: bytes | None = None
    for row in value[1]:
        if not (isinstance(row, list) and len(row) == 4):
            raise InvalidTree(f"tree {oid} has a malformed entry {row!r:.80}")
        name, kind, raw, size = row
        if not isinstance(name, bytes):
            raise InvalidTree(f"tree {oid} has a non-bytes entry name {name!r:.80}")
        try:
            check_name(name)
        except InvalidTree as e:
            raise InvalidTree(f"tree {oid}: {e.message}") from None
        if prev is not None and name <= prev:
            raise InvalidTree(f"tree {oid} entries are not sorted and unique at {name!r}")
        prev = name
        if not isinstance(kind, str) or kind not in KINDS:
            raise InvalidTree(f"tree {oid} entry {name!r} has unknown kind {kind!r:.80}")
        if not (isinstance(raw, bytes) and len(raw) == 32):
            raise InvalidTree(f"tree {oid} entry {name!r} has a malformed object id")
        if not _valid_size(size):
            raise InvalidTree(f"tree {oid} entry {name!r} has an invalid size {size!r}")
        entries.append(TreeEntry(name, kind, ObjectId(raw.hex()), size))
    # One content, one id: bytes that decode but are not what encode_tree would write
    # (a wider integer, a str8 for a fixstr, ...) are a different id for the same tree.
    if codec.packb(value) != data:
        raise InvalidTree(f"tree {oid} is not canonically encoded")
    return entries
