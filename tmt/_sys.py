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


def token_hex(nbytes: int) -> str:
    return os.urandom(nbytes).hex()
