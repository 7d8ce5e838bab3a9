"""A remote as push, pull, clone and remote gc use it: the layout on top of one backend.

Everything read from a remote is untrusted: objects are re-hashed before anyone uses them,
records are validated like local ones, and names that are not tmt's are ignored.
"""
from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TypeVar, overload

from tmt.errors import CorruptObject, RemoteError
from tmt.remote import layout
from tmt.remote.backend import Backend, Info, RemoteNotFound
from tmt.remote.config import RemoteSpec
from tmt.store.ids import hash_bytes
from tmt.text import printable

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[str, int, int], None]


def open_backend(spec: RemoteSpec) -> Backend:
    url = spec.url
    if url.startswith("s3://"):
        from tmt.remote.s3 import S3Backend

        bucket, _, prefix = url[len("s3://"):].partition("/")
        return S3Backend(bucket, prefix, endpoint_url=spec.endpoint_url, profile=spec.profile, region=spec.region)
    if url.startswith("memory://"):
        from tmt.remote.memory import MemoryBackend

        return MemoryBackend.named(url)
    from tmt.remote.folder import FolderBackend

    return FolderBackend(url)


#: Record versions by run id.
Versions = dict[str, list[layout.Version]]
#: (gc id, candidate ids) of the remote gcs that set objects aside and have not swept them.
PendingGcs = list[tuple[str, set[str]]]


class Remote:
    def __init__(self, backend: Backend, name: str = "") -> None:
        self.backend = backend
        self.name = name
        self.url = backend.url
        self._pending: list[tuple[str, set[str]]] | None = None

    @classmethod
    def open(cls, spec: RemoteSpec) -> "Remote":
        return cls(open_backend(spec), spec.name)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> "Remote":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls, with a folder's OSError named ------------------------------------------------

    def call(self, fn: Callable[..., T], *args) -> T:
        try:
            return fn(*args)
        except OSError as e:
            where = f"{os.fsdecode(e.filename)}: " if getattr(e, "filename", None) else ""
            hint = "check that the remote's folder is mounted and writable" if e.errno else None
            raise RemoteError(f"remote {self.url}: {where}{e.strerror or e}", hint) from e

    def list(self, prefix: str) -> list[Info]:
        return self.call(lambda: list(self.backend.list(prefix)))

    def put(self, key: str, data: bytes | Path) -> bool:
        return self.call(self.backend.put_create, key, data)

    @overload
    def get(self, key: str, into: None = None) -> bytes: ...
    @overload
    def get(self, key: str, into: Path) -> int: ...

    def get(self, key: str, into: Path | None = None) -> bytes | int:
        """The bytes at `key`, or (`into`) their length, streamed into that new file."""
        return self.call(self.backend.get, key, into)

    def head(self, key: str) -> Info | None:
        return self.call(self.backend.head, key)

    # -- the marker ------------------------------------------------------------------------

    def check(self, *, create: bool) -> bool:
        """Whether this is a tmt remote (creating the marker first when `create`); refuses a
        newer layout."""
        try:
            data = self.get(layout.MARKER)
        except RemoteNotFound:
            if not create:
                root = getattr(self.backend, "root", None)  # a folder remote
                if root is not None and not os.path.isdir(root):
                    raise RemoteError(
                        f"the remote folder {printable(self.url)} does not exist",
                        "check that the disk or share is mounted and the path is right (tmt remote show)",
                    ) from None
                return False
            self.put(layout.MARKER, layout.MARKER_BYTES)
            return True
        try:
            fmt = json.loads(data).get("format")
        except (ValueError, AttributeError):
            fmt = None
        if fmt != layout.REMOTE_FORMAT:
            raise RemoteError(
                f"{self.url} holds {layout.MARKER} of format {printable(str(fmt))!r}; this tmt reads format "
                f"{layout.REMOTE_FORMAT}",
                "upgrade tmt (pip install -U ThatMetricTimeline), or choose another prefix",
            )
        return True

    # -- records ---------------------------------------------------------------------------

    def record_versions(self) -> Versions:
        """Every record version on the remote, by run id (one listing)."""
        out: dict[str, list[layout.Version]] = {}
        for info in self.list(layout.RECORDS):
            v = layout.parse_version(info.key)
            if v is not None:
                out.setdefault(v.run_id, []).append(v)
        return out

    # -- objects ---------------------------------------------------------------------------

    def has_object(self, oid: str) -> bool:
        return self.head(layout.object_key(oid)) is not None

    def object_ids(self) -> dict[str, Info]:
        """Every object under objects/ (a full listing: for gc, fsck and large first pushes)."""
        out = {}
        for info in self.list(layout.OBJECTS):
            oid = layout.oid_of(info.key)
            if oid is not None:
                out[oid] = info
        return out

    def put_object(self, oid: str, data: bytes | Path) -> bool:
        return self.put(layout.object_key(oid), data)

    @overload
    def get_object(self, oid: str, into: None = None) -> bytes: ...
    @overload
    def get_object(self, oid: str, into: Path) -> int: ...

    def get_object(self, oid: str, into: Path | None = None) -> bytes | int:
        """An object's bytes (or streamed `into` a new file, not verified here: the caller
        re-hashes the file before publishing it). Falls back to the fossils of pending gcs,
        where a gc set aside what a push adopted at the same moment."""
        keys = [layout.object_key(oid)]
        data: bytes | int | None
        try:
            data = self.get(keys[0], into)
        except RemoteNotFound:
            data = None
            for gc_id, _ in self.pending_gcs():
                try:
                    if into is not None and into.exists():
                        into.unlink()
                    data = self.get(layout.fossil_key(gc_id, oid), into)
                    break
                except RemoteNotFound:
                    continue
            if data is None:
                raise
        if isinstance(data, bytes) and hash_bytes(data) != oid:  # (bytes: not streamed `into` a file)
            raise CorruptObject(oid, f"the copy on {self.url} does not match its id",
                                f"run `tmt fsck --remote {self.name or 'NAME'}`")
        return data

    # -- remote gc state, as pushes and readers need it --------------------------------------

    def pending_gcs(self, *, refresh: bool = False) -> PendingGcs:
        """(gc id, candidate ids) of every remote gc that set objects aside and has not swept
        them yet. Usually an empty listing."""
        if self._pending is None or refresh:
            pending = []
            for info in self.list(layout.GC):
                gc_id = layout.parse_named(info.key, layout.GC, ".json")
                if gc_id is None:
                    continue
                try:
                    doc = json.loads(self.get(info.key))
                    cands = {c for c in doc.get("candidates", []) if isinstance(c, str)}
                except (RemoteNotFound, ValueError, AttributeError):
                    continue  # swept meanwhile, or not ours
                pending.append((gc_id, cands))
            self._pending = sorted(pending)
        return self._pending

    # -- create-only probe -------------------------------------------------------------------

    def probe_create_only(self) -> bool:
        """Whether the server refuses to overwrite (If-None-Match honoured): two create-only
        puts of one new name must give created, then exists."""
        key = f"{layout.PROBES}{time.time_ns():020d}{os.urandom(6).hex()}"
        self.put(key, b"1")
        return not self.put(key, b"2")


def parallel(fn: Callable[[T], R], items: Iterable[T], workers: int, progress: Callable[[int], None] | None = None) -> list[R]:
    """fn over items on `workers` threads, results in order; the first error cancels the rest
    and is raised (Ctrl-C too: the workers stop taking new items)."""
    items = list(items)
    if not items:
        return []
    if workers <= 1 or len(items) == 1:
        out = []
        for i, it in enumerate(items):
            out.append(fn(it))
            if progress:
                progress(i + 1)
        return out
    done = 0
    lock = threading.Lock()
    stop = threading.Event()

    def one(it: T) -> R:
        nonlocal done
        if stop.is_set():
            raise _Cancelled()
        r = fn(it)
        if progress:
            with lock:
                done += 1
                n = done
            progress(n)
        return r

    pool = ThreadPoolExecutor(min(workers, len(items)))
    try:
        futures = [pool.submit(one, it) for it in items]
        finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in futures:
            error = f.exception() if f.done() and not f.cancelled() else None
            if error is not None and not isinstance(error, _Cancelled):
                stop.set()
                raise error
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        for f in futures if "futures" in locals() else ():
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Cancelled(Exception):
    pass
