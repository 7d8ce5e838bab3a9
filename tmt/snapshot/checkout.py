"""Materialize a tree into a directory: read-only hard links for views, real copies to restore.

A process with effective uid 0 writes through mode 0444, so its views are reflinks or
copies, never hard links: a write into a hard-linked view would change the store.

Safety: entry names are validated when a tree is decoded (no '/', '.', '..', NUL), and
every file-system call is made relative to an open directory descriptor opened with
O_NOFOLLOW, so neither a hostile tree nor a symlink already in the target can make us write
outside it.
"""
from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat as statmod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tmt._sys import token_hex
from tmt.errors import CheckoutError, CorruptObject, InvalidTree, ObjectNotFound, UnsafePath
from tmt.snapshot import tree as treemod
from tmt.snapshot.tree import MAX_DEPTH
from tmt.store import fsutil
from tmt.store.fsutil import LINK_UNSUPPORTED
from tmt.store.ids import ObjectId
from tmt.store.objects import ObjectStore
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FICLONE = 0x40049409  # linux/fs.h
_MAX_LINK = 4096  # PATH_MAX: no symlink target is longer
#: Called right before a file of the tree takes its place, with (dirfd, name, path); what it
#: returns is called right after. In-place checkout checks there that it replaces only what
#: the backup holds (tmt.workspace).
Guard = Callable[[int, bytes, bytes], Callable[[], None]]


@dataclass(slots=True)
class CheckoutStats:
    files: int = 0
    linked: int = 0
    copied: int = 0
    bytes: int = 0


def read_tree(store: ObjectStore, oid: ObjectId) -> list[treemod.TreeEntry]:
    return treemod.decode_tree(store.get(oid, limit=treemod.MAX_TREE_BYTES), oid)


def bounded_reader(store: ObjectStore, oid: ObjectId, bounds: treemod.TreeBounds | None):
    """entries_of(tree id) for a walk of tree `oid`, after checking that it expands within
    `bounds` (TreeTooLarge otherwise, before anything is written). Trees read for the check
    are kept, so the walk reads each one once."""
    cache: dict[str, list[treemod.TreeEntry]] = {}

    def entries_of(t: ObjectId) -> list[treemod.TreeEntry]:
        entries = cache.get(t)
        if entries is None:
            entries = cache[t] = read_tree(store, t)
        return entries

    (bounds or treemod.TreeBounds()).expansion(lambda t: treemod.shape(entries_of(t)), oid)
    return entries_of


def walk_tree(store: ObjectStore, oid: ObjectId, bounds: treemod.TreeBounds | None = None) -> Iterator[tuple[bytes, treemod.TreeEntry]]:
    """Every non-tree entry below `oid`, as (relative path bytes, entry), depth first (a tree
    expanding past `bounds` raises TreeTooLarge first)."""
    yield from _walk(bounded_reader(store, oid, bounds), oid, b"", 0)


def _walk(entries_of, oid: ObjectId, prefix: bytes, depth: int) -> Iterator[tuple[bytes, treemod.TreeEntry]]:
    if depth > MAX_DEPTH:
        raise InvalidTree(f"tree {oid} nests deeper than {MAX_DEPTH} levels", treemod.DEEP_HINT)
    for e in entries_of(oid):
        path = prefix + e.name
        if e.kind == treemod.TREE:
            yield from _walk(entries_of, e.oid, path + b"/", depth + 1)
        else:
            yield path, e


def materialize(store: ObjectStore, oid: ObjectId, target: str | os.PathLike[str], *, link: bool = True,
                bounds: treemod.TreeBounds | None = None) -> CheckoutStats:
    """Write tree `oid` into `target`, which must not exist or be an empty directory.

    `link=True` gives a read-only view: files are hard links to the store's objects (a copy
    where linking fails, e.g. across file systems; executables are always copied, since a
    shared object cannot carry their mode). Editing such a file in place would edit the
    store: the files are read-only so that this takes an explicit chmod. For root, who writes
    through that mode, files are always reflinked or copied. A tree that expands past
    `bounds` is refused before anything is written.
    """
    try:
        entries_of = bounded_reader(store, oid, bounds)
    except ObjectNotFound as e:
        raise CheckoutError(f"cannot check out .: {e.message}", e.hint) from e
    target = Path(target)
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink() or any(target.iterdir()):
            raise CheckoutError(
                f"{target} already exists and is not an empty directory",
                "choose a new folder for -o, or remove this one",
            )
    else:
        try:
            target.mkdir(parents=True)
        except OSError as e:
            raise CheckoutError(f"cannot create {target}: {e.strerror}") from e
    stats = CheckoutStats()
    fd = os.open(target, _DIR_FLAGS)
    try:
        _write_tree(store, entries_of, oid, fd, stats, link=link, replace=False, depth=0, where=b"")
    finally:
        os.close(fd)
    return stats


def restore(store: ObjectStore, oid: ObjectId, target: str | os.PathLike[str],
            bounds: treemod.TreeBounds | None = None) -> CheckoutStats:
    """Write tree `oid` over `target` as real, writable files (reflinks where supported).

    Files of the tree replace what is at their path; nothing else in `target` is touched.
    A directory standing where the tree has a file is an error, so ignored data inside it is
    never deleted.
    """
    entries_of = bounded_reader(store, oid, bounds)
    target = Path(target)
    stats = CheckoutStats()
    try:
        target.mkdir(parents=True, exist_ok=True)
        # The target itself is the caller's choice and may be reached through a symlink (a
        # code root under a symlinked home); O_NOFOLLOW guards everything below it.
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as e:
        raise CheckoutError(f"cannot restore into {target}: {e.strerror or e}") from e
    try:
        _write_tree(store, entries_of, oid, fd, stats, link=False, replace=True, depth=0, where=b"", umask=_umask())
    finally:
        os.close(fd)
    return stats


def restore_entries(
    store: ObjectStore,
    target: str | os.PathLike[str],
    entries: list[tuple[bytes, treemod.TreeEntry]],
    *,
    guard: Guard | None = None,
    on_missing: Callable[[str], bool] | None = None,
) -> CheckoutStats:
    """Write just `entries` ((path, entry) pairs, files and symlinks) into the existing
    folder `target` as real, writable files, creating folders on the way. `on_missing(oid)`
    may wait for a gc that moved a pinned object aside, then says whether to try again."""
    nested: dict[bytes, dict | treemod.TreeEntry] = {}
    for path, entry in entries:
        parts = path.split(b"/")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[parts[-1]] = entry
    stats = CheckoutStats()
    try:
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)  # the caller's code root (see restore)
    except OSError as e:
        raise CheckoutError(f"cannot restore into {target}: {e.strerror or e}") from e
    try:
        _write_nodes(store, nested, fd, stats, b"", _umask(), guard, on_missing)
    finally:
        os.close(fd)
    return stats


def _write_nodes(store, node: dict, dirfd: int, stats: CheckoutStats, where: bytes, umask: int,
                 guard: Guard | None, on_missing: Callable[[str], bool] | None) -> None:
    for name, value in sorted(node.items()):
        path = where + name
        try:
            if isinstance(value, dict):
                sub = _open_subdir(dirfd, name, True, path)
                try:
                    _write_nodes(store, value, sub, stats, path + b"/", umask, guard, on_missing)
                finally:
                    os.close(sub)
                continue
            for attempt in (0, 1):
                try:
                    _write_entry(store, value, dirfd, stats, path, umask, guard)
                    break
                except ObjectNotFound as err:
                    if attempt or on_missing is None or not on_missing(value.oid):
                        raise CheckoutError(f"cannot check out {os.fsdecode(path)}: {err.message}", err.hint) from err
                except CorruptObject as err:  # a link or FIFO where the object belongs: never read
                    raise CheckoutError(f"cannot check out {os.fsdecode(path)}: {err.message}", err.hint) from err
        except OSError as err:
            raise CheckoutError(f"cannot write {os.fsdecode(path)}: {err.strerror or err}") from err


def _write_entry(store, e: treemod.TreeEntry, dirfd: int, stats: CheckoutStats, path: bytes, umask: int,
                 guard: Guard | None) -> None:
    if e.kind == treemod.SYMLINK:
        target = store.get(e.oid, limit=_MAX_LINK)
        if not target or b"\0" in target:  # os.symlink would raise ValueError on NUL
            raise InvalidTree(f"entry {os.fsdecode(path)!r} is a symlink to an invalid target {target[:80]!r}")
        _place(dirfd, e.name, True, path, lambda tmp: os.symlink(target, tmp, dir_fd=dirfd), guard)
        stats.files += 1
    else:
        _write_file(store, e, dirfd, stats, link=False, replace=True, path=path, umask=umask, guard=guard)


def _write_tree(
    store: ObjectStore,
    entries_of,
    oid: ObjectId,
    dirfd: int,
    stats: CheckoutStats,
    *,
    link: bool,
    replace: bool,
    depth: int,
    where: bytes,
    umask: int = 0o022,
) -> None:
    if depth > MAX_DEPTH:
        raise InvalidTree(f"tree {oid} nests deeper than {MAX_DEPTH} levels", treemod.DEEP_HINT)
    try:
        entries = entries_of(oid)
    except ObjectNotFound as missing:
        raise CheckoutError(f"cannot check out {os.fsdecode(where) or '.'}: {missing.message}",
                            missing.hint) from missing
    for e in entries:
        path = where + e.name
        try:
            if e.kind == treemod.TREE:
                sub = _open_subdir(dirfd, e.name, replace, path)
                try:
                    _write_tree(
                        store, entries_of, e.oid, sub, stats, link=link, replace=replace, depth=depth + 1, where=path + b"/", umask=umask
                    )
                finally:
                    os.close(sub)
            elif e.kind == treemod.SYMLINK:
                target = store.get(e.oid, limit=_MAX_LINK)
                if not target or b"\0" in target:  # os.symlink would raise ValueError on NUL
                    raise InvalidTree(f"tree {oid} entry {e.name!r} is a symlink to an invalid target {target[:80]!r}")
                _place(dirfd, e.name, replace, path, lambda tmp: os.symlink(target, tmp, dir_fd=dirfd))
                stats.files += 1
            else:
                _write_file(store, e, dirfd, stats, link=link, replace=replace, path=path, umask=umask)
        except (ObjectNotFound, CorruptObject) as err:
            raise CheckoutError(f"cannot check out {os.fsdecode(path)}: {err.message}", err.hint) from err
        except OSError as err:
            raise CheckoutError(f"cannot write {os.fsdecode(path)}: {err.strerror or err}") from err


def _open_subdir(dirfd: int, name: bytes, replace: bool, path: bytes) -> int:
    try:
        os.mkdir(name, 0o777, dir_fd=dirfd)
    except FileExistsError:
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if not statmod.S_ISDIR(st.st_mode):
            if not replace:
                raise UnsafePath(f"{os.fsdecode(path)} appears twice in the tree") from None
            os.unlink(name, dir_fd=dirfd)  # a file or symlink where the tree has a folder
            os.mkdir(name, 0o777, dir_fd=dirfd)
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dirfd)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(f"{os.fsdecode(path)} is a symlink, refusing to write through it") from e
        raise


def _place(dirfd: int, name: bytes, replace: bool, path: bytes, make, guard: Guard | None = None) -> None:
    """Create `name` via a temp name in the same directory, then rename it into place."""
    tmp = b".tmt-" + token_hex(6).encode() + b"-" + name[:100]
    make(tmp)
    try:
        if not replace:
            try:
                os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                raise UnsafePath(f"{os.fsdecode(path)} appears twice in the tree")
            except FileNotFoundError:
                pass
        else:
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
                if statmod.S_ISDIR(st.st_mode):
                    raise CheckoutError(
                        f"{os.fsdecode(path)} is a folder in the working tree but a file in the run",
                        "move that folder away and check out again",
                    )
            except FileNotFoundError:
                pass
        after = guard(dirfd, name, path) if guard is not None else None
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        if after is not None:
            after()
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dirfd)
        except OSError:
            pass
        raise


def _write_file(
    store: ObjectStore, e: treemod.TreeEntry, dirfd: int, stats: CheckoutStats, *, link: bool, replace: bool, path: bytes,
    umask: int, guard: Guard | None = None,
) -> None:
    src = store.local_path(e.oid)
    executable = e.kind == treemod.EXEC
    store.stat(e.oid)  # a regular file, or ObjectNotFound / CorruptObject: never a link or FIFO
    if link and src is not None and not executable and not fsutil.ignores_file_modes():  # root: a copy (module doc)
        def make_link(tmp: bytes) -> None:
            try:
                # follow_symlinks=False: even a link swapped in since the check is linked as
                # a link, never as a hard link to what it points at
                os.link(src, tmp, dst_dir_fd=dirfd, follow_symlinks=False)
            except OSError as err:
                if err.errno not in LINK_UNSUPPORTED:
                    raise
                _copy(store, e.oid, dirfd, tmp, 0o444)
                stats.copied += 1
            else:
                stats.linked += 1

        _place(dirfd, e.name, replace, path, make_link)
    else:
        mode = (0o555 if executable else 0o444) if link else (0o777 if executable else 0o666) & ~umask
        _place(dirfd, e.name, replace, path, lambda tmp: _copy(store, e.oid, dirfd, tmp, mode), guard)
        stats.copied += 1
    stats.files += 1
    stats.bytes += e.size


def _copy(store: ObjectStore, oid: ObjectId, dirfd: int, name: bytes, mode: int) -> None:
    with store.open(oid) as fsrc:  # never a link, never blocking on a FIFO
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dirfd)
        try:
            with open(fd, "wb", closefd=False) as fdst:
                try:
                    fcntl.ioctl(fd, _FICLONE, fsrc.fileno())  # reflink: shares blocks, copy-on-write
                except OSError:
                    shutil.copyfileobj(fsrc, fdst, 1 << 20)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)


_UMASK: int | None = None  # fallback where /proc is missing: read once, by setting it


def _umask() -> int:
    """The process umask, read without changing it: os.umask() can only read it by setting
    it, and for that moment another thread's new files would get the wrong modes."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    global _UMASK
    if _UMASK is None:
        _UMASK = os.umask(0o022)
        os.umask(_UMASK)
    return _UMASK
