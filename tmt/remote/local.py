"""The local store as push, pull and clone see it: the one module of tmt/remote that touches it.

A narrow set of operations (has/get/path/put/scan of objects, trees decoded, records read
and written, pins), so that the storage Protocol of the seams issue can replace the body of
this class with little change elsewhere. Reads here never go through a lazy clone's
fetch-on-miss (tmt/remote/lazy.py): push must not download what it is about to upload.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt.errors import CorruptObject, CorruptRecord, ObjectNotFound, StoreError
from tmt.records.io import RECORD_SUFFIX, record_files, record_path
from tmt.repo import Repo
from tmt.snapshot import tree as treemod
from tmt.store.fsutil import _hint_for, _unlink_quiet, fsync_dir, syncfs, tmp_name, write_tmp
from tmt.store.ids import ObjectId, hash_bytes
from tmt.store.objects import OBJECT_MODE, Batch
from tmt.store.nofollow import open_fd, own_dir, read_fd
from tmt.store.pins import PinFile


class LocalStore:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._store = repo.store
        self._pins: PinFile | None = None

    # -- objects ---------------------------------------------------------------------------

    # Through the store's reads (tmt.store.nofollow): an object that is a link, a FIFO or a
    # device is corrupt, never followed (a push would upload what a planted link points to)
    # nor waited on.

    def has(self, oid: str) -> bool:
        """Whether the object is here; CorruptObject when what is at its path is not a
        regular file (a push must not skip it as "not here", nor upload its target)."""
        try:
            self._store.stat(ObjectId(oid), fetch=False)
        except ObjectNotFound:
            return False
        return True

    def path(self, oid: str) -> Path:
        """The object's file, checked to be a regular file (CorruptObject otherwise)."""
        self._store.stat(ObjectId(oid), fetch=False)  # validates the id
        return Path(self._store.local_path(ObjectId(oid)))

    def size(self, oid: str) -> int:
        return self._store.stat(ObjectId(oid), fetch=False).st_size

    def get(self, oid: str) -> bytes:
        return self._store.head(ObjectId(oid), fetch=False)

    def head(self, oid: str, n: int) -> bytes:
        return self._store.head(ObjectId(oid), n, fetch=False)

    def tree_entries(self, oid: str, data: bytes | None = None) -> list[treemod.TreeEntry]:
        """The entries of tree `oid` (from `data` when given), validated."""
        if data is None:  # bounded: a hostile store's "tree" is not read whole into memory
            data = self._store.get(ObjectId(oid), limit=treemod.MAX_TREE_BYTES, fetch=False)
        return treemod.decode_tree(data, oid)

    def batch(self) -> Batch:
        """Many verified objects, published in the order added with one file-system sync."""
        return self._store.batch()

    def tmp_path(self) -> Path:
        return Path(tmp_name(own_dir(self.repo.tmt_dir, "tmp", create=True)))

    def publish_file(self, tmp: Path, oid: str) -> None:
        """Publish a downloaded temp file as object `oid` after re-hashing it (it is deleted
        either way)."""
        from blake3 import blake3

        try:
            h = blake3()
            with open(tmp, "rb") as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
                os.fsync(f.fileno())
            if h.hexdigest() != oid:
                raise CorruptObject(oid, "the remote's copy does not match its id", "run `tmt fsck --remote NAME`")
            os.chmod(tmp, OBJECT_MODE)
            self._store._publish(os.fspath(tmp), ObjectId(oid))
        finally:
            _unlink_quiet(os.fspath(tmp))

    def scan(self) -> Iterator[str]:
        return iter(self._store)

    def pin(self, oids: Iterable[str]) -> None:
        """Pin ids before relying on them (the local gc protocol, tmt/store/pins.py)."""
        if self._pins is None:
            self._pins = PinFile(self.repo.tmt_dir)
        self._pins.add(oids)

    def close(self) -> None:
        if self._pins is not None:
            self._pins.close()
            self._pins = None

    # -- records ---------------------------------------------------------------------------

    def record_ids(self) -> list[str]:
        return [p.name[: -len(RECORD_SUFFIX)] for p in record_files(self.repo.experiments_dir)]

    def record_bytes(self, run_id: str) -> tuple[bytes, int] | None:
        """A record's exact bytes and its file's mtime in ns (its version stamp), or None."""
        path = record_path(self.repo.experiments_dir, run_id)
        try:
            fd, st = open_fd(path)  # never a link, never blocking on a FIFO
        except FileNotFoundError:
            return None
        except OSError as e:
            raise CorruptRecord(str(path), e.strerror or str(e)) from None
        try:
            return read_fd(fd, st.st_size), st.st_mtime_ns
        finally:
            os.close(fd)

    def write_records(self, items: Iterable[tuple[str, bytes, int]]) -> None:
        """Publish records (run id, exact bytes, version stamp) atomically, each with its mtime
        set to its version's stamp so the version keeps its name when pushed on from here.

        As a snapshot's batch of objects: temp files written unsynced, one file-system sync,
        then each renamed into place, then one fsync of experiments/ (not two fsyncs each:
        100 pulled runs cost 200 fsyncs otherwise)."""
        items = list(items)
        if not items:
            return
        exp = Path(own_dir(self.repo.tmt_dir, "experiments", create=True))  # never a link
        tmps = []
        try:
            for run_id, data, stamp in items:
                tmp = write_tmp(os.fspath(self.repo.tmp_dir), data, fsync=False)
                tmps.append(tmp)
                os.utime(tmp, ns=(stamp, stamp))  # rename keeps the mtime
            if not syncfs(self.repo.tmp_dir):
                for tmp in tmps:
                    fd = os.open(tmp, os.O_RDONLY)
                    try:
                        os.fsync(fd)
                    finally:
                        os.close(fd)
            # Records last, after every object (committed before this call) is durable.
            for (run_id, _, _), tmp in zip(items, tmps):
                os.replace(tmp, record_path(exp, run_id))
            fsync_dir(exp)
        except OSError as e:
            raise StoreError(f"could not write records into {exp}: {e.strerror or e}", _hint_for(e)) from e
        finally:
            for tmp in tmps:
                _unlink_quiet(tmp)  # renamed ones are gone already

    def __enter__(self) -> "LocalStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def digest(data: bytes) -> str:
    """The record version's hash part: the first 32 hex digits of BLAKE3 of its bytes."""
    return hash_bytes(data)[:32]
