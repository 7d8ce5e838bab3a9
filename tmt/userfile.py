"""Files the user names with -o (exports, pictures): written atomically, errors about *their* path.

The store's own writes have hints about the .tmt folder; a file outside it is the user's,
so a failure names that file and its folder instead.
"""
from __future__ import annotations

import errno
import os

from tmt.errors import StoreError


def write_user_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` (temp file in the same folder, fsync, rename)."""
    from tmt.store.fsutil import atomic_write

    shown = os.fspath(path)
    target = os.path.abspath(shown)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):  # never create the user's folders (a typo would go unnoticed)
        reason = os.strerror(errno.ENOTDIR if os.path.lexists(folder) else errno.ENOENT)
        raise StoreError(f"cannot write {shown}: {reason}",
                         f"check that the folder {folder} exists and that you may write to it")
    try:
        atomic_write(target, data, os.path.dirname(target))
    except StoreError as e:
        cause = e.__cause__
        reason = getattr(cause, "strerror", None) or cause or e.message
        hint = e.hint
        if getattr(cause, "errno", None) in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR):
            hint = f"check that the folder {os.path.dirname(target)} exists and that you may write to it"
        raise StoreError(f"cannot write {shown}: {reason}", hint) from e
