"""Atomic, durable file writes: temp file in the store's tmp/, fsync, then rename or link."""
from __future__ import annotations

import errno
import os

from tmt._sys import host_label
from tmt.errors import StoreError, UnsafePath
from tmt.store.nofollow import own_dir, remake, share

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any


def tmp_name(tmp_dir: str | os.PathLike[str], suffix: str = "") -> str:
    """A new temp path "<host>_<pid>-<rand><suffix>" under `tmp_dir`.

    Host and pid let gc tell a live writer's temp file from a dead one's; on a store shared
    between hosts, a pid means something only on its own host (see `tmp_owner`).
    """
    return os.path.join(tmp_dir, f"{host_label()}_{os.getpid()}-{os.urandom(8).hex()}{suffix}")


def tmp_owner(name: str) -> tuple[str | None, int | None]:
    """(host, pid) of a temp file or folder named by `tmp_name`; host None for the older
    "<pid>-<rand>" names (no host), pid None for a name in neither form."""
    host: str | None
    host, sep, rest = name.partition("_")
    if not sep:
        host, rest = None, name
    head = rest.split("-", 1)[0]
    return host or None, int(head) if head.isdigit() else None


def write_tmp(tmp_dir: str, data: bytes, *, fsync: bool = True, mode: int = 0o644) -> str:
    """Write `data` to a new temp file under the store's `tmp_dir` and return its path.

    `tmp_dir` is checked (and made) as tmt's own folder (tmt.store.nofollow): a link there
    would put the bytes, and later gc's deletions, outside the store.
    """
    store, name = os.path.split(os.fspath(tmp_dir))
    own_dir(store, name, create=True)
    path = tmp_name(tmp_dir)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(path, flags, mode)
    except FileNotFoundError:  # removed since it was checked: made again
        remake(store, name)
        fd = os.open(path, flags, mode)
    try:
        share(fd, store, mode)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quiet(path)
        raise
    os.close(fd)
    return path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    # Makes a rename durable; not every platform lets us open a directory.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(
    path: str | os.PathLike[str],
    data: bytes,
    tmp_dir: str | os.PathLike[str],
    *,
    durable: bool = True,
    sync_dir: bool = True,
    make_dirs: bool = False,
) -> None:
    """Replace `path`, a file in the store, with `data` so that readers see the old or the
    new file, never a mix. The folder of `path` must be the store folder or one of its own
    (checked: never a link); a link at `path` itself is replaced, never written through.

    fsync the temp file before the rename, or a crash can publish an empty file.
    `durable=False` skips the fsyncs, for derived caches that may be lost but not torn.
    `sync_dir=False` skips only the folder fsync that makes the rename durable, for a
    caller that runs it later (the recorder does, in the background). `make_dirs` creates
    the folder of `path` if it is missing.
    """
    path = os.fspath(path)
    try:
        store = os.path.dirname(os.fspath(tmp_dir))
        folder = os.path.relpath(os.path.dirname(path) or ".", store)
        if folder != ".":
            own_dir(store, folder, create=make_dirs)  # a store-internal folder: never a link
        tmp = write_tmp(os.fspath(tmp_dir), data, fsync=durable)
        try:
            try:
                os.replace(tmp, path)
            except FileNotFoundError:
                if not make_dirs or folder == "." or not os.path.exists(tmp):
                    raise
                remake(store, folder)  # removed since it was checked: made again
                os.replace(tmp, path)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        if durable and sync_dir:
            fsync_dir(os.path.dirname(path) or ".")
    except UnsafePath:
        raise
    except OSError as e:
        raise StoreError(f"could not write {path}: {e.strerror or e}", _hint_for(e)) from e


def _hint_for(e: OSError) -> str | None:
    import errno

    if e.errno == errno.ENOSPC:
        return "the disk is full; free space and run again (nothing was half-written)"
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "check the permissions of the .tmt folder"
    if e.errno == errno.EFBIG:
        return "a file size limit was hit; nothing was half-written"
    return None


def _unlink_quiet(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_libc: Any = None  # None until loaded, then a ctypes.CDLL or False


def syncfs(path: str | os.PathLike[str]) -> bool:
    """Flush every dirty page of the file system holding `path`; False if unsupported.

    One syncfs is far cheaper than an fsync per file when a first snapshot writes
    thousands of blobs (0.24 ms per fsync here: 5 s for 20,000 files).
    """
    global _libc
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return False
    if _libc is None:
        import ctypes  # lazily: ctypes costs ~10 ms of every tmt start-up
        import ctypes.util

        name = ctypes.util.find_library("c")
        try:
            _libc = ctypes.CDLL(name, use_errno=True) if name else False
        except OSError:
            _libc = False
    if not _libc or not hasattr(_libc, "syncfs"):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        return _libc.syncfs(fd) == 0
    finally:
        os.close(fd)


#: link() failures that mean "this file system cannot link here", not "something is wrong"
LINK_UNSUPPORTED = frozenset(
    getattr(errno, name) for name in ("EXDEV", "EPERM", "EMLINK", "ENOTSUP", "EOPNOTSUPP") if hasattr(errno, name)
)


def ignores_file_modes() -> bool:
    """Whether this process writes through mode 0444 (effective uid 0): a hard link it hands
    out to a stored object would let any write change the store, so it copies instead."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str], mode: int = 0o444) -> bool:
    """Hard-link `src` to `dst`, or copy it (with `mode`) where links are impossible or the
    process is root (ignores_file_modes); a copy is a reflink where the file system has them.

    Returns True when linked. Other errors (ENOSPC, EACCES, EEXIST...) propagate.
    """
    if not ignores_file_modes():
        try:
            os.link(src, dst, follow_symlinks=False)  # a link at src is linked as a link, never its target
            return True
        except OSError as e:
            if e.errno not in LINK_UNSUPPORTED:
                raise
    copy_file(src, dst, mode)
    return False


_FICLONE = 0x40049409  # linux/fs.h: share the blocks, copy on write


def copy_file(src: str | os.PathLike[str], dst: str | os.PathLike[str], mode: int) -> None:
    """A new file `dst` (must not exist) with `src`'s bytes: a reflink where supported. `src`
    is a store object: opened as tmt.store.nofollow does (never a link, never a FIFO)."""
    import fcntl
    import shutil

    from tmt.store.nofollow import open_file

    with open_file(src) as fsrc:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            try:
                fcntl.ioctl(fd, _FICLONE, fsrc.fileno())
            except OSError:
                with open(fd, "wb", closefd=False) as fdst:
                    shutil.copyfileobj(fsrc, fdst, 1 << 20)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
