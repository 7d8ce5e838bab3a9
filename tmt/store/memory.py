"""An object store in memory: the storage interface (tmt/store/backend.py) with nothing on
disk, for tests of code that only needs the interface, and as the smallest model of what a
backend must do (tests/test_store_backends.py runs it through the same suite as the local
store). Not thread-safe beyond what the GIL gives a dict; not for real repositories."""
from __future__ import annotations

import io
import os
import stat as statmod
import time
from collections import namedtuple
from collections.abc import Container, Iterator

from blake3 import blake3

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from tmt.store.backend import ObjectBackend

from tmt.errors import CorruptObject, ObjectNotFound, StoreError
from tmt.store.backend import ObjectInfo, Verified, checked_get
from tmt.store.ids import ObjectId, hash_bytes, validate_oid

MemoryStat = namedtuple("MemoryStat", "st_size st_mtime st_mode")
_REG = statmod.S_IFREG | 0o444


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, float]] = {}  # id -> (bytes, mtime)
        self.quarantined: dict[str, bytes] = {}
        self._asides: dict[str, MemoryAside] = {}
        self._epoch: str | None = None  # as a new local store's: nothing removed, nothing trusted yet

    # -- reading -------------------------------------------------------------------------

    def _entry(self, oid: ObjectId) -> tuple[bytes, float]:
        try:
            return self.objects[validate_oid(oid)]
        except KeyError:
            raise ObjectNotFound(oid) from None

    def has(self, oid: ObjectId) -> bool:
        return validate_oid(oid) in self.objects

    def get(self, oid: ObjectId, *, verify: bool = False, limit: int | None = None, fetch: bool = True) -> bytes:
        return checked_get(oid, self._entry(oid)[0], limit, verify)

    def head(self, oid: ObjectId, n: int | None = None, *, fetch: bool = True) -> bytes:
        data = self._entry(oid)[0]
        return data if n is None else data[:n]

    def open(self, oid: ObjectId, *, fetch: bool = True) -> io.BytesIO:
        return io.BytesIO(self._entry(oid)[0])

    def stat(self, oid: ObjectId, *, fetch: bool = True) -> MemoryStat:
        data, mtime = self._entry(oid)
        return MemoryStat(len(data), mtime, _REG)

    def local_path(self, oid: ObjectId) -> None:
        validate_oid(oid)
        return None  # no file: views copy the bytes

    # -- listing -------------------------------------------------------------------------

    def shards(self) -> list[str]:
        return sorted({oid[:2] for oid in self.objects})

    def ids(self, shard: str | None = None) -> Iterator[ObjectId]:
        for oid in sorted(self.objects):
            if shard is None or oid.startswith(shard):
                yield ObjectId(oid)

    def scan(self, shard: str | None = None, skip: Container[str] = ()) -> Iterator[ObjectInfo]:
        for oid in list(self.ids(shard)):
            entry = self.objects.get(oid)
            if oid in skip:
                yield ObjectInfo(oid, None, None, None)
            elif entry is not None:
                yield ObjectInfo(oid, len(entry[0]), entry[1], _REG)

    def strays(self) -> Iterator[tuple[str, str]]:
        return iter(())  # a dict holds nothing that is not an object

    def verify(self, shard: str, keep: int = 0) -> Iterator[Verified]:
        for oid in list(self.ids(shard)):
            entry = self.objects.get(oid)
            if entry is not None:
                data = entry[0]
                yield Verified(oid, len(data), hash_bytes(data), data if len(data) <= keep else None, None)

    def __iter__(self) -> Iterator[ObjectId]:
        return self.ids()

    # -- writing -------------------------------------------------------------------------

    def put(self, data: bytes, oid: ObjectId | None = None) -> ObjectId:
        oid = validate_oid(oid) if oid is not None else hash_bytes(data)
        self.objects[oid] = (self.objects[oid][0] if oid in self.objects else bytes(data), time.time())
        return oid

    def put_file(self, path: str | os.PathLike[str]) -> tuple[ObjectId, int]:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise StoreError(f"could not store {os.fspath(path)}: {e.strerror or e}") from e
        return self.put(data, ObjectId(blake3(data).hexdigest())), len(data)

    def batch(self) -> MemoryBatch:
        return MemoryBatch(self)

    # -- maintenance -----------------------------------------------------------------------

    def new_aside(self) -> MemoryAside:
        aside = MemoryAside(self, f"trash-memory-{os.urandom(4).hex()}")
        self._asides[aside.name] = aside
        return aside

    def asides(self) -> list[MemoryAside]:
        return [self._asides[n] for n in sorted(self._asides)]

    def quarantine(self, oid: ObjectId) -> str:
        data, _ = self.objects.pop(validate_oid(oid), (None, 0.0))
        if data is None:
            raise ObjectNotFound(oid)
        self.quarantined[oid] = data
        return f"quarantine/{oid}"

    def remove(self, oid: ObjectId) -> None:
        self.objects.pop(validate_oid(oid), None)

    def epoch(self) -> str | None:
        return self._epoch

    def bump_epoch(self) -> str:
        self._epoch = os.urandom(16).hex()
        return self._epoch

    @property
    def lazy(self) -> bool:
        return False  # nothing to fetch from: an absent object is absent


class MemoryBatch:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._pending: dict[ObjectId, bytes] = {}

    def add(self, data: bytes, oid: ObjectId | None = None) -> ObjectId:
        oid = validate_oid(oid) if oid is not None else hash_bytes(data)  # refused now, as the local store does
        if oid in self.store.objects:
            self.store.put(data, oid)  # refreshes its mtime, as the local store does
        else:
            self._pending.setdefault(oid, bytes(data))
        return oid

    def commit(self) -> None:
        pending, self._pending = self._pending, {}
        for oid, data in pending.items():
            self.store.put(data, oid)

    def abort(self) -> None:
        self._pending.clear()

    def __enter__(self) -> MemoryBatch:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


class MemoryAside:
    def __init__(self, store: MemoryStore, name: str) -> None:
        self.store = store
        self.name = name
        self.objects: dict[str, tuple[bytes, float]] = {}

    def move(self, oid: ObjectId) -> bool:
        entry = self.store.objects.pop(validate_oid(oid), None)
        if entry is None:
            return False
        self.objects[oid] = entry
        return True

    def has(self, oid: ObjectId) -> bool:
        return validate_oid(oid) in self.objects

    def get(self, oid: ObjectId, *, limit: int | None = None) -> bytes:
        try:
            data = self.objects[validate_oid(oid)][0]
        except KeyError:
            raise ObjectNotFound(oid) from None
        if limit is not None and len(data) > limit:
            raise CorruptObject(oid, f"it is larger than {limit} bytes")
        return data

    def head(self, oid: ObjectId, n: int) -> bytes:
        return self.get(oid)[:n]

    def mtime(self, oid: ObjectId) -> float | None:
        entry = self.objects.get(validate_oid(oid))
        return None if entry is None else entry[1]

    def scan(self) -> Iterator[ObjectInfo]:
        for oid, (data, mtime) in sorted(self.objects.items()):
            yield ObjectInfo(ObjectId(oid), len(data), mtime, _REG)

    def put_back(self, oid: ObjectId) -> None:
        entry = self.objects.pop(validate_oid(oid), None)
        if entry is not None:
            self.store.objects.setdefault(oid, entry)  # a copy written meanwhile stays

    def delete(self, oid: ObjectId) -> bool:
        return self.objects.pop(validate_oid(oid), None) is not None

    def close(self) -> None:
        if not self.objects:
            self.store._asides.pop(self.name, None)


if TYPE_CHECKING:  # mypy proves the in-memory store implements the storage interface
    _conforms: ObjectBackend = MemoryStore()
