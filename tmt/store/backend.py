"""The storage interface: everything gc, fsck, reach, recording and views may ask of an object
store, so that a second backend (in memory for tests, a remote one later) plugs in.

`ObjectStore` (tmt/store/objects.py, files under .tmt/objects/) and `MemoryStore`
(tmt/store/memory.py) implement it; tests/test_store_backends.py is the conformance suite
every backend runs. docs/architecture.md says which module may use what.

The classes below are `typing.Protocol`s for type checkers only: at run time they are plain
classes (importing typing costs milliseconds at the start of every recorded script), so a
backend conforms by shape, never by inheritance.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Container, Iterator, Sequence

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    import os
    from typing import BinaryIO, Protocol

    from tmt.store.ids import ObjectId
else:
    Protocol = object

#: One object as a listing sees it: its id, size in bytes, modification time (seconds since
#: the epoch: gc's grace period) and mode (stat.S_IFREG for a real object; anything else is
#: something planted where an object belongs, which fsck reports as corrupt).
ObjectInfo = namedtuple("ObjectInfo", "oid size mtime mode")

#: One object read back by `verify`: its size and BLAKE3 digest (None with a `problem`: it is
#: not a plain object, or cannot be read), and its bytes when the caller asked to keep
#: objects that small. A stray (a name in the shard that is no object id) has oid None and
#: its place as `problem`.
Verified = namedtuple("Verified", "oid size digest data problem")


def checked_get(oid: "ObjectId", data: bytes, limit: int | None, verify: bool) -> bytes:
    """What `get` returns for the bytes a backend read (`limit + 1` of them at most): the same
    refusals, in the same words, from every backend."""
    from tmt.errors import CorruptObject
    from tmt.store.ids import hash_bytes

    if limit is not None and len(data) > limit:
        raise CorruptObject(oid, f"it is larger than {limit} bytes")
    if verify and hash_bytes(data) != oid:
        raise CorruptObject(oid, "its content does not match its id")
    return data


class ObjectStat(Protocol):
    """What `stat` returns (os.stat_result has these, among others): read-only, as there."""

    @property
    def st_size(self) -> int: ...
    @property
    def st_mtime(self) -> float: ...
    @property
    def st_mode(self) -> int: ...


class ObjectBatch(Protocol):
    """Many objects written with one durable commit; none is visible before `commit`."""

    def add(self, data: bytes, oid: ObjectId | None = None) -> ObjectId: ...
    def commit(self) -> None: ...
    def abort(self) -> None: ...
    def __enter__(self) -> ObjectBatch: ...
    def __exit__(self, exc_type, exc, tb) -> None: ...


class Aside(Protocol):
    """Objects moved out of the store for a moment (gc's trash): no reader of the store finds
    them until `put_back`; `delete` ends them. A set left behind by a crash is found again
    by `ObjectBackend.asides()`."""

    name: str

    def move(self, oid: ObjectId) -> bool: ...  # False: not in the store
    def has(self, oid: ObjectId) -> bool: ...
    def get(self, oid: ObjectId, *, limit: int | None = None) -> bytes: ...
    def head(self, oid: ObjectId, n: int) -> bytes: ...
    def mtime(self, oid: ObjectId) -> float | None: ...
    def scan(self) -> Iterator[ObjectInfo]: ...
    def put_back(self, oid: ObjectId) -> None: ...  # never replaces a copy written meanwhile
    def delete(self, oid: ObjectId) -> bool: ...
    def close(self) -> None: ...  # drops the set once empty


class ObjectBackend(Protocol):
    """Immutable blobs and trees by BLAKE3 id.

    Reads raise `ObjectNotFound` (absent), `CorruptObject` (present but not a plain object,
    or larger than `limit`), `InvalidObjectId` (not an id) or `StoreError`. `fetch=False`
    reads only what is here (a lazy clone fetches a missing object otherwise): gc and fsck
    never download. Writes are atomic and durable when they return; writing an object that
    exists refreshes its mtime, so a concurrent gc treats it as new. A write given its `oid`
    refuses one that is not an id (InvalidObjectId) when called, never later at commit.

    A new store holds nothing, and its `epoch()` is None until the first `bump_epoch()`
    (`tmt init` bumps it). `quarantine` of an absent object raises ObjectNotFound.
    """

    def has(self, oid: ObjectId) -> bool: ...
    def get(self, oid: ObjectId, *, verify: bool = False, limit: int | None = None, fetch: bool = True) -> bytes: ...
    def head(self, oid: ObjectId, n: int | None = None, *, fetch: bool = True) -> bytes: ...
    def open(self, oid: ObjectId, *, fetch: bool = True) -> BinaryIO: ...
    def stat(self, oid: ObjectId, *, fetch: bool = True) -> ObjectStat: ...

    # listing: shards are units of work (progress, threads); a planted entry is listed too
    def shards(self) -> list[str]: ...
    def ids(self, shard: str | None = None) -> Iterator[ObjectId]: ...
    def scan(self, shard: str | None = None, skip: Container[str] = ()) -> Iterator[ObjectInfo]: ...  # skip: no stat
    def strays(self) -> Iterator[tuple[str, str]]: ...  # (where, what it is not), outside the shards
    def verify(self, shard: str, keep: int = 0) -> Iterator[Verified]: ...  # fsck: read back, hash

    def put(self, data: bytes, oid: ObjectId | None = None) -> ObjectId: ...
    def put_file(self, path: str | os.PathLike[str]) -> tuple[ObjectId, int]: ...
    def batch(self) -> ObjectBatch: ...

    # maintenance (gc and fsck, under the gc lock)
    def new_aside(self) -> Aside: ...
    def asides(self) -> Sequence[Aside]: ...
    def quarantine(self, oid: ObjectId) -> str: ...  # where it went; never deleted
    def remove(self, oid: ObjectId) -> None: ...
    def epoch(self) -> str | None: ...  # changes whenever objects may have been removed
    def bump_epoch(self) -> str: ...

    # a lazy clone's store (`tmt clone --lazy`): an absent object may be fetched, not lost
    @property
    def lazy(self) -> bool: ...

    # capability: the object's file, for hard-link views (None: no local file, copy instead)
    def local_path(self, oid: ObjectId) -> str | None: ...

