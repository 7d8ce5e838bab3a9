"""A remote in a plain folder (a mounted disk, NFS): keys are paths under the folder.

Create-only writes as in the local store: the bytes go to a temp file under `tmp/` of the
remote, are fsynced, then hard-linked to their name; link() fails when the name exists, so
nothing is ever replaced. Where the file system has no hard links (FAT, some SMB mounts),
rename() is used after an existence check: two writers racing on one name then write the
same bytes (every name tmt writes is derived from its content), so the loser's rename is
harmless.
"""
from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt.errors import RemoteError
from tmt.remote.backend import Info, RemoteNotFound
from tmt.store.fsutil import LINK_UNSUPPORTED, _unlink_quiet, tmp_name

TMP_DIR = "tmp"


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

    def put_create(self, key: str, data: bytes | Path) -> bool:
        final = self._path(key)
        if os.path.exists(final):
            return False
        self._ensure_root()
        os.makedirs(self._tmp, exist_ok=True)
        tmp = tmp_name(self._tmp)
        try:
            if isinstance(data, Path):
                with open(data, "rb") as src, open(tmp, "xb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                    dst.flush()
                    os.fsync(dst.fileno())
            else:
                with open(tmp, "xb") as dst:
                    dst.write(data)
                    dst.flush()
                    os.fsync(dst.fileno())
            try:
                return _link(tmp, final)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(final), exist_ok=True)
                return _link(tmp, final)
        finally:
            _unlink_quiet(tmp)

    def get(self, key: str, into: Path | None = None) -> bytes | int:
        try:
            with open(self._path(key), "rb") as f:
                if into is None:
                    return f.read()
                with open(into, "xb") as dst:
                    shutil.copyfileobj(f, dst, 1 << 20)
                    return dst.tell()
        except (FileNotFoundError, NotADirectoryError):
            raise RemoteNotFound(key) from None

    def head(self, key: str) -> Info | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
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
            _unlink_quiet(self._path(key))

    def close(self) -> None:
        pass


def _link(tmp: str, final: str) -> bool:
    try:
        os.link(tmp, final)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in LINK_UNSUPPORTED or e.errno == errno.EEXIST:
            raise
    if os.path.exists(final):
        return False
    os.replace(tmp, final)
    return True
