"""The predecessor's duplicate-name settings, kept so that code written for it still runs.

In tmt names may repeat: every call is a new run, and a name addresses its latest run. So
the policies only differ in one way now: AS_SUB_ENTRY records the latest earlier run of the
same name (or `parent_id`) as the new run's `parent`. DONT_ALLOW, the predecessor's
default, no longer refuses a repeated name (see docs/recording.md, "Repeated names").
"""
from __future__ import annotations

import enum

from tmt._plain import Plain


class DuplicatePolicy(enum.Enum):
    DONT_ALLOW = enum.auto()
    AS_SUB_ENTRY = enum.auto()
    AS_NEW_ENTRY = enum.auto()


class DuplicateStrategy(Plain):
    """How a repeated name is recorded (see the module's docstring). A plain class, not a
    dataclass (tmt/_plain.py)."""

    __slots__ = ("policy", "parent_id")

    def __init__(self, policy: DuplicatePolicy = DuplicatePolicy.DONT_ALLOW, parent_id: str = "") -> None:
        self.policy = policy
        self.parent_id = parent_id
