"""The predecessor's duplicate-name settings, kept so that code written for it still runs.

In tmt names may repeat: every call is a new run, and a name addresses its latest run. So
the policies only differ in one way now: AS_SUB_ENTRY records the latest earlier run of the
same name (or `parent_id`) as the new run's `parent`. DONT_ALLOW, the predecessor's
default, no longer refuses a repeated name (see docs/recording.md, "Repeated names").
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class DuplicatePolicy(enum.Enum):
    DONT_ALLOW = enum.auto()
    AS_SUB_ENTRY = enum.auto()
    AS_NEW_ENTRY = enum.auto()


@dataclass
class DuplicateStrategy:
    policy: DuplicatePolicy = DuplicatePolicy.DONT_ALLOW
    parent_id: str = ""
