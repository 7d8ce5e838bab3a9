"""A Figure with its outputs: terminal text, SVG, HTML, PNG, and `save(path)` by suffix.

What `tmt.plot(...)` and `tmt.timeline(...).picture()` return. In a notebook it shows
itself as SVG (`_repr_svg_`); printed with rich, it draws the terminal chart at the
console's width.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tmt.errors import UsageError
from tmt.plot.figure import Figure
from tmt.plot.terminal import Chart

FORMATS = (".svg", ".html", ".png")


def output_format(path: str | os.PathLike[str], allowed: Sequence[str] = FORMATS) -> str:
    """The suffix of an output file, checked against the formats this picture can write."""
    suffix = Path(path).suffix.lower()
    if suffix == ".htm":
        suffix = ".html"
    if suffix not in allowed:
        raise UsageError(
            f"cannot write {os.fspath(path)!r}: unknown picture format {suffix or '(no suffix)'!r}",
            f"name a file ending in {', '.join(allowed)}",
        )
    return suffix


@dataclass
class Picture:
    figure: Figure
    meta: str = ""  # one line of context for the HTML page
    tables: list[tuple[list[str], list[list[str]]]] = field(default_factory=list)  # HTML tables under the SVG

    def chart(self, width: int | None = None, height: int = 16, unicode: bool = True) -> Chart:
        """The terminal chart (a rich renderable; `.lines()`, `.plain()`)."""
        return Chart(self.figure, width=width, height=height, unicode=unicode)

    def to_text(self, width: int = 100, height: int = 16, unicode: bool = True) -> str:
        return self.chart(width, height, unicode).plain()

    def to_svg(self, width: int = 800, plot_height: int = 320) -> str:
        from tmt.plot.svg import render_svg

        return render_svg(self.figure, width, plot_height)

    def to_html(self) -> str:
        from tmt.plot.html import render_html

        return render_html(self.figure, meta=self.meta, tables=self.tables)

    def to_png(self) -> bytes:
        from tmt.plot.png import render_png

        return render_png(self.figure)

    def render(self, fmt: str) -> bytes:
        if fmt == ".svg":
            return self.to_svg().encode("utf-8")
        if fmt == ".html":
            return self.to_html().encode("utf-8")
        return self.to_png()

    def save(self, path: str | os.PathLike[str], formats: Sequence[str] = FORMATS) -> Path:
        """Write the picture to `path` (atomically), in the format its suffix names."""
        from tmt.userfile import write_user_file

        data = self.render(output_format(path, formats))
        write_user_file(path, data)
        return Path(path)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def __rich_console__(self, console, options):
        yield self.chart()

    def __str__(self) -> str:
        return self.to_text()
