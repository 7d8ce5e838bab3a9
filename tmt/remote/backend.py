"""The remote interface: the five operations every backend (memory, folder, S3) provides.

Push, pull, clone and remote gc use nothing else, so a backend is small and the same
conformance suite (tests/remote/test_remote_conformance.py) runs on each. Keys are '/'-separated
names relative to the remote's root (`objects/ab/cdef…`, `records/<id>/…`).

- `put_create(key, data)`: create-only. True when this call created the object, False when
  an object of that name already existed (and is left untouched). A reader sees the whole
  object or none of it.
- `get(key, into=None)`: the object's bytes, or with `into` (a path) the object streamed
  into that new file (large objects), returning its size. RemoteNotFound when absent.
- `head(key)`: its Info, or None when absent.
- `list(prefix)`: every object whose key starts with `prefix`, in no particular order.
- `delete_many(keys)`: delete them (absent ones are no error). Only remote gc calls it.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tmt.errors import RemoteError


@dataclass(frozen=True, slots=True)
class Info:
    key: str
    size: int
    mtime: float  # seconds since the epoch, by the server's clock (S3 LastModified)


class RemoteNotFound(RemoteError, KeyError):
    def __init__(self, key: str) -> None:
        super().__init__(f"{key} is missing from the remote")
        self.key = key

    __str__ = RemoteError.__str__


class Backend(Protocol):
    url: str  # for messages: "s3://bucket/prefix", "/mnt/share/tmt"
    #: how many requests push and pull keep in flight at once
    concurrency: int

    def put_create(self, key: str, data: bytes | Path) -> bool: ...

    def get(self, key: str, into: Path | None = None) -> bytes | int: ...

    def head(self, key: str) -> Info | None: ...

    def list(self, prefix: str) -> Iterator[Info]: ...

    def delete_many(self, keys: Iterable[str]) -> None: ...

    def close(self) -> None: ...
