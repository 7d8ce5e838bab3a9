"""Store-internal paths opened without following links: the one place that decides whether a
path under the store folder is tmt's own, and opens it so that nothing planted there is
followed, truncated, chmodded or blocked on.

A store is a folder people copy, untar, rsync and share, so whatever sits in it is untrusted:
a symlink at `.tmt/tmp` would let gc delete files elsewhere, a FIFO where an object belongs
would hang every reader. The rules, enforced here and used by every module that touches the
store (docs/reliability.md, "Threat model"):

- the store folder itself (`.tmt`, or `TMT_DIR`) is the user's choice and may be reached
  through a link; everything below it is checked;
- a folder tmt writes into (`own_dir`) is checked with lstat, component by component below
  the store folder, and must be a real folder: a symlink or anything else raises
  `UnsafePath`, which every writer lets through unchanged (nothing is written) and
  `layout_problems` (fsck's `unsafe_path`) names;
- a file tmt reads (`read_file`, `open_file`) is opened with O_NOFOLLOW | O_NONBLOCK and
  checked with fstat: a symlink, FIFO, device, socket or folder raises `NotAFile` (an
  OSError) at once, so no reader follows a link out of the store or waits on a FIFO;
- folders found good are remembered until a store is opened again (`ObjectStore()`: every
  command, every run), so a check costs one lstat per folder and operation: the threat is a
  store copied from elsewhere before tmt opens it. An attacker who rewrites the store while
  tmt runs in it is out of scope (docs/reliability.md).

New files and folders get the store folder's group permissions (`share`, and `own_dir` when
it makes a folder), so a store shared by a group (`chmod g+ws`) stays writable by every
member whatever their umask.
"""
from __future__ import annotations

import errno
import os
import stat as statmod
import _thread  # its lock; threading costs every run about a millisecond to import

from tmt.errors import UnsafePath

#: read-only, never following the last component, never blocking on a FIFO or device
O_READ = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1 << 20

UNSAFE_HINT = (
    "a store copied from elsewhere may have been tampered with: `tmt fsck` lists what is wrong, "
    "`tmt fsck --repair` moves it into .tmt/quarantine/ (never following it)"
)

_checked: set[str] = set()  # folders found to be real folders (absolute paths)
_group: dict[str, int] = {}  # store folder -> group permission bits its new files get
_lock = _thread.allocate_lock()


def describe(mode: int) -> str:
    """What a file-system entry is, for messages: "a symbolic link", "a FIFO", …"""
    if statmod.S_ISLNK(mode):
        return "a symbolic link"
    if statmod.S_ISDIR(mode):
        return "a folder"
    if statmod.S_ISREG(mode):
        return "a file"
    if statmod.S_ISFIFO(mode):
        return "a FIFO"
    if statmod.S_ISCHR(mode) or statmod.S_ISBLK(mode):
        return "a device"
    if statmod.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


class NotAFile(OSError):
    """A path where tmt expects a regular file holds something else (`what`: "a FIFO", …)."""

    strerror: str  # always set, unlike OSError's

    def __init__(self, path: str | os.PathLike[str], what: str) -> None:
        super().__init__(errno.EINVAL, f"it is {what}, not a file", os.fspath(path))
        self.what = what


# -- reading files -----------------------------------------------------------------------------


def open_fd(path: str | os.PathLike[str]) -> tuple[int, os.stat_result]:
    """A read-only descriptor of the regular file at `path`, and its fstat.

    Raises FileNotFoundError when absent, NotAFile for a symlink (the last component is
    never followed), FIFO, device, socket or folder, other OSErrors as they come.
    """
    try:
        fd = os.open(path, O_READ)
    except OSError as e:
        if e.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise NotAFile(path, "a symbolic link") from None
        raise
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not statmod.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotAFile(path, describe(st.st_mode))
    return fd, st


def read_fd(fd: int, size_hint: int = 0, limit: int | None = None) -> bytes:
    """Everything from `fd` (at most `limit` bytes + 1, so a caller can tell it was cut)."""
    want = size_hint if limit is None else min(size_hint, limit + 1)
    data = os.read(fd, want) if want > 0 else b""
    parts = [data]
    total = len(data)
    while limit is None or total <= limit:
        chunk = os.read(fd, _CHUNK if limit is None else min(_CHUNK, limit + 1 - total))
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
    return data if len(parts) == 1 else b"".join(parts)


def read_file(path: str | os.PathLike[str], limit: int | None = None) -> bytes:
    """The bytes of the regular file at `path`, opened as `open_fd` does (never a link,
    never blocking). With `limit`, a longer file gives limit + 1 bytes (the caller refuses it)."""
    fd, st = open_fd(path)
    try:
        return read_fd(fd, st.st_size, limit)
    finally:
        os.close(fd)


def open_file(path: str | os.PathLike[str]):
    """A binary file object for the regular file at `path` (checked as `open_fd` does)."""
    fd, _ = open_fd(path)
    try:
        # The descriptor was opened non-blocking; for a regular file that changes nothing.
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# -- folders tmt writes into -------------------------------------------------------------------


def own_dir(store: str | os.PathLike[str], rel: str, *, create: bool = False) -> str:
    """The path of `store`/`rel` after checking that each component below `store` is a real
    folder (lstat: a symlink is never followed). `create` makes missing ones, with the store
    folder's group permissions. Raises UnsafePath for a link or non-folder, FileNotFoundError
    for a missing one when not creating.
    """
    path = os.fspath(store)
    for part in rel.split("/"):
        if not part:
            continue
        path = f"{path}/{part}"
        if path in _checked:
            continue
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if not create:
                raise
            _mkdir(store, path)
            st = os.lstat(path)
        if not statmod.S_ISDIR(st.st_mode):
            raise unsafe(path, st.st_mode)
        with _lock:
            _checked.add(path)
    return path


def remake(store: str | os.PathLike[str], rel: str) -> str:
    """own_dir(create=True) after forgetting an earlier check: for a writer whose folder was
    removed meanwhile (by hand, or `rm -r .tmt/experiments`), so it is made again."""
    forget(f"{os.fspath(store)}/{rel}")
    return own_dir(store, rel, create=True)


def forget_all() -> None:
    """Forget every check: a store is being opened, and may have changed since the last one."""
    with _lock:
        _checked.clear()
        _group.clear()


def forget(path: str | os.PathLike[str]) -> None:
    """Forget that `path` (and what is below it) was checked: tmt itself is removing it."""
    prefix = os.fspath(path)
    with _lock:
        for p in [p for p in _checked if p == prefix or p.startswith(prefix + "/")]:
            _checked.discard(p)


def unsafe(path: str | os.PathLike[str], mode: int | None = None, expected: str = "folder") -> UnsafePath:
    """The error for `path` holding something that is not tmt's own `expected` ("folder" or
    "file"): "…/tmp is a symbolic link (to /home), where tmt keeps its own folder; …"."""
    if mode is None:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            mode = 0
    what = describe(mode)
    target = ""
    if statmod.S_ISLNK(mode):
        try:
            target = f" (to {os.readlink(path)})"
        except OSError:
            pass
    return UnsafePath(
        f"{os.fspath(path)} is {what}{target}, where tmt keeps its own {expected}; tmt never follows "
        "or writes through it",
        UNSAFE_HINT,
    )


def check_entry(path: str | os.PathLike[str]) -> None:
    """Raise UnsafePath unless `path` is absent or a regular file.

    For fixed files tmt opens for writing (gc.lock, index.sqlite): a link there would be
    written through, a FIFO would block.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not statmod.S_ISREG(st.st_mode):
        raise unsafe(path, st.st_mode, "file")


def _mkdir(store: str | os.PathLike[str], path: str) -> None:
    try:
        os.mkdir(path, 0o777)
    except FileExistsError:
        return  # made by another process meanwhile; the caller lstat's it
    except FileNotFoundError:
        if os.path.dirname(path) != os.fspath(store):
            raise
        os.makedirs(store, exist_ok=True)  # the store folder itself: the user's, made as asked
        _mkdir(store, path)
        return
    except NotADirectoryError:
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
    extra = group_bits(store)
    if extra:
        try:
            mode = os.lstat(path).st_mode
            if mode & 0o070 != 0o070:
                os.chmod(path, statmod.S_IMODE(mode) | 0o070)
        except OSError:
            pass


# -- permissions of new files ------------------------------------------------------------------


def group_bits(store: str | os.PathLike[str]) -> int:
    """0o060 when the store folder is group-writable (a store shared by a group), else 0.

    The store folder is the user's (it may be a link); what it allows its group, tmt's files
    allow too, whatever the umask of the member creating them.
    """
    key = os.fspath(store)
    bits = _group.get(key)
    if bits is None:
        try:
            bits = 0o060 if os.stat(key).st_mode & 0o020 else 0
        except OSError:
            bits = 0
        _group[key] = bits
    return bits


def share(fd: int, store: str | os.PathLike[str], mode: int) -> None:
    """Give the new file behind `fd` (created with `mode`) the store's group permissions.

    Read-only files (objects, mode 0444) stay read-only: the group gets read, never write.
    """
    extra = group_bits(store)
    if not extra:
        return
    if not mode & 0o200:
        extra &= 0o040
    try:
        current = statmod.S_IMODE(os.fstat(fd).st_mode)
        if current & extra != extra:
            os.fchmod(fd, current | extra)
    except OSError:
        pass  # another member's file: its owner set the mode


# -- the layout: where tmt keeps its own folders and files -------------------------------------
# (docs/format.md, section 1; the modules that own these names: repo, maintenance.gc/lock/fsck,
# query.index, records.series, snapshot.statcache)

#: folders directly in the store folder
OWN_FOLDERS = ("objects", "experiments", "cache", "tmp", "pins", "journal", "quarantine")
#: the file that makes a store a lazy clone's (`tmt clone --lazy`): it names the remote to
#: fetch missing objects from (tmt/remote/config.py); ask `ObjectBackend.lazy`, not the file
LAZY_MARKER = "lazy-remote"
#: files directly in the store folder (index.sqlite's companions included: SQLite opens them)
OWN_FILES = ("gc.lock", "gc.epoch", "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.sqlite-journal",
             LAZY_MARKER)
#: settings files: each may be a link (shared settings), but must lead to a regular file
SETTINGS_FILES = ("config.toml", "remotes.toml")
#: folders below cache/, each holding one real folder per run
CACHE_FOLDERS = ("artifacts", "checkouts")
TRASH_PREFIX = "trash-"
_HEX = frozenset("0123456789abcdef")


def layout_problems(store: str | os.PathLike[str]) -> list[tuple[str, str]]:
    """(path, message) for every place where tmt keeps its own folder or file but finds a
    symlink, FIFO, device, socket, or a file where a folder belongs (and the reverse).

    Covers the folders and files of OWN_FOLDERS / OWN_FILES, `trash-*` folders, object
    fan-out folders, cache/ and its per-run folders, and the entries of pins/ and journal/.
    Objects and records are the business of their readers (fsck: corrupt_object, bad_record).
    `config.toml` and `remotes.toml` may be links (shared settings) but must lead to a file.
    """
    out: list[tuple[str, str]] = []
    root = os.fspath(store)

    def check(path: str, folder: bool | None) -> bool:
        """Whether `path` is a real folder (folder=True), a real file (False) or either (None)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return False
        except OSError as e:
            out.append((path, f"{path} cannot be checked: {e.strerror}"))
            return False
        mode = st.st_mode
        if folder is None and (statmod.S_ISDIR(mode) or statmod.S_ISREG(mode)):
            return True
        if folder is not None and (statmod.S_ISDIR if folder else statmod.S_ISREG)(mode):
            return True
        expected = "file or folder" if folder is None else "folder" if folder else "file"
        out.append((path, unsafe(path, mode, expected).message))
        return False

    def names(path: str) -> list[str]:
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    for name in OWN_FOLDERS:
        check(f"{root}/{name}", True)
    for name in OWN_FILES:
        check(f"{root}/{name}", False)
    for name in SETTINGS_FILES:
        path = f"{root}/{name}"
        try:
            st = os.stat(path)  # a link is fine; what it leads to must be a file
            if not statmod.S_ISREG(st.st_mode):
                out.append((path, f"{path} is {describe(st.st_mode)}, not a file"))
        except OSError:
            pass
    for name in names(root):
        if name.startswith(TRASH_PREFIX):
            check(f"{root}/{name}", True)
        elif name.startswith("checkout-") and name.endswith(".lock"):  # snapshot/rootlock.py
            check(f"{root}/{name}", False)
    if _is_real_dir(f"{root}/objects"):
        for fan in names(f"{root}/objects"):
            if len(fan) == 2 and set(fan) <= _HEX:
                check(f"{root}/objects/{fan}", True)
    if _is_real_dir(f"{root}/cache"):
        for name in names(f"{root}/cache"):
            path = f"{root}/cache/{name}"
            if name in CACHE_FOLDERS:
                if check(path, True):
                    for child in names(path):
                        check(f"{path}/{child}", True)
            else:  # stat caches, and whatever later versions keep here
                check(path, None)
    for sub in ("pins", "journal"):
        if _is_real_dir(f"{root}/{sub}"):
            for name in names(f"{root}/{sub}"):
                check(f"{root}/{sub}/{name}", None)
    return out


def _is_real_dir(path: str) -> bool:
    try:
        return statmod.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False
