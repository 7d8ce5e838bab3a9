"""Store maintenance: gc (delete what nothing needs, safely beside live runs) and fsck."""
from __future__ import annotations

from tmt.maintenance.fsck import FsckResult, Problem, fsck
from tmt.maintenance.gc import GcRefused, GcResult, gc, parse_duration

__all__ = ["gc", "GcResult", "GcRefused", "parse_duration", "fsck", "FsckResult", "Problem"]
