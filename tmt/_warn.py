"""Warnings for people: one line on stderr, prefixed, never a Python warnings traceback."""
from __future__ import annotations

import sys


def warn(message: str) -> None:
    try:
        print(f"tmt: warning: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
