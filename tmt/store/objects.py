"""Immutable content-addressed objects under .tmt/objects/ab/cdef…, written once, read-only."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import BinaryIO

from blake3 import blake3

from tmt.errors import CorruptObject, ObjectNotFound, StoreError
from tmt.store.fsutil import LINK_UNSUPPORTED, _hint_for, _unlink_quiet, syncfs, tmp_name, write_tmp
from tmt.store.ids import HEX_DIGITS, OID_HEX_LEN, ObjectId, hash_bytes, validate_oid

OBJECT_MODE = 0o444


class ObjectStore:
    """Blobs and trees by id. Knows nothing of runs.

    Write order inside one object: temp file under tmp/, data flushed to disk, then a
    hard link (or rename) publishes it under its id. A reader therefore sees a whole object
    or none. Adding an object that exists refreshes its mtime, so a concurrent gc with a
    grace period treats it as new.
    """

    def __init__(self, tmt_dir: str | os.PathLike[str]) -> None:
        self.tmt_dir = Path(tmt_dir)
        self.objects_dir = self.tmt_dir / "objects"
        self.tmp_dir = self.tmt_dir / "tmp"
        self._epoch_path = self.tmt_dir / "gc.epoch"
        self._lazy: bool | None = None  # a lazy clone (`tmt clone --lazy`)? known on first miss

    # -- reading -------------------------------------------------------------------------

    # Public methods validate ids: an unchecked string such as '' or '../x' would otherwise
    # name a path outside objects/ (has('') was True: it named the objects folder itself).

    def path(self, oid: ObjectId) -> Path:
        validate_oid(oid)
        path = self.objects_dir / oid[:2] / oid[2:]
        if self._lazy is None:
            self._lazy = os.path.exists(self.tmt_dir / "lazy-remote")
        if self._lazy and not path.exists():
            self._fetch_missing(oid)  # callers open or link the path next
        return path

    def has(self, oid: ObjectId) -> bool:
        return os.path.exists(self._fspath(validate_oid(oid)))

    def _fspath(self, oid: str) -> str:
        return f"{self.objects_dir}/{oid[:2]}/{oid[2:]}"

    def get(self, oid: ObjectId, *, verify: bool = False, _fetch: bool = True) -> bytes:
        try:
            with open(self._fspath(validate_oid(oid)), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.get(oid, verify=verify, _fetch=False)
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e
        if verify and hash_bytes(data) != oid:
            raise CorruptObject(oid, "its content does not match its id")
        return data

    def open(self, oid: ObjectId, *, _fetch: bool = True) -> BinaryIO:
        try:
            return open(self._fspath(validate_oid(oid)), "rb")
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.open(oid, _fetch=False)

    def size(self, oid: ObjectId, *, _fetch: bool = True) -> int:
        try:
            return os.stat(self._fspath(validate_oid(oid))).st_size
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.size(oid, _fetch=False)

    def _fetch_missing(self, oid: ObjectId) -> bool:
        """In a lazy clone, fetch a missing object from its remote (tmt/remote/lazy.py);
        elsewhere (the marker file is looked for once) False at no cost."""
        if self._lazy is None:
            self._lazy = os.path.exists(self.tmt_dir / "lazy-remote")
        if not self._lazy:
            return False
        from tmt.remote.lazy import fetch_missing

        return fetch_missing(self, oid)

    def __iter__(self) -> Iterator[ObjectId]:
        """Every object id on disk (names that are not ids are skipped)."""
        try:
            fans = sorted(os.listdir(self.objects_dir))
        except FileNotFoundError:
            return
        for fan in fans:
            if len(fan) != 2 or not set(fan) <= HEX_DIGITS:
                continue
            try:
                names = sorted(os.listdir(self.objects_dir / fan))
            except (NotADirectoryError, FileNotFoundError):
                continue
            for name in names:
                oid = fan + name
                if len(oid) == OID_HEX_LEN and set(name) <= HEX_DIGITS:
                    yield ObjectId(oid)

    # -- writing -------------------------------------------------------------------------

    def put(self, data: bytes, oid: ObjectId | None = None) -> ObjectId:
        """Store `data` (fsynced) and return its id. `oid`, if given, must be its hash."""
        oid = validate_oid(oid) if oid is not None else hash_bytes(data)
        if self._refresh_if_present(oid):
            return oid
        try:
            tmp = write_tmp(str(self.tmp_dir), data, mode=OBJECT_MODE)
        except OSError as e:
            raise StoreError(f"could not write object {oid}: {e.strerror or e}", _hint_for(e)) from e
        self._publish(tmp, oid)
        return oid

    def put_file(self, path: str | os.PathLike[str]) -> tuple[ObjectId, int]:
        """Stream a file of any size into the store: hash while copying to a temp file."""
        hasher = blake3()
        tmp = tmp_name(self.tmp_dir)
        size = 0
        try:
            os.makedirs(self.tmp_dir, exist_ok=True)
            with open(path, "rb") as src, open(tmp, "xb") as dst:
                while chunk := src.read(1 << 20):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
            os.chmod(tmp, OBJECT_MODE)
        except OSError as e:
            _unlink_quiet(tmp)
            raise StoreError(f"could not store {os.fspath(path)}: {e.strerror or e}", _hint_for(e)) from e
        oid = ObjectId(hasher.hexdigest())
        if self._refresh_if_present(oid):
            _unlink_quiet(tmp)
        else:
            self._publish(tmp, oid)
        return oid, size

    def batch(self) -> "Batch":
        return Batch(self)

    def _refresh_if_present(self, oid: ObjectId) -> bool:
        try:
            os.utime(self._fspath(oid))
            return True
        except FileNotFoundError:
            return False
        except PermissionError:
            # Someone else's read-only object (shared store): it exists, which is all we need.
            return True

    def _publish(self, tmp: str, oid: ObjectId) -> None:
        final = self._fspath(oid)
        try:
            try:
                _link_or_rename(tmp, final)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                _link_or_rename(tmp, final)
        except FileExistsError:
            # Another writer published the same content first; same bytes, so nothing to do.
            _unlink_quiet(tmp)
            self._refresh_if_present(oid)
        except OSError as e:
            _unlink_quiet(tmp)
            raise StoreError(f"could not publish object {oid}: {e.strerror or e}", _hint_for(e)) from e

    def remove(self, oid: ObjectId) -> None:
        """Delete one object (gc and fsck only)."""
        _unlink_quiet(self._fspath(validate_oid(oid)))

    # -- gc epoch --------------------------------------------------------------------------

    def epoch(self) -> str | None:
        """A token that changes whenever gc may have removed objects.

        Snapshot caches remember the token under which they last saw their objects exist; the
        same token means nothing was removed since, so the existence checks can be skipped.
        """
        try:
            return self._epoch_path.read_text().strip() or None
        except OSError:
            return None

    def bump_epoch(self) -> str:
        from tmt.store.fsutil import atomic_write

        token = os.urandom(16).hex()  # not `secrets`: its import costs ~7 ms of start-up
        atomic_write(self._epoch_path, token.encode(), self.tmp_dir)
        return token


def _link_or_rename(tmp: str, final: str) -> None:
    # link() refuses to replace an existing object, which is what write-once wants; where
    # hard links are not supported, rename() replaces an identical object harmlessly.
    try:
        os.link(tmp, final)
    except OSError as e:
        if e.errno in LINK_UNSUPPORTED:
            os.replace(tmp, final)
            return
        raise
    _unlink_quiet(tmp)


class Batch:
    """Many objects written with one file-system sync instead of one fsync each.

    Temp files are written unsynced; `commit()` syncs the file system once, then publishes
    them all. Until commit nothing is visible under objects/, so a crash leaves only temp
    files, which gc removes.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._pending: dict[ObjectId, str] = {}
        self._lock = threading.Lock()
        os.makedirs(store.tmp_dir, exist_ok=True)

    def add(self, data: bytes, oid: ObjectId | None = None) -> ObjectId:
        oid = oid or hash_bytes(data)
        with self._lock:
            if oid in self._pending:
                return oid
        if self.store._refresh_if_present(oid):
            return oid
        try:
            tmp = write_tmp(str(self.store.tmp_dir), data, fsync=False, mode=OBJECT_MODE)
        except OSError as e:
            raise StoreError(f"could not write object {oid}: {e.strerror or e}", _hint_for(e)) from e
        with self._lock:
            if oid in self._pending:
                _unlink_quiet(tmp)
            else:
                self._pending[oid] = tmp
        return oid

    def commit(self) -> None:
        if not self._pending:
            return
        try:
            if not syncfs(self.store.tmp_dir):
                for tmp in self._pending.values():
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
        except OSError as e:
            # Unsynced objects must not be published: a crash could leave them torn.
            self.abort()
            raise StoreError(
                f"could not write new objects to {self.store.tmp_dir}: {e.strerror or e}", _hint_for(e)
            ) from e
        pending, self._pending = self._pending, {}
        for oid, tmp in pending.items():
            self.store._publish(tmp, oid)

    def abort(self) -> None:
        for tmp in self._pending.values():
            _unlink_quiet(tmp)
        self._pending.clear()

    def __enter__(self) -> "Batch":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
