"""The TUI's two line-based widgets: the runs table and a scrollable view of prepared lines.

Both draw only the lines on screen (Textual's Line API), so 100,000 runs or a 50,000-line
diff cost what a screenful costs. Text reaches them as (text, style) segments; every
segment passes `printable` once more here (a no-op on text already escaped), so nothing
from a store can put a control character on the terminal through the TUI.
"""
from __future__ import annotations

from functools import lru_cache

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widget import Widget

from tmt.text import printable
from tmt.tui.listing import GAP, NAME_MIN, Column, Listing, Row

Segments = list[tuple[str, "str | None"]]

CURSOR = ">"
MARK = "*"
GUTTER = 2  # the cursor and mark characters before each row


@lru_cache(maxsize=256)
def style_of(spec: str | None) -> Style:
    return Style.parse(spec) if spec else Style.null()


def safe(text: str) -> str:
    return printable(text.expandtabs(4)) if "\t" in text else printable(text)


def to_strip(segments: Segments, width: int | None = None, base: Style | None = None) -> Strip:
    segs = [Segment(safe(text), (base + style_of(style)) if base else style_of(style)) for text, style in segments]
    strip = Strip(segs)
    return strip.adjust_cell_length(width, base) if width is not None else strip


class LinesView(ScrollView, can_focus=True):
    """Lines of (text, style) segments, scrolled with the arrows, PgUp/PgDn, Home/End, j/k."""

    BINDINGS = [
        Binding("j", "scroll_down", "down", show=False),
        Binding("k", "scroll_up", "up", show=False),
        Binding("g", "scroll_home", "top", show=False),
        Binding("G", "scroll_end", "bottom", show=False),
        Binding("space", "page_down", "page down", show=False),
    ]

    DEFAULT_CSS = """
    LinesView { height: 1fr; scrollbar-size: 1 1; }
    """

    def __init__(self, lines: list[Segments] | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: list[Segments] = []
        self._strips: dict[int, Strip] = {}
        self.set_lines(lines or [])

    def set_lines(self, lines: list[Segments]) -> None:
        self.lines = lines
        self._strips.clear()
        width = max((sum(cell_len(safe(t)) for t, _ in line) for line in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        self.refresh()

    def text(self) -> str:
        """The lines as plain text (what a person reads)."""
        return "\n".join("".join(safe(t) for t, _ in line) for line in self.lines)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        i = scroll_y + y
        width = self.size.width
        if i >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        strip = self._strips.get(i)
        if strip is None:
            strip = self._strips[i] = to_strip(self.lines[i], base=self.rich_style)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)


class RunTable(Widget, can_focus=True):
    """The runs list: a header line, then one line per run of `listing`, from `top`.

    The cursor (`>`) is a position in the list, the column cursor (`col`) a column, which
    `s` sorts by; `*` marks a run (marks are run ids, so they survive new filters and sorts).
    id and name stay in place; the other columns scroll sideways to keep the column cursor
    in view. The name column gives up width first, as in `tmt ls`.
    """

    BINDINGS = [
        Binding("up,k", "move(-1)", "up", show=False),
        Binding("down,j", "move(1)", "down", show=False),
        Binding("pageup,ctrl+b", "page(-1)", "page up", show=False),
        Binding("pagedown,ctrl+f", "page(1)", "page down", show=False),
        Binding("home,g", "jump(0)", "first", show=False),
        Binding("end,G", "jump(-1)", "last", show=False),
        Binding("left,h", "column(-1)", "column left", show=False),
        Binding("right,l", "column(1)", "column right", show=False),
    ]

    DEFAULT_CSS = """
    RunTable { height: 1fr; }
    """

    class Moved(Message):
        """The cursor or the column cursor moved."""

    def __init__(self, listing: Listing, **kwargs) -> None:
        super().__init__(**kwargs)
        self.listing = listing
        self.cursor = 0
        self.top = 0
        self.col = 3  # age: the column the list is sorted by at first
        self.first_scrolled = 2  # the first of the columns after id and name shown
        self.marks: dict[str, None] = {}  # run ids, in the order marked
        self._rows: tuple[int, list[Row]] | None = None

    # -- state ---------------------------------------------------------------------------

    @property
    def body_height(self) -> int:
        return max(self.size.height - 1, 1)

    def invalidate(self) -> None:
        """The listing changed (filter, sort, new runs): draw again from it."""
        self._rows = None
        n = len(self.listing.rids)
        self.cursor = min(self.cursor, max(n - 1, 0))
        self.col = min(self.col, len(self.listing.columns) - 1)
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Moved())

    def redraw(self) -> None:
        """The rows on screen again from the listing (their cells were formatted anew)."""
        self._rows = None
        self.refresh()

    def current(self) -> Row | None:
        rows = self.listing.window(self.cursor, self.cursor + 1)
        return rows[0] if rows else None

    def current_column(self) -> Column:
        return self.listing.columns[self.col]

    def move_to(self, position: int) -> None:
        n = len(self.listing.rids)
        self.cursor = max(0, min(position, n - 1)) if n else 0
        self._scroll_to_cursor()
        self.refresh()
        self.post_message(self.Moved())

    def _scroll_to_cursor(self) -> None:
        h = self.body_height
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + h:
            self.top = self.cursor - h + 1
        self.top = max(0, min(self.top, max(len(self.listing.rids) - h, 0)))

    def toggle_mark(self) -> Row | None:
        row = self.current()
        if row is not None:
            if row.id in self.marks:
                del self.marks[row.id]
            else:
                self.marks[row.id] = None
            self.refresh()
            self.post_message(self.Moved())
        return row

    # -- actions -------------------------------------------------------------------------

    def action_move(self, delta: int) -> None:
        self.move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        self.top = max(0, self.top + delta * self.body_height)
        self.move_to(self.cursor + delta * self.body_height)

    def action_jump(self, where: int) -> None:
        self.move_to(len(self.listing.rids) - 1 if where < 0 else 0)

    def action_column(self, delta: int) -> None:
        self.col = max(0, min(self.col + delta, len(self.listing.columns) - 1))
        self.refresh()
        self.post_message(self.Moved())

    def on_mouse_scroll_down(self, event) -> None:
        self.move_to(self.cursor + 3)
        event.stop()

    def on_mouse_scroll_up(self, event) -> None:
        self.move_to(self.cursor - 3)
        event.stop()

    def on_click(self, event) -> None:
        if event.y == 0:
            return
        self.move_to(self.top + event.y - 1)

    # -- drawing -------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[int, int]]:
        """(column index, width) of the columns drawn, left to right."""
        cols = self.listing.columns
        widths = [c.width for c in cols]
        avail = width - GUTTER
        name_w = widths[1]
        fixed = widths[0] + GAP + name_w
        rest = [i for i in range(2, len(cols))]
        total = fixed + sum(widths[i] + GAP for i in rest)
        if total > avail:  # the name gives way first, down to NAME_MIN
            name_w = max(min(name_w, NAME_MIN), name_w - (total - avail))
            fixed = widths[0] + GAP + name_w
        # Scroll sideways so the column cursor is in view.
        if self.col >= 2:
            if self.col < self.first_scrolled:
                self.first_scrolled = self.col
            while True:
                used = fixed + sum(widths[i] + GAP for i in range(self.first_scrolled, self.col + 1))
                if used <= avail or self.first_scrolled >= self.col:
                    break
                self.first_scrolled += 1
        out = [(0, widths[0]), (1, name_w)]
        used = fixed
        for i in range(self.first_scrolled, len(cols)):
            if used + GAP + widths[i] > avail and len(out) > 2:
                break
            out.append((i, widths[i]))
            used += GAP + widths[i]
        return out

    def _visible(self) -> list[Row]:
        if self._rows is None or self._rows[0] != self.top:
            self._rows = (self.top, self.listing.window(self.top, self.top + self.body_height))
        return self._rows[1]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        layout = self._layout(width)
        cols = self.listing.columns
        if y == 0:
            segs: Segments = [(" " * GUTTER, None)]
            for n, (i, w) in enumerate(layout):
                c = cols[i]
                head = c.header
                if c.sort_key == self.listing.sort_key:
                    head += "▼" if self.listing.descending else "▲"
                text = _fit(head, w, c.justify)
                style = "bold reverse" if i == self.col and self.has_focus else "bold underline" if i == self.col else "bold"
                if n:
                    segs.append((" " * GAP, None))
                segs.append((text, style))
            return to_strip(segs, width)
        rows = self._visible()
        k = y - 1
        if k >= len(rows):
            if y == 1 and not rows:
                return to_strip([(" " * GUTTER + "no runs" + (" match" if self.listing.filters else ""), "dim")], width)
            return Strip.blank(width)
        row = rows[k]
        pos = self.top + k
        here = pos == self.cursor
        marked = row.id in self.marks
        base = Style.parse("reverse") if here and self.has_focus else Style.parse("underline") if here else None
        segs = [((CURSOR if here else " ") + (MARK if marked else " "), "bold yellow" if marked else "bold")]
        for n, (i, w) in enumerate(layout):
            text, cell_style = row.cells[i] if i < len(row.cells) else ("", None)
            if n:
                segs.append((" " * GAP, None))
            segs.append((_fit(text, w, cols[i].justify), ("bold yellow" if marked and i == 1 else cell_style)))
        return to_strip(segs, width, base)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def on_resize(self) -> None:
        self._rows = None
        self._scroll_to_cursor()


def _fit(text: str, width: int, justify: str) -> str:
    """`text` in exactly `width` cells: cut with "…" (only names get that long), padded."""
    if cell_len(text) > width:
        return set_cell_size(text, max(width - 1, 0)) + "…" if width > 0 else ""
    pad = width - cell_len(text)
    return " " * pad + text if justify == "right" else text + " " * pad
