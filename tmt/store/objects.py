"""Immutable content-addressed objects under .tmt/objects/ab/cdef…, written once, read-only."""
from __future__ import annotations

import errno
import os
import stat as statmod
import _thread  # its lock; threading costs every run about a millisecond to import
from collections.abc import Container, Iterator
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

    from tmt.store.backend import ObjectBackend

from blake3 import blake3

from tmt.errors import CorruptObject, ObjectNotFound, StoreError, UnsafePath
from tmt.store.fsutil import LINK_UNSUPPORTED, _hint_for, _unlink_quiet, syncfs, tmp_name, write_tmp
from tmt.store.backend import ObjectInfo, Verified, checked_get
from tmt.store.nofollow import LAZY_MARKER, O_READ, TRASH_PREFIX, NotAFile, describe, forget_all, open_file, own_dir, read_file, remake
from tmt.store.ids import HEX_DIGITS, OID_HEX_LEN, OID_RE, ObjectId, hash_bytes, validate_oid

OBJECT_MODE = 0o444
QUARANTINE = "quarantine"
_CHUNK = 1 << 20
_WHOLE_READ_MAX = 16 << 20  # verify reads smaller objects in one call, streams bigger ones
_new = tuple.__new__


class ObjectStore:
    """Blobs and trees by id, in files under .tmt/objects/: the local backend of the storage
    interface (tmt/store/backend.py, docs/architecture.md). Knows nothing of runs.

    Write order inside one object: temp file under tmp/, data flushed to disk, then a
    hard link (or rename) publishes it under its id. A reader therefore sees a whole object
    or none. Adding an object that exists refreshes its mtime, so a concurrent gc with a
    grace period treats it as new.

    `fetch(store, oid) -> bool` is how a lazy clone gets a missing object (the composition
    root, tmt/repo.py, passes the remote layer's; the store never imports it). Without it,
    or in a store that is not a lazy clone's, a missing object is missing.
    """

    def __init__(self, tmt_dir: str | os.PathLike[str],
                 fetch: Callable[[ObjectStore, ObjectId], bool] | None = None) -> None:
        forget_all()  # opening a store: what was checked before is checked again (nofollow)
        self.tmt_dir = Path(tmt_dir)
        self.objects_dir = self.tmt_dir / "objects"
        self._odir = os.fspath(self.objects_dir)
        self.tmp_dir = self.tmt_dir / "tmp"
        self._epoch_path = self.tmt_dir / "gc.epoch"
        self._fetch = fetch
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
            self._lazy = os.path.exists(self.tmt_dir / LAZY_MARKER)
        if self._lazy and not os.path.lexists(path):
            self._fetch_missing(oid)  # callers open or link the path next
        return path

    def has(self, oid: ObjectId) -> bool:
        """Whether the object is in the store as a regular file (in a real fan-out folder)."""
        try:
            return statmod.S_ISREG(self.stat(oid, fetch=False).st_mode)
        except (ObjectNotFound, CorruptObject, UnsafePath):
            return False

    def _fspath(self, oid: str) -> str:
        return f"{self.objects_dir}/{oid[:2]}/{oid[2:]}"

    def _fan(self, oid: str, create: bool = False) -> None:
        """Check (or make) objects/ and the object's fan-out folder: real folders, no links."""
        own_dir(self.tmt_dir, f"objects/{oid[:2]}", create=create)

    def stat(self, oid: ObjectId, *, fetch: bool = True) -> os.stat_result:
        """lstat of the object file: ObjectNotFound when absent, CorruptObject when it is not
        a regular file (a link, FIFO, device, socket or folder). `fetch=False`: what is here
        only, even in a lazy clone."""
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            st = os.lstat(path)
        except FileNotFoundError:
            if not (fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.stat(oid, fetch=False)
        if not statmod.S_ISREG(st.st_mode):
            raise CorruptObject(oid, f"it is {describe(st.st_mode)}, not a file")
        return st

    def get(self, oid: ObjectId, *, verify: bool = False, limit: int | None = None, fetch: bool = True) -> bytes:
        """The object's bytes. With `limit`, an object longer than that is refused
        (CorruptObject): a caller that expects a tree or a link target bounds its memory.
        `fetch=False` reads only what is here, even in a lazy clone (gc, fsck)."""
        return checked_get(oid, self.head(oid, None if limit is None else limit + 1, fetch=fetch), limit, verify)

    def head(self, oid: ObjectId, n: int | None = None, *, fetch: bool = True) -> bytes:
        """The first `n` bytes of the object (all of it when None)."""
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            return read_file(path, None if n is None else max(n - 1, 0))[: n]
        except FileNotFoundError:
            if not (fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.head(oid, n, fetch=False)
        except NotAFile as e:
            raise CorruptObject(oid, e.strerror) from None
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e

    def open(self, oid: ObjectId, *, fetch: bool = True) -> BinaryIO:
        path = self._fspath(validate_oid(oid))
        try:
            self._fan(oid)
            return open_file(path)
        except FileNotFoundError:
            if not (fetch and self._fetch_missing(oid)):
                raise ObjectNotFound(oid) from None
            return self.open(oid, fetch=False)
        except NotAFile as e:
            raise CorruptObject(oid, e.strerror) from None
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e

    def local_path(self, oid: ObjectId) -> str:
        """Where the object's file is (no check, no fetch): for hard-link views and for
        reading by path. The caller opens or links it without following a link (stat first,
        or O_NOFOLLOW / follow_symlinks=False), as every reader here does."""
        if not (isinstance(oid, str) and OID_RE.match(oid)):  # inline: fsck asks for every object
            validate_oid(oid)
        return f"{self._odir}/{oid[:2]}/{oid[2:]}"

    @property
    def lazy(self) -> bool:
        """Whether this is a lazy clone's store (the marker file names its remote): an absent
        object may be there, not lost (gc and fsck ask). Looked up anew on each call, as a
        clone marks its store after opening it."""
        self._lazy = os.path.exists(self.tmt_dir / LAZY_MARKER)
        return self._lazy

    def _fetch_missing(self, oid: ObjectId) -> bool:
        """In a lazy clone, fetch a missing object with the injected `fetch`; elsewhere (the
        marker file is looked for once) False at no cost."""
        if self._fetch is None:
            return False
        if self._lazy is None:
            self._lazy = os.path.exists(self.tmt_dir / LAZY_MARKER)
        return self._lazy and self._fetch(self, oid)

    # -- listing ---------------------------------------------------------------------------
    # Only names that are object ids, in real fan-out folders; fan-out folders that are links
    # or files are skipped (fsck's unsafe_path), other names are strays (fsck's stray_file).

    def shards(self) -> list[str]:
        """The fan-out folders (two hex digits), sorted: units of `ids`/`scan` for progress
        and for spreading work over threads."""
        try:
            fans = sorted(os.listdir(own_dir(self.tmt_dir, "objects")))
        except (FileNotFoundError, NotADirectoryError, UnsafePath):
            return []
        return [f for f in fans if len(f) == 2 and set(f) <= HEX_DIGITS]

    def ids(self, shard: str | None = None) -> Iterator[ObjectId]:
        """Every object id on disk (of one shard), without a stat: regular files or not."""
        for fan in (self.shards() if shard is None else [shard]):
            try:
                names = sorted(os.listdir(own_dir(self.tmt_dir, f"objects/{fan}")))
            except (NotADirectoryError, FileNotFoundError, UnsafePath):
                continue
            for name in names:
                if len(name) == OID_HEX_LEN - 2 and set(name) <= HEX_DIGITS:
                    yield ObjectId(fan + name)

    def scan(self, shard: str | None = None, skip: Container[str] = ()) -> Iterator[ObjectInfo]:
        """Every object on disk (of one shard) with its lstat: size, mtime, mode. An entry
        that is not a regular file (planted) is listed too, with its mode: gc may move it
        aside like any unreachable object, fsck reports it as corrupt. Ids in `skip` are
        listed without a stat (size, mtime and mode None): gc needs none for what it keeps,
        and the lstat of 100,000 reachable objects is most of a scan."""
        for fan in (self.shards() if shard is None else [shard]):
            try:
                it = os.scandir(own_dir(self.tmt_dir, f"objects/{fan}"))  # checked: never a link
            except (NotADirectoryError, FileNotFoundError, UnsafePath):
                continue
            with it:
                for entry in it:
                    name = entry.name
                    if len(name) != OID_HEX_LEN - 2 or not set(name) <= HEX_DIGITS:
                        continue
                    oid = fan + name
                    if oid in skip:
                        yield _new(ObjectInfo, (oid, None, None, None))
                        continue
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield _new(ObjectInfo, (ObjectId(oid), st.st_size, st.st_mtime, st.st_mode))

    def strays(self) -> Iterator[tuple[str, str]]:
        """(path, what it is not) for every entry of objects/ outside the shards: a name
        that is not a fan-out folder's. (A name inside a shard that is not an object id is
        reported by `verify`, which lists the shard anyway.)"""
        odir = os.fspath(self.objects_dir)
        try:
            fans = sorted(os.listdir(own_dir(self.tmt_dir, "objects")))
        except (FileNotFoundError, NotADirectoryError, UnsafePath):
            return
        for fan in fans:
            if len(fan) != 2 or not set(fan) <= HEX_DIGITS:
                yield f"{odir}/{fan}", "an object fan-out folder"

    def __iter__(self) -> Iterator[ObjectId]:
        return self.ids()

    def verify(self, shard: str, keep: int = 0) -> Iterator[Verified]:
        """Read back and BLAKE3 every object of one shard (fsck's hot loop): one listing,
        then os.open/os.read sized by fstat (one allocation, no file object), streaming
        objects above 16 MiB. An object whose whole bytes are at most `keep` long comes with
        them (fsck keeps trees in memory). A name that is not an object id comes as a stray:
        oid None, its path as `problem` (an id's syntax is checked only when its hash does
        not match: the listing is not walked twice)."""
        path = f"{self.objects_dir}/{shard}"
        try:
            names = os.listdir(own_dir(self.tmt_dir, f"objects/{shard}"))
        except (OSError, UnsafePath):
            return
        for name in names:
            if len(name) != OID_HEX_LEN - 2:
                yield _new(Verified, (None, 0, None, None, f"{path}/{name}"))
                continue
            oid = ObjectId(shard + name)
            fpath = f"{path}/{name}"
            try:
                fd = os.open(fpath, O_READ)
            except FileNotFoundError:
                continue  # removed by a concurrent gc
            except OSError as e:
                if not set(name) <= HEX_DIGITS:
                    yield _new(Verified, (None, 0, None, None, fpath))
                    continue
                reason = "it is a symbolic link, not a file" if e.errno == errno.ELOOP else f"cannot be read: {e.strerror}"
                yield Verified(oid, 0, None, None, reason)
                continue
            data = None
            try:
                st = os.fstat(fd)
                if not statmod.S_ISREG(st.st_mode):  # a FIFO (opened without blocking), device, folder
                    if set(name) <= HEX_DIGITS:
                        yield Verified(oid, 0, None, None, f"it is {describe(st.st_mode)}, not a file")
                    else:
                        yield _new(Verified, (None, 0, None, None, fpath))
                    continue
                if st.st_size <= _WHOLE_READ_MAX:
                    data = os.read(fd, st.st_size)
                    if len(data) < st.st_size:  # a short read: finish it
                        parts = [data]
                        while chunk := os.read(fd, _CHUNK):
                            parts.append(chunk)
                        data = b"".join(parts)
                    h = blake3(data)
                    size = len(data)
                else:  # stream big objects: memory stays bounded
                    h = blake3()
                    size = 0
                    while chunk := os.read(fd, _CHUNK * 8):
                        h.update(chunk)
                        size += len(chunk)
                digest = h.hexdigest()
            except OSError as e:
                if set(name) <= HEX_DIGITS:
                    yield Verified(oid, 0, None, None, f"cannot be read: {e.strerror}")
                else:
                    yield _new(Verified, (None, 0, None, None, fpath))
                continue
            finally:
                os.close(fd)
            if digest != oid and not set(name) <= HEX_DIGITS:
                yield _new(Verified, (None, 0, None, None, fpath))  # not an object's name
                continue
            # tuple.__new__: a namedtuple's own constructor is a Python call, here per object
            yield _new(Verified, (oid, size, digest, data if data is not None and size <= keep else None, None))

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

    def quarantine(self, oid: ObjectId) -> str:
        """Move object `oid` (corrupt, or something planted in its place) into
        .tmt/quarantine/ by rename: never deleted (it may be someone's only copy), a link
        moved as a link. Returns where it went; ObjectNotFound when it is absent."""
        try:
            self._fan(validate_oid(oid))
            return os.fspath(quarantine_path(self.tmt_dir, Path(self._fspath(oid)), oid))
        except FileNotFoundError:
            raise ObjectNotFound(oid) from None

    # -- set aside (gc's trash) --------------------------------------------------------------

    def new_aside(self) -> "LocalAside":
        """A new, empty set of objects moved aside: `.tmt/trash-<host>-<pid>-<token>/`."""
        from tmt._sys import hostname, token_hex

        path = self.tmt_dir / f"{TRASH_PREFIX}{hostname()}-{os.getpid()}-{token_hex(4)}"
        path.mkdir()
        return LocalAside(self, path)

    def asides(self) -> list["LocalAside"]:
        """Every set aside now (a running gc's, or a crashed one's): real folders named
        trash-* only (a link named so is never followed; fsck reports it as unsafe_path)."""
        out = []
        try:
            names = os.listdir(self.tmt_dir)
        except FileNotFoundError:
            return []
        for name in sorted(names):
            if name.startswith(TRASH_PREFIX):
                try:
                    if statmod.S_ISDIR(os.lstat(self.tmt_dir / name).st_mode):
                        out.append(LocalAside(self, self.tmt_dir / name))
                except OSError:
                    continue
        return out

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


class LocalAside:
    """Objects moved out of objects/ into one trash folder by rename (gc's step 3): readers
    no longer find them; `put_back` links them in again without ever replacing a copy a
    writer made meanwhile."""

    def __init__(self, store: ObjectStore, path: Path) -> None:
        self.store = store
        self.path = path
        self.name = path.name

    def _file(self, oid: ObjectId) -> str:
        return f"{self.path}/{validate_oid(oid)}"

    def move(self, oid: ObjectId) -> bool:
        """Move the object here; False when it is not in the store (gone meanwhile)."""
        try:
            os.rename(self.store._fspath(validate_oid(oid)), self._file(oid))
        except FileNotFoundError:
            return False
        return True

    def has(self, oid: ObjectId) -> bool:
        return os.path.lexists(self._file(oid))

    def get(self, oid: ObjectId, *, limit: int | None = None) -> bytes:
        """The bytes of an object here, read as the store reads (never through a link)."""
        data = self.head(oid, None if limit is None else limit + 1)
        if limit is not None and len(data) > limit:
            raise CorruptObject(oid, f"it is larger than {limit} bytes")
        return data

    def head(self, oid: ObjectId, n: int | None) -> bytes:
        """The first `n` bytes of an object here (all of it when None)."""
        try:
            return read_file(self._file(oid), None if n is None else max(n - 1, 0))[:n]
        except FileNotFoundError:
            raise ObjectNotFound(oid) from None
        except NotAFile as e:
            raise CorruptObject(oid, e.strerror) from None
        except OSError as e:
            raise StoreError(f"could not read object {oid}: {e.strerror or e}") from e

    def mtime(self, oid: ObjectId) -> float | None:
        """The modification time of an object here (None once it is gone)."""
        try:
            return os.stat(self._file(oid)).st_mtime
        except FileNotFoundError:
            return None

    def scan(self) -> Iterator[ObjectInfo]:
        """What is here (names that are object ids), with lstat's size, mtime and mode."""
        with os.scandir(self.path) as it:
            for entry in it:
                name = entry.name
                if len(name) == OID_HEX_LEN and set(name) <= HEX_DIGITS:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    yield ObjectInfo(ObjectId(name), st.st_size, st.st_mtime, st.st_mode)

    def put_back(self, oid: ObjectId) -> None:
        """Back into objects/. link() never replaces: if a writer re-wrote the object
        meanwhile, its copy stays. It never follows a link either (a planted one would
        become a hard link to its target)."""
        src, final = self._file(oid), self.store._fspath(oid)
        try:
            os.link(src, final, follow_symlinks=False)
        except FileExistsError:
            pass
        except FileNotFoundError:
            self.store._fan(oid, create=True)
            try:
                os.link(src, final, follow_symlinks=False)
            except FileExistsError:
                pass
        except OSError as e:
            if e.errno not in LINK_UNSUPPORTED:
                raise
            os.replace(src, final)  # no hard links here: rename (same bytes either way)
            return
        os.unlink(src)

    def delete(self, oid: ObjectId) -> bool:
        """Delete an object here for good; False when it was not here."""
        try:
            os.unlink(self._file(oid))
        except FileNotFoundError:
            return False
        return True

    def close(self) -> None:
        """Drop the set once empty; one still holding something is left for a person."""
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def quarantine_path(tmt_dir: Path, path: Path, name: str | None = None) -> Path:
    """Move `path` (a corrupt object, or whatever sits where tmt keeps its own folder or
    file) into .tmt/quarantine/ by rename: nothing is deleted, and a link moves as a link.
    A quarantine folder that is itself a link is renamed aside in the store folder."""
    qpath = tmt_dir / QUARANTINE
    if path == qpath:
        dst = tmt_dir / f"{QUARANTINE}.unsafe-{os.urandom(4).hex()}"
        os.rename(path, dst)
        return dst
    qdir = Path(own_dir(tmt_dir, QUARANTINE, create=True))
    base = name or os.path.relpath(path, tmt_dir).replace("/", "_")
    dst = qdir / base
    i = 1
    while os.path.lexists(dst):
        dst = qdir / f"{base}.{i}"
        i += 1
    os.rename(path, dst)
    return dst


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


#: A batch of at most this many objects is synced one fsync per file, not by one syncfs: an
#: edit-then-run writes a blob and the trees above it, and syncfs would flush every dirty
#: page of the file system (another program's checkpoint being written too) and load ctypes
#: (~10 ms) first. Measured on the 2-core machine, an idle ext4: 16 files fsynced one by one
#: 9.8 ms, one syncfs 1.7 ms; 4 files 2.4 ms vs 2.2 ms.
FSYNC_EACH_MAX = 16


class Batch:
    """Many objects written with one file-system sync instead of one fsync each.

    Temp files are written unsynced; `commit()` syncs them (one syncfs, or an fsync each for a
    few: FSYNC_EACH_MAX), then publishes them all. Until commit nothing is visible under
    objects/, so a crash leaves only temp files, which gc removes.
    """

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._pending: dict[ObjectId, str] = {}
        self._lock = _thread.allocate_lock()
        own_dir(store.tmt_dir, "tmp", create=True)

    def add(self, data: bytes, oid: ObjectId | None = None) -> ObjectId:
        """Write `data` unsynced; published at `commit`. `oid`, if given, must be its hash."""
        if oid is None:
            oid = hash_bytes(data)
        elif not (isinstance(oid, str) and OID_RE.match(oid)):  # inline: once per file of a snapshot
            validate_oid(oid)
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
            if len(self._pending) <= FSYNC_EACH_MAX or not syncfs(self.store.tmp_dir):
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


if TYPE_CHECKING:  # mypy proves the local store implements the storage interface
    _conforms: ObjectBackend = ObjectStore("")
