"""Files the user names with -o (exports, pictures): written as a shell redirection would, but
atomically where possible; errors about *their* path.

The store's own writes have hints about the .tmt folder; a file outside it is the user's,
so a failure names that file and its folder instead.
"""
from __future__ import annotations

import errno
import os
import stat as statmod

from tmt.errors import StoreError


def write_user_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to the user's `path`:

    - a regular file is replaced through a temp file in its folder (fsync, rename), keeping
      its mode (and, where allowed, its owner);
    - a symlink, FIFO or device, or a file with other hard links, is written *into*, in place,
      as `>` does (`-o /dev/stdout`, `-o pipe`, a link to the real file): never replaced;
    - a missing file is made with the usual mode (0666 less the umask); a missing folder is an
      error: the user's folders are never created (a typo would go unnoticed).
    """
    shown = os.fspath(path)
    target = os.path.abspath(shown)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        reason = os.strerror(errno.ENOTDIR if os.path.lexists(folder) else errno.ENOENT)
        raise StoreError(f"cannot write {shown}: {reason}",
                         f"check that the folder {folder} exists and that you may write to it")
    try:
        _write(target, folder, data)
    except OSError as e:
        hint = None
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR):
            hint = f"check that the folder {folder} exists and that you may write to it"
        raise StoreError(f"cannot write {shown}: {e.strerror or e}", hint) from e


def _write(target: str, folder: str, data: bytes) -> None:
    from tmt.store.fsutil import _unlink_quiet, fsync_dir

    try:
        st = os.lstat(target)
    except FileNotFoundError:
        st = None
    if st is not None and (not statmod.S_ISREG(st.st_mode) or st.st_nlink > 1):
        if statmod.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), target)
        with open(target, "wb") as f:  # follows a link; a FIFO is waited on, as `>` waits
            f.write(data)
            f.flush()
            if statmod.S_ISREG(os.fstat(f.fileno()).st_mode):
                os.fsync(f.fileno())
        return
    tmp = os.path.join(folder, f".{os.path.basename(target)}.tmt-{os.urandom(6).hex()}")
    # a new file gets 0666 less the umask (as `>` makes it); an existing one keeps its mode
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666 if st is None else 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if st is not None:
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except OSError:
                    pass  # not ours to give away: the file becomes the writer's, as with cp
                os.fchmod(fd, statmod.S_IMODE(st.st_mode))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        _unlink_quiet(tmp)
        raise
    fsync_dir(folder)
