"""Host name and random tokens without importing socket or secrets.

Both modules cost milliseconds to import, which every short `python train.py` pays; the
host name is what uname reports (socket.gethostname() returns the same on POSIX).
"""
from __future__ import annotations

import os


def hostname() -> str:
    try:
        return os.uname().nodename
    except AttributeError:  # not POSIX
        import socket

        return socket.gethostname()


def host_label() -> str:
    """The host name as it appears in file names (pins, temp files): never empty, and free
    of '/' (a path separator) and '_' (the separator after it in those names)."""
    return hostname().replace("/", "-").replace("_", "-") or "localhost"


def token_hex(nbytes: int) -> str:
    return os.urandom(nbytes).hex()


def pid_alive(pid: object) -> bool:
    """Whether process `pid` is running on this host (a pid out of range is not, nor a zombie)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return not _is_zombie(pid)  # exists, owned by someone else
    except (OverflowError, ValueError, OSError):
        return False
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that died (SIGKILL) but that its parent has not yet reaped still answers
    kill(pid, 0): it is a zombie, dead for every purpose of ours. Linux says so in
    /proc/<pid>/stat; elsewhere (no /proc) a zombie is taken for alive."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read(512)
    except OSError:
        return False
    # "pid (comm) S ...": comm may hold spaces and parentheses, so the state is the first
    # field after the last ')'.
    end = data.rfind(b")")
    return end >= 0 and data[end + 2 : end + 3] in (b"Z", b"X")
