"""Immutable content-addressed objects under .tmt/objects/ab/cdef…, written once, read-only."""
from __future__ import annotations

import os
import stat as statmod
import threading
from collections.abc import Iterator
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import BinaryIO

from blake3 import blake3

from tmt.errors import CorruptObject, ObjectNotFound, StoreError, UnsafePath
from tmt.store.fsutil import LINK_UNSUPPORTED, _hint_for, _unlink_quiet, syncfs, tmp_name, write_tmp
from tmt.store.nofollow import NotAFile, describe, forget_all, open_file, own_dir, read_file, remake
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
        forget_all()  # opening a store: what was checked before is checked again (nofollow)
        self.tmt_dir = Path(tmt_dir)
        self.objects_dir = self.tmt_dir / "objects"
        self.tmp_dir = self.tmt_dir / "tmp"
        self._epoch_path = self.tmt_dir / "gc.epoch"
        self._lazy: bool | None = None  # a lazy clone (`tmt clone --lazy`)? known on first miss

    # -- reading -------------------------------------------------------------------------

    # Public methods validate ids: an unchecked string such as '' or '../x' would otherwise
    # name a path outside objects/ (has('') was True: it named the objects folder itself).
    # Every read goes through tmt.store.nofollow: objects/ and the fan-out folder must be real
    # folders, and the object a regular file, opened without following a link or blocking
    # on a FIFO. Anything else is a corrupt object, never a way out of the store. In a lazy
    # clone (`tmt clone --lazy`) a missing object is fetched from its remote first.

    def path(self, oid: ObjectId) -> Path:
        validate_oid(oid)
        path = self.objects_dir / oid[:2] / oid[2:]
        if self._lazy is None:
            self._lazy = os.path.exists(self.tmt_dir / "lazy-remote")
        if self._lazy and not os.path.lexists(path):
            self._fetch_missing(oid)  # callers open or link the path next
        return path

    def has(self, oid: ObjectId) -> bool:
        """Whether the object is in the store as a regular file (in a real fan-out folder)."""
        try:
            return statmod.S_ISREG(self.stat(oid, _fetch=False).st_mode)
        except (ObjectNotFound, CorruptObject, UnsafePath):
            return False

    def _fspath(self, oid: str) -> str:
        return f"{self.objects_dir}/{oid[:2]}/{oid[2:]}"

    def _fan(self, oid: str, create: bool = False) -> None:
        """Check (or make) objects/ and the object's fan-out folder: real folders, no links."""
        own_dir(self.tmt_dir, f"objects/{oid[:2]}", create=create)

    def stat(self, oid: ObjectId, *, _fetch: bool = True) -> os.stat_result:
        """lstat of the object file: ObjectNotFound when absent, CorruptObject when it is not
        a regular file (a link, FIFO, device, socket or folder)."""
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            st = os.lstat(path)
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.stat(oid, _fetch=False)
        if not statmod.S_ISREG(st.st_mode):
            raise CorruptObject(oid, f"it is {describe(st.st_mode)}, not a file")
        return st

    def get(self, oid: ObjectId, *, verify: bool = False, limit: int | None = None, fetch: bool = True) -> bytes:
        """The object's bytes. With `limit`, an object longer than that is refused
        (CorruptObject): a caller that expects a tree or a link target bounds its memory.
        `fetch=False` reads only what is here, even in a lazy clone (gc, fsck)."""
        data = self.head(oid, None if limit is None else limit + 1, _fetch=fetch)
        if limit is not None and len(data) > limit:
            raise CorruptObject(oid, f"it is larger than {limit} bytes")
        if verify and hash_bytes(data) != oid:
            raise CorruptObject(oid, "its content does not match its id")
        return data

    def head(self, oid: ObjectId, n: int | None = None, *, _fetch: bool = True) -> bytes:
        """The first `n` bytes of the object (all of it when None)."""
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            return read_file(path, None if n is None else max(n - 1, 0))[: n]
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.head(oid, n, _fetch=False)
        except NotAFile as e:
            raise CorruptObject(oid, e.strerror) from None
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e

    def open(self, oid: ObjectId, *, _fetch: bool = True) -> BinaryIO:
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            return open_file(path)
        except FileNotFoundError:
            if not (_fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.open(oid, _fetch=False)
        except NotAFile as e:
            raise CorruptObject(oid, e.strerror) from None
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e

    def size(self, oid: ObjectId) -> int:
        return self.stat(oid).st_size

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
        """Every object id on disk (names that are not ids, and fan-out folders that are not
        real folders, are skipped: fsck reports them)."""
        try:
            fans = sorted(os.listdir(own_dir(self.tmt_dir, "objects")))
        except (FileNotFoundError, UnsafePath):
            return
        for fan in fans:
            if len(fan) != 2 or not set(fan) <= HEX_DIGITS:
                continue
            try:
                names = sorted(os.listdir(own_dir(self.tmt_dir, f"objects/{fan}")))
            except (NotADirectoryError, FileNotFoundError, UnsafePath):
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
        tmp = tmp_name(own_dir(self.tmt_dir, "tmp", create=True))
        size = 0
        try:
            with open(path, "rb") as src, open(tmp, "xb") as dst:
                while chunk := src.read(1 << 20):
                    hasher.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                dst.flush()
                os.fsync(dst.fileno())
                os.fchmod(dst.fileno(), OBJECT_MODE)
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
        """Whether the object exists (then its mtime is refreshed: gc treats it as new).

        Something planted where the object belongs (a link, FIFO, device) is not the object:
        it is removed (the entry itself, never what a link points to) and False returned,
        so the caller writes the real bytes in its place.
        """
        path = self._fspath(oid)
        try:
            self._fan(oid)
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        if not statmod.S_ISREG(st.st_mode):
            _remove_planted(path, st.st_mode)
            return False
        try:
            os.utime(path, follow_symlinks=False)
            return True
        except FileNotFoundError:
            return False
        except PermissionError:
            # Someone else's read-only object (shared store): it exists, which is all we need.
            return True

    def _publish(self, tmp: str, oid: ObjectId) -> None:
        final = self._fspath(oid)
        try:
            self._fan(oid, create=True)
            try:
                try:
                    _link_or_rename(tmp, final)
                except FileNotFoundError:  # the fan-out folder was removed since its check
                    remake(self.tmt_dir, f"objects/{oid[:2]}")
                    _link_or_rename(tmp, final)
            except FileExistsError:
                # Another writer published the same content first (same bytes: nothing to
                # do), or something planted was there (removed by the check): link again.
                if self._refresh_if_present(oid):
                    _unlink_quiet(tmp)
                else:
                    _link_or_rename(tmp, final)
        except FileExistsError:
            _unlink_quiet(tmp)
            self._refresh_if_present(oid)
        except UnsafePath:
            _unlink_quiet(tmp)
            raise
        except OSError as e:
            _unlink_quiet(tmp)
            raise StoreError(f"could not publish object {oid}: {e.strerror or e}", _hint_for(e)) from e

    def remove(self, oid: ObjectId) -> None:
        """Delete one object (gc and fsck only)."""
        validate_oid(oid)
        try:
            self._fan(oid)
        except (FileNotFoundError, UnsafePath):
            return
        _unlink_quiet(self._fspath(oid))

    # -- gc epoch --------------------------------------------------------------------------

    def epoch(self) -> str | None:
        """A token that changes whenever gc may have removed objects.

        Snapshot caches remember the token under which they last saw their objects exist; the
        same token means nothing was removed since, so the existence checks can be skipped.
        """
        try:
            return read_file(self._epoch_path, limit=256).decode("ascii").strip() or None
        except (OSError, ValueError):  # absent, or not tmt's (a link, a FIFO, junk): untrusted
            return None

    def bump_epoch(self) -> str:
        from tmt.store.fsutil import atomic_write

        token = os.urandom(16).hex()  # not `secrets`: its import costs ~7 ms of start-up
        atomic_write(self._epoch_path, token.encode(), self.tmp_dir)
        return token


def _remove_planted(path: str, mode: int) -> None:
    """Remove a non-file found where an object belongs (unlink never follows a link); a
    folder there is refused: its content is not ours to delete."""
    if statmod.S_ISDIR(mode):
        raise UnsafePath(f"{path} is a folder where tmt keeps an object", "run `tmt fsck --repair`, which moves it aside")
    _unlink_quiet(path)


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
        own_dir(store.tmt_dir, "tmp", create=True)

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
