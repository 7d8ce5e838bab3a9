"""A remote in a plain folder (a mounted disk, NFS): keys are paths under the folder.

Create-only writes as in the local store: the bytes go to a temp file under `tmp/` of the
remote, are fsynced, then hard-linked to their name; link() fails when the name exists, so
nothing is ever replaced. Where the file system has no hard links (FAT, some SMB mounts),
rename() is used after an existence check: two writers racing on one name then write the
same bytes (every name tmt writes is derived from its content), so the loser's rename is
harmless.

A shared folder is as untrusted as a copied store: below the remote's own folder (which may
be a link: the user's choice) nothing is followed. Every key is reached through directory
descriptors opened with O_NOFOLLOW, component by component, and files are opened with
O_NOFOLLOW | O_NONBLOCK and checked with fstat, so a symlink planted at `tmp/`, a fan-out
folder or `records/<id>` is refused rather than written through, and a FIFO is refused
rather than waited on.
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt.errors import RemoteError
from tmt.remote.backend import Info, RemoteNotFound
from tmt.store.fsutil import LINK_UNSUPPORTED, tmp_name
from tmt.store.nofollow import O_READ, describe
from tmt.text import printable

TMP_DIR = "tmp"
_O_DIR = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class FolderBackend:
    concurrency = 8

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.url = os.fspath(root)
        self._tmp = self.root / TMP_DIR

    def _path(self, key: str) -> str:
        if not key or key.startswith("/") or ".." in key.split("/"):
            raise RemoteError(f"refusing the remote key {key!r}")
        return f"{self.root}/{key}"

    def _ensure_root(self) -> None:
        try:
            os.mkdir(self.root)  # not parents: a missing mount point must not become a folder
        except FileExistsError:
            return
        except FileNotFoundError:
            raise RemoteError(
                f"cannot create the remote folder {self.root}: {self.root.parent} does not exist",
                "check that the disk or share is mounted, or fix the remote's path with `tmt remote add`",
            ) from None

    def _unsafe(self, rel: str, st: os.stat_result) -> RemoteError:
        return RemoteError(
            f"{printable(rel)} on the remote {printable(self.url)} is {describe(st.st_mode)}, where tmt keeps "
            "its own; tmt never follows, reads or writes through it",
            "someone changed the remote folder: remove that entry there (nothing else is touched)",
        )

    def _open_dir(self, rel: str, *, create: bool) -> int:
        """A descriptor of the folder `rel` below the root, opened component by component
        without following a link (FileNotFoundError when absent and not `create`)."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        done = ""
        try:
            for part in rel.split("/") if rel else ():
                done = f"{done}/{part}" if done else part
                try:
                    sub = os.open(part, _O_DIR, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(part, dir_fd=fd)
                    except FileExistsError:
                        pass
                    sub = os.open(part, _O_DIR, dir_fd=fd)
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if not create and not stat.S_ISLNK(st.st_mode):
                        raise FileNotFoundError(errno.ENOENT, "not a folder", done) from None
                    raise self._unsafe(done, st) from None
                os.close(fd)
                fd = sub
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _parent(self, key: str, *, create: bool = False) -> tuple[int, str]:
        self._path(key)  # validates the key
        folder, _, name = key.rpartition("/")
        return self._open_dir(folder, create=create), name

    def put_create(self, key: str, data: bytes | Path) -> bool:
        if self.head(key) is not None:
            return False
        self._ensure_root()
        tmp_fd = self._open_dir(TMP_DIR, create=True)
        tmp = os.path.basename(tmp_name(self._tmp))
        try:
            out = os.open(tmp, _O_NEW, 0o666, dir_fd=tmp_fd)
            with open(out, "wb") as dst:
                if isinstance(data, Path):
                    with open(data, "rb") as src:
                        shutil.copyfileobj(src, dst, 1 << 20)
                else:
                    dst.write(data)
                dst.flush()
                os.fsync(dst.fileno())
            parent, name = self._parent(key, create=True)
            try:
                return _link(tmp_fd, tmp, parent, name)
            finally:
                os.close(parent)
        finally:
            try:
                os.unlink(tmp, dir_fd=tmp_fd)
            except OSError:
                pass
            os.close(tmp_fd)

    def get(self, key: str, into: Path | None = None) -> bytes | int:
        try:
            parent, name = self._parent(key)
            try:
                fd = os.open(name, O_READ, dir_fd=parent)
            except OSError as e:
                if e.errno != errno.ELOOP:
                    raise
                raise self._unsafe(key, os.stat(name, dir_fd=parent, follow_symlinks=False)) from None
            finally:
                os.close(parent)
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteNotFound(key) from None
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise self._unsafe(key, st)  # a FIFO: never waited on
            if into is None:
                return f.read()
            with open(into, "xb") as dst:
                shutil.copyfileobj(f, dst, 1 << 20)
                return dst.tell()

    def head(self, key: str) -> Info | None:
        try:
            parent, name = self._parent(key)
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            st = os.stat(name, dir_fd=parent, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            os.close(parent)
        return Info(key, st.st_size, st.st_mtime)

    def list(self, prefix: str) -> Iterator[Info]:
        base = prefix.rpartition("/")[0]
        start = f"{self.root}/{base}" if base else os.fspath(self.root)
        stack = [(start, f"{base}/" if base else "")]
        while stack:
            folder, rel = stack.pop()
            try:
                it = os.scandir(folder)
            except (FileNotFoundError, NotADirectoryError):
                continue
            with it:
                for entry in it:
                    key = rel + entry.name
                    if not rel and entry.name == TMP_DIR:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        if key.startswith(prefix) or prefix.startswith(key + "/"):
                            stack.append((entry.path, key + "/"))
                    elif key.startswith(prefix):
                        try:
                            st = entry.stat(follow_symlinks=False)
                        except FileNotFoundError:
                            continue
                        yield Info(key, st.st_size, st.st_mtime)

    def delete_many(self, keys: Iterable[str]) -> None:
        for key in keys:
            try:
                parent, name = self._parent(key)
            except (FileNotFoundError, NotADirectoryError):
                continue
            try:
                os.unlink(name, dir_fd=parent)  # the entry itself, never what a link points to
            except OSError:
                pass
            finally:
                os.close(parent)

    def close(self) -> None:
        pass


def _link(src_fd: int, src: str, dst_fd: int, dst: str) -> bool:
    try:
        os.link(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd, follow_symlinks=False)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in LINK_UNSUPPORTED or e.errno == errno.EEXIST:
            raise
    try:
        os.stat(dst, dir_fd=dst_fd, follow_symlinks=False)
        return False
    except FileNotFoundError:
        pass
    os.replace(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)
    return True
