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


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (a pid out of range does not)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except (OverflowError, ValueError, OSError):
        return False
    return True
