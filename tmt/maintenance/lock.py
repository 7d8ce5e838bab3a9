"""The gc lock: one gc (or fsck --repair) at a time on a store; recording never takes it.

`.tmt/gc.lock` holds one line of JSON naming its holder (host, pid, time) for messages. The
exclusion itself is an flock(2) on the open file, so a lock whose process died (SIGKILL,
power loss, a reboot) is stale by construction: the kernel released it with the process,
and the next gc takes it over without guessing from pids. The holder unlinks the file
before it unlocks; a contender that locked an inode which is no longer at the path retries,
so two processes never both believe they hold it.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import stat as statmod
import time
from pathlib import Path

from tmt._sys import hostname
from tmt.errors import LockedError, StoreError
from tmt.store.nofollow import check_entry, open_fd, read_file, share, unsafe

LOCK_NAME = "gc.lock"


def os_error(doing: str, e: OSError) -> StoreError:
    """An OSError met by gc or fsck --repair as a StoreError naming the file."""
    where = f"{os.fsdecode(e.filename)}: " if e.filename else ""
    hint = None
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "gc and fsck --repair change files all over the .tmt folder: run them as its owner, on a writable mount"
    elif e.errno == errno.ENOSPC:
        hint = "the disk is full; objects moved aside were put back"
    return StoreError(f"{doing} failed: {where}{e.strerror or e}", hint)


def read_holder(tmt_dir: str | os.PathLike[str]) -> dict | None:
    """What the lock file says about its holder (None if there is no readable lock)."""
    try:
        data = json.loads(read_file(Path(tmt_dir) / LOCK_NAME, limit=4096))
    except (OSError, ValueError):  # absent, unreadable, or not a file (a planted link or FIFO)
        return None
    return data if isinstance(data, dict) else None


def is_held(tmt_dir: str | os.PathLike[str]) -> bool:
    """True while a live process holds the gc lock (the file alone proves nothing)."""
    path = Path(tmt_dir) / LOCK_NAME
    try:
        fd, _ = open_fd(path)  # never a link, never blocking on a FIFO
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        return e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)
    finally:
        os.close(fd)
    return False


class GcLock:
    """Context manager holding `.tmt/gc.lock`; raises LockedError if a live process has it."""

    def __init__(self, tmt_dir: str | os.PathLike[str], purpose: str = "gc") -> None:
        self.path = Path(tmt_dir) / LOCK_NAME
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> None:
        for _ in range(100):
            # O_NOFOLLOW and O_NONBLOCK: a link planted at gc.lock is never truncated through,
            # a FIFO never waited on; anything but a regular file is refused.
            check_entry(self.path)  # UnsafePath for a link, FIFO or folder there
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
            except OSError as e:
                if e.errno == errno.ELOOP:
                    raise unsafe(self.path, expected="file") from None
                raise os_error("taking the gc lock", e) from e
            try:
                st = os.fstat(fd)
                if not statmod.S_ISREG(st.st_mode):
                    raise unsafe(self.path, st.st_mode, "file")
                share(fd, self.path.parent, 0o644)  # a group-shared store: every member's gc may lock
            except BaseException:
                os.close(fd)
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._locked_error() from None
                e.filename = e.filename or str(self.path)
                raise os_error("taking the gc lock", e) from e
            # The holder we waited on may have unlinked the file before unlocking: the inode
            # we locked is then no longer the lock, and a third process may own a new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            info = {"host": hostname(), "pid": os.getpid(), "time": time.time(), "purpose": self.purpose}
            self._fd = fd
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            except OSError:
                pass  # the holder's name is only for messages; the flock is the lock
            return
        raise self._locked_error()  # pragma: no cover - only under pathological churn

    def _locked_error(self) -> LockedError:
        holder = read_holder(self.path.parent) or {}
        who = ""
        if holder:
            try:
                since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(holder.get("time", 0))))
            except (TypeError, ValueError, OverflowError, OSError):
                since = "?"
            who = f" ({holder.get('purpose', 'gc')}, pid {holder.get('pid')} on {holder.get('host')} since {since})"
        return LockedError(
            f"another gc is running on this store{who}",
            "wait for it to finish; a lock whose process died is taken over automatically",
        )

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        os.close(self._fd)  # closing drops the flock
        self._fd = None

    def __enter__(self) -> "GcLock":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
