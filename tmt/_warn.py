"""Warnings for people: one line on stderr, prefixed, never a Python warnings traceback."""
from __future__ import annotations

import sys


def warn(message: str) -> None:
    """Print one warning line; control characters in it (names and paths from the store or
    the file system) are escaped, so it stays one line and never drives the terminal."""
    from tmt.text import printable

    try:
        print(f"tmt: warning: {printable(message)}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
