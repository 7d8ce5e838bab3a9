"""The metric timeline: `tmt.timeline(metric, ...)`, a metric across runs with its jumps explained.

    changepoints.py  noise estimate and change points (PELT)
    functions.py     which Python functions changed, from two sources' syntax trees
    attribution.py   what changed at each boundary, and how specific it is to jumps
    analysis.py      the whole analysis, `Timeline`, its JSON and pictures
"""
from __future__ import annotations

import sys
import types

from tmt.timeline.analysis import Jump, Timeline, timeline

__all__ = ["timeline", "Timeline", "Jump"]


class _CallableModule(types.ModuleType):
    """`tmt.timeline` is this package once anything imports a module of it, and the
    function when `import tmt` resolves it lazily first: calling the package calls the
    function, so `tmt.timeline(...)` works in either order (as `tmt.plot`)."""

    def __call__(self, *args, **kwargs):
        return timeline(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
