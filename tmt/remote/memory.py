"""An in-memory backend: the reference the conformance suite holds the others to, and the
fastest remote for tests of push/pull logic (`memory://name` names one per process)."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt.remote.backend import Info, RemoteNotFound

_BUCKETS: dict[str, "MemoryBackend"] = {}
_BUCKETS_LOCK = threading.Lock()


class MemoryBackend:
    concurrency = 4

    def __init__(self, url: str = "memory://", *, create_only: bool = True) -> None:
        self.url = url
        #: False imitates a server that ignores If-None-Match (overwrites, reports success)
        self.create_only = create_only
        self._objects: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    @classmethod
    def named(cls, url: str) -> "MemoryBackend":
        """The process-wide backend for `memory://NAME` (one per name, like a bucket)."""
        with _BUCKETS_LOCK:
            if url not in _BUCKETS:
                _BUCKETS[url] = cls(url)
            return _BUCKETS[url]

    def put_create(self, key: str, data: bytes | Path) -> bool:
        body = data.read_bytes() if isinstance(data, Path) else bytes(data)
        with self._lock:
            if key in self._objects and self.create_only:
                return False
            self._objects[key] = (body, time.time())
            return True

    def get(self, key: str, into: Path | None = None) -> bytes | int:
        with self._lock:
            hit = self._objects.get(key)
        if hit is None:
            raise RemoteNotFound(key)
        if into is not None:
            with open(into, "xb") as f:
                f.write(hit[0])
            return len(hit[0])
        return hit[0]

    def head(self, key: str) -> Info | None:
        with self._lock:
            hit = self._objects.get(key)
        return None if hit is None else Info(key, len(hit[0]), hit[1])

    def list(self, prefix: str) -> Iterator[Info]:
        with self._lock:
            items = [(k, v) for k, v in self._objects.items() if k.startswith(prefix)]
        for key, (body, mtime) in items:
            yield Info(key, len(body), mtime)

    def delete_many(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._objects.pop(key, None)

    def close(self) -> None:
        pass

    # -- for tests -----------------------------------------------------------------------

    def set_mtime(self, key: str, mtime: float) -> None:
        """Age an object (a server's clock cannot be set from outside; tests of gc's grace)."""
        with self._lock:
            body, _ = self._objects[key]
            self._objects[key] = (body, mtime)
