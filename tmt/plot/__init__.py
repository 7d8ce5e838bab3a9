"""Pictures of runs: `tmt.plot(series, *runs, ...)` and the pieces it is made of.

    figure.py    what a picture holds (curves, markers, notes) and shared helpers
    smooth.py    debiased EMA and moving average, over the full data
    terminal.py  the braille chart (a reusable renderer: lines, plain text, rich)
    svg.py, html.py, png.py   the file writers
    series.py    a step series of several runs as a picture (`plot`)
    picture.py   a figure with its outputs and `save(path)`
"""
from __future__ import annotations

import sys
import types

from tmt.plot.picture import Picture
from tmt.plot.series import plot

__all__ = ["plot", "Picture"]


class _CallableModule(types.ModuleType):
    """`tmt.plot` is this package once anything imports `tmt.plot.<module>` (the import
    system sets the attribute), and the function `plot` when `import tmt` resolves it
    lazily first; calling the package calls the function, so `tmt.plot(...)` works in
    either order."""

    def __call__(self, *args, **kwargs):
        return plot(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
