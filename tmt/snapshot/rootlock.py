"""The checkout lock: one in-place checkout at a time per code root (a second one fails at
once, naming the first), and no run starts half-way through one (it waits a few seconds).

`.tmt/checkout-<digest of the code root>.lock` is flock(2)ed: exclusively by an in-place
checkout for its whole length, shared by a starting run from before its snapshot until its
`running` record is published. So a run never records a half-restored tree, and a checkout
that holds the lock sees every run that started before it (tmt.workspace.running_here).
Only the exclusive holder writes the file (its pid, host, time and what it checks out, for
messages) and empties it when it is done; the file itself stays, since shared holders may
hold its inode. The kernel drops a lock with its process (SIGKILL, a crash): nothing stale.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
import stat
import time
from pathlib import Path

from tmt.errors import CheckoutInProgress, StoreError
from tmt.store.nofollow import unsafe

#: How long a starting run waits for a checkout to finish (and a checkout for starting runs)
#: before failing; a second checkout fails at once.
WAIT_S = 5.0
_POLL_S = 0.05
_BUSY = (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES)


def lock_path(tmt_dir: str | os.PathLike[str], root: str | os.PathLike[str]) -> Path:
    from blake3 import blake3

    digest = blake3(os.fsencode(os.path.realpath(root))).hexdigest()[:16]
    return Path(tmt_dir) / f"checkout-{digest}.lock"


class RootLock:
    """Held while in place (exclusive: a checkout) or while a run starts (shared)."""

    def __init__(self, tmt_dir: str | os.PathLike[str], root: str | os.PathLike[str], *,
                 exclusive: bool, what: str = "") -> None:
        self.path = lock_path(tmt_dir, root)
        self.root = Path(root)
        self.exclusive = exclusive
        self.what = what  # the checkout, as messages name it: "run 1a2b3c4d (train)"
        self._fd: int | None = None

    def acquire(self, wait_s: float | None = None) -> "RootLock":
        wait_s = WAIT_S if wait_s is None else wait_s
        try:
            # 0666 less the umask, as for the store's other files: a group store stays shared.
            # Another user's lock file may be read-only for us: flock works on that too.
            # O_NONBLOCK and the fstat below: a FIFO or device planted at the lock's path (a
            # store from elsewhere) is refused, never waited on or written to (nofollow).
            flags = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | flags, 0o666)
            except PermissionError:
                fd = os.open(self.path, os.O_RDONLY | flags)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise unsafe(self.path, expected="file") from None
            raise StoreError(f"could not open the checkout lock {self.path}: {e.strerror or e}",
                             "check the permissions of the .tmt folder") from e
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise unsafe(self.path, st.st_mode, "file")
        mode = fcntl.LOCK_EX if self.exclusive else fcntl.LOCK_SH
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except OSError as e:
                if e.errno not in _BUSY:
                    os.close(fd)
                    raise StoreError(f"could not take the checkout lock {self.path}: {e.strerror or e}") from e
            # A checkout meeting another checkout fails at once (as git does); starting runs
            # hold the lock only for their snapshot, so they are waited for.
            holder = _read(fd) if self.exclusive else None
            if holder is not None or time.monotonic() >= deadline:
                holder = holder or _read(fd)
                os.close(fd)
                raise self._busy(holder, wait_s)
            time.sleep(_POLL_S)
        self._fd = fd
        if self.exclusive:
            info = {"pid": os.getpid(), "host": _host(), "time": time.time(), "what": self.what}
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
            except OSError:
                pass  # only for messages; the flock is the lock
        return self

    def _busy(self, holder: dict | None, waited: float) -> CheckoutInProgress:
        from tmt.text import printable

        root = printable(str(self.root))
        if holder is None:  # shared holders only: runs taking their snapshot
            return CheckoutInProgress(
                f"runs kept starting from {root} for {waited:.0f} s, so the checkout could not begin",
                "try again in a moment",
            )
        since = time.time() - float(holder.get("time") or time.time())
        who = (f"`tmt checkout` of {printable(str(holder.get('what') or 'a run'))} "
               f"(pid {holder.get('pid')} on {printable(str(holder.get('host')))}, for {since:.0f} s)")
        if self.exclusive:
            return CheckoutInProgress(f"{who} is rewriting {root}; one checkout at a time",
                                      "wait for it to finish, then check out again")
        return CheckoutInProgress(
            f"{who} is rewriting {root}; waited {waited:.0f} s, and a run started now would record a half-restored tree",
            "wait for the checkout to finish, then start the run again",
        )

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if self.exclusive:
                os.ftruncate(self._fd, 0)  # empty: nobody is checking out
        except OSError:
            pass
        os.close(self._fd)  # drops the flock
        self._fd = None

    def __enter__(self) -> "RootLock":
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read(fd: int) -> dict | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _host() -> str:
    from tmt._sys import hostname

    return hostname()
