"""A self-contained HTML page around a figure's SVG: nothing is fetched when it is viewed.

The SVG is inlined, the style sheet is inline, there is no script, and a Content Security
Policy forbids every network source, so the page shows the same picture offline, from a
mail attachment or years later. Like the SVG, the same figure gives the same bytes.
"""
from __future__ import annotations

from collections.abc import Sequence

from tmt.plot.figure import Figure
from tmt.plot.svg import esc, render_svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """\
body { font-family: "DejaVu Sans", Verdana, Arial, sans-serif; margin: 24px; color: #333; background: #fff; }
h1 { font-size: 18px; margin: 0 0 4px 0; }
p.meta { color: #777; margin: 0 0 12px 0; font-size: 13px; }
figure { margin: 0; }
table { border-collapse: collapse; margin-top: 16px; font-size: 13px; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; }
th { border-bottom: 1px solid #ccc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; }"""


def render_html(fig: Figure, *, meta: str = "", tables: Sequence[tuple[Sequence[str], Sequence[Sequence[str]]]] = (),
                svg: str | None = None) -> str:
    """The page: a heading, a line of context, the SVG, then optional tables (headers, rows)."""
    svg = svg if svg is not None else render_svg(fig)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(fig.title)}</title>",
        f"<style>\n{_STYLE}\n</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(fig.title)}</h1>",
    ]
    if meta:
        parts.append(f'<p class="meta">{esc(meta)}</p>')
    parts.append("<figure>")
    parts.append(svg.rstrip("\n"))
    parts.append("</figure>")
    for headers, rows in tables:
        parts.append("<table>")
        parts.append("<tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + "</tr>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>")
        parts.append("</table>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
