"""Rendering for the CLI: rich on a terminal, plain text when piped, JSON for scripts.

Conventions every command follows:
- data goes to stdout, messages (progress, "Saved …", warnings) to stderr (`message`);
- on a terminal output is rendered with rich (tables, colour); piped, it is plain aligned
  text with no escape codes, so `grep`/`awk` work; `NO_COLOR` (any value) turns colour off,
  `TERM=dumb` too; `FORCE_COLOR` forces rich rendering with colour even when piped;
- `--json` prints `dump_json(...)`: keys sorted, non-finite floats as "NaN"/"Infinity"/
  "-Infinity" (as in the records), keys only ever added between versions.

rich costs ~50 ms to import, so it is imported only when rendering to a terminal.
"""
from __future__ import annotations

import json
import math
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, cast

import click

from tmt._units import format_age, format_size
from tmt.text import printable
from tmt.records.model import encode_metric

STATUS_STYLES = {
    "completed": "green",
    "failed": "red",
    "crashed": "bold red",
    "interrupted": "yellow",
    "running": "cyan",
}

DEFAULT_WIDTH = 120  # when the width cannot be known (piped) and COLUMNS is not set
#: (width, colour) of the terminal while stdout goes through a pager (tmt.cli.pager)
PAGING: tuple[int, bool] | None = None


def message(text: str) -> None:
    """A message for the person, not data: stderr (control characters escaped: a message
    names runs and paths, which come from the store)."""
    click.echo(printable(text), err=True)


def color_wanted(stream: IO[str] | None = None) -> bool:
    """Colour on a terminal, unless NO_COLOR is set or TERM=dumb; FORCE_COLOR forces it."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stdout
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(stream: IO[str] | None = None) -> int:
    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    stream = stream or sys.stdout
    try:
        return os.get_terminal_size(stream.fileno()).columns or DEFAULT_WIDTH
    except (AttributeError, ValueError, OSError):
        return DEFAULT_WIDTH


@dataclass(slots=True)
class Column:
    header: str
    justify: str = "left"  # "left" | "right"
    style: str | None = None  # rich style for the whole column
    no_wrap: bool = True
    min_width: int | None = None  # rich never narrows it below this (ids, numbers: never cut)


@dataclass
class Output:
    """Where and how to render: `rich` picks rich over plain text; `color` adds colour."""

    rich: bool = False
    color: bool = False
    width: int = DEFAULT_WIDTH
    file: IO[str] | None = None
    _console: Any = field(default=None, repr=False)

    @classmethod
    def detect(cls, file: IO[str] | None = None) -> "Output":
        if PAGING is not None and file is None:  # stdout is the pager's pipe: render for the terminal
            return cls(rich=True, color=PAGING[1], width=PAGING[0])
        stream = file or sys.stdout
        try:
            tty = stream.isatty()
        except (AttributeError, ValueError):
            tty = False
        color = color_wanted(stream)
        forced = bool(os.environ.get("FORCE_COLOR")) and not os.environ.get("NO_COLOR")
        return cls(rich=tty or forced, color=color, width=terminal_width(stream), file=file)

    def width_limit(self) -> int | None:
        """How wide a table may be: the terminal's width; piped, $COLUMNS if the user set it,
        else no limit (a script reading the table must get every column)."""
        if self.rich:
            return self.width
        env = os.environ.get("COLUMNS", "")
        return int(env) if env.isdigit() and int(env) > 0 else None

    @property
    def ellipsis(self) -> str:
        return "…" if can_encode("…", self.stream) else "~"

    # -- low level -----------------------------------------------------------------------

    @property
    def stream(self) -> IO[str]:
        return self.file or sys.stdout

    def console(self):
        if self._console is None:
            from rich.console import Console

            self._console = Console(
                file=self.stream,
                width=self.width,
                color_system="auto" if self.color else None,
                no_color=not self.color,
                force_terminal=self.color,
                highlight=False,
                markup=False,
                emoji=False,
                soft_wrap=False,
            )
        return self._console

    def line(self, text: str = "", style: str | None = None, *, keep_tabs: bool = False) -> None:
        """One line, its control characters escaped (`printable`): a line names runs, paths and
        keys from the store. `keep_tabs` for lines of code."""
        text = printable(text, keep_tabs=keep_tabs)
        if self.rich and style and self.color:
            from rich.text import Text

            self.console().print(Text(text, style=style), soft_wrap=True)
        else:
            click.echo(text, file=self.stream, color=False)

    def patch_line(self, text: str, style: str | None = None) -> None:
        """One line of a patch. Piped, the file's own characters as UTF-8 (a CR, an escape
        byte: `git apply` must get them back; names in it are quoted as git quotes them); on
        a terminal, control characters escaped (tabs kept) so a file cannot drive it."""
        if self.rich:
            self.line(text, style=style, keep_tabs=True)
        else:
            click.echo(text.encode("utf-8", "surrogateescape"), file=self.stream, color=False)

    def heading(self, text: str) -> None:
        """A section title; plain text gets a trailing colon so it reads as a label."""
        if self.rich:
            self.line(text, style="bold")
        else:
            click.echo(f"{printable(text)}:", file=self.stream)

    # -- tables ----------------------------------------------------------------------------

    def table(self, columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, title: str | None = None,
              show_header: bool = True, indent: int = 0, cleaned: bool = False) -> None:
        """`cleaned`: the rows are already `clean_cells` (measured by the caller: one pass)."""
        # `cleaned` rows come from clean_cells: lists of (text, style) cells already
        cells = cast("list[list[tuple[str, str | None]]]", rows) if cleaned else [[_cell(c) for c in row] for row in rows]
        if self.rich:
            self._rich_table(columns, cells, title=title, show_header=show_header, indent=indent)
        else:
            if title:
                self.heading(title)
            lines = plain_table(columns, cells, show_header=show_header, indent=indent)
            if lines:
                click.echo("\n".join(lines), file=self.stream)  # one write: 100,000 rows stay fast

    def _rich_table(self, columns, rows, *, title, show_header, indent) -> None:
        from rich import box
        from rich.padding import Padding
        from rich.table import Table
        from rich.text import Text

        # collapse_padding: two characters between columns, as in plain text, so a table
        # that fits when piped fits on a terminal of the same width
        t = Table(
            title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD if show_header else None,
            show_header=show_header, header_style="bold", pad_edge=False, show_edge=False, collapse_padding=True,
        )
        for col in columns:
            t.add_column(printable(col.header), justify=col.justify, style=col.style, no_wrap=col.no_wrap,
                         overflow="ellipsis" if col.no_wrap else "fold", min_width=col.min_width)
        for row in rows:
            t.add_row(*(Text(text, style=style or "") for text, style in row))
        self.console().print(Padding(t, (0, 0, 0, indent)) if indent else t)

    def key_values(self, pairs: Iterable[tuple[str, Any]], *, indent: int = 2) -> None:
        """Aligned `key  value` lines (value already formatted)."""
        pairs = [(k, _cell(v)) for k, v in pairs]
        if not pairs:
            return
        self.table([Column("key", style="bold" if self.rich else None), Column("value", no_wrap=False)],
                   [[k, v] for k, v in pairs], show_header=False, indent=indent)


def _cell(value: Any) -> tuple[str, str | None]:
    if isinstance(value, tuple):
        text, style = value
        return _clean(str(text)), style
    return _clean(str(value)), None


def _clean(text: str) -> str:
    """One line per cell: control characters would break alignment and could be escapes."""
    return printable(text)


def cell_text(value: Any) -> str:
    """A cell as it will be printed (escaped), to measure it before laying out a table."""
    return _cell(value)[0]


def clean_cells(row: Sequence[Any]) -> list[tuple[str, str | None]]:
    """A row's cells as (escaped text, style), as `table` prints them: measured once."""
    return [_cell(c) for c in row]


def shorten(text: str, width: int, ellipsis: str = "…") -> str:
    """`text` cut to `width` characters, the last one an ellipsis when it was cut."""
    if len(text) <= width:
        return text
    return text[: max(width - len(ellipsis), 0)] + ellipsis


@dataclass(slots=True)
class Fit:
    """How a table fits a width: the columns kept (indexes, in order), the width the
    shrinkable column gets, and the columns dropped."""

    kept: list[int]
    shrink_to: int | None
    dropped: list[int]


def fit_columns(widths: Sequence[int], fixed: int, limit: int | None, gap: int, *,
                shrink: int | None = None, min_shrink: int = 8) -> Fit:
    """Lay out columns of natural `widths` in `limit` characters.

    The first `fixed` columns are always kept; column `shrink` (among them) gives up width
    first, down to `min_shrink`; then the other columns are kept in order while they fit,
    and the rest dropped. Nothing else is ever cut, so ids and numbers print whole.
    """
    n = len(widths)
    if limit is None:
        return Fit(list(range(n)), None, [])

    def total(cols: list[int], shrunk: int | None) -> int:
        w = sum(widths[i] if i != shrink or shrunk is None else shrunk for i in cols)
        return w + gap * (len(cols) - 1)

    kept = list(range(fixed))
    floor = min(widths[shrink], min_shrink) if shrink is not None else None
    dropped: list[int] = []
    for i in range(fixed, n):
        if not dropped and total(kept + [i], floor) <= limit:
            kept.append(i)
        else:
            dropped.append(i)
    shrink_to = None
    if shrink is not None and floor is not None and total(kept, None) > limit:
        shrink_to = max(floor, widths[shrink] - (total(kept, None) - limit))
    return Fit(kept, shrink_to, dropped)


def plain_table(columns: Sequence[Column], rows: Sequence[Sequence[tuple[str, str | None]]], *,
                show_header: bool = True, indent: int = 0) -> list[str]:
    """Columns separated by two spaces, numbers right-aligned, no trailing spaces."""
    texts = [[text for text, _ in row] for row in rows]
    header = [printable(c.header) for c in columns]  # headers name metrics: from the store
    widths = [len(h) if show_header else 0 for h in header]
    for row in texts:
        for i, text in enumerate(row):
            widths[i] = max(widths[i], len(text))
    out = []
    pad = " " * indent
    all_rows = ([header] if show_header else []) + texts
    for row in all_rows:
        cells = []
        for i, text in enumerate(row):
            cells.append(text.rjust(widths[i]) if columns[i].justify == "right" else text.ljust(widths[i]))
        out.append((pad + "  ".join(cells)).rstrip())
    return out


# -- JSON ----------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A JSON-safe copy: NaN/inf as strings (like records), tuples/sets as lists, paths as str."""
    if isinstance(value, float):
        return encode_metric(value)  # NaN/inf as the records store them
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [jsonable(v) for v in items]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "surrogateescape")
    if hasattr(value, "item"):  # numpy scalars
        try:
            return jsonable(value.item())
        except (TypeError, ValueError):
            pass
    return str(value)


#: characters json.dumps(ensure_ascii=False) leaves raw that a terminal may act on (C1 controls
#: such as U+009B, the 8-bit CSI; line and paragraph separators; bidi overrides) or that no
#: stream can encode (lone surrogates: undecodable bytes of a file name)
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")


def dumps_json(value: Any) -> str:
    """JSON for scripts: UTF-8, keys sorted; control characters as \\u escapes (the same
    value to any JSON reader), so the output is safe on a terminal too."""
    text = json.dumps(jsonable(value), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def dump_json(value: Any, file: IO[str] | None = None) -> None:
    click.echo(dumps_json(value), file=file)


# -- formatting ----------------------------------------------------------------------------


def fmt_duration(seconds: float | None) -> str:
    if seconds is None or isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return "-"
    try:
        if not math.isfinite(seconds) or seconds < 0:
            return "-"
    except OverflowError:  # an integer beyond the float range (a record from elsewhere)
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h:02d}h"


#: one implementation for every module (tmt._units); the CLI names stay
fmt_age = format_age
fmt_size = format_size


def fmt_value(value: Any, digits: int = 6) -> str:
    """A param or metric for people: floats with `digits` significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return _int_text(value)
    if isinstance(value, str):
        return value
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def fmt_exact(value: Any) -> str:
    """A param or metric in full: floats as Python prints them (repr: the shortest text that
    reads back as the same float), so `show` never rounds 0.99123456 to 0.991235."""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return fmt_value(value)


def fmt_delta(a: Any, b: Any, digits: int = 4) -> str:
    """b - a for two numbers (with the relative change), else ''."""
    if not _is_number(a) or not _is_number(b):
        return ""
    try:
        d = b - a
    except OverflowError:  # an integer beyond the float range and a float (a record from elsewhere)
        return ""
    if isinstance(d, float) and not math.isfinite(d):
        return ""
    if d == 0:
        return "="
    text = f"{d:+.{digits}g}" if isinstance(d, float) else _int_text(d, sign=True)
    try:
        if a != 0 and math.isfinite(a):
            text += f" ({d / abs(a) * 100:+.1f}%)"
    except OverflowError:
        pass
    return text


def _int_text(value: int, sign: bool = False) -> str:
    """An integer for people; one of more than 30 digits as 1.23e+400 (an exact 400-digit
    number, a record from elsewhere, helps nobody in a table)."""
    if -10**30 < value < 10**30:
        return f"{value:+d}" if sign else str(value)
    try:
        digits = str(abs(value))
    except ValueError:  # beyond Python's 4,300-digit limit for str()
        return "-inf" if value < 0 else "+inf" if sign else "inf"
    text = f"{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"
    return ("-" if value < 0 else "+" if sign else "") + text


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


_BLOCKS = "▁▂▃▄▅▆▇█"
_ASCII = "_.-~=+*#"


def sparkline(values: Sequence[float], width: int = 24, ascii_only: bool = False) -> str:
    """A one-line chart: each character is the mean of a bucket of values, scaled min..max.

    Non-finite values are dropped from the scale and shown as spaces.
    """
    chars = _ASCII if ascii_only else _BLOCKS
    vals = [float(v) for v in values if _is_number(v)]
    if not vals:
        return ""
    n = len(vals)
    if n > width:
        buckets = []
        for i in range(width):
            chunk = [v for v in vals[i * n // width:(i + 1) * n // width] if math.isfinite(v)]
            buckets.append(sum(chunk) / len(chunk) if chunk else math.nan)
    else:
        buckets = vals
    finite = [v for v in buckets if math.isfinite(v)]
    if not finite:
        return " " * len(buckets)
    lo, hi = min(finite), max(finite)
    out = []
    for v in buckets:
        if not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(chars[len(chars) // 2 - 1])
        else:
            out.append(chars[round((v - lo) / (hi - lo) * (len(chars) - 1))])
    return "".join(out)


def can_encode(text: str, stream: IO[str] | None = None) -> bool:
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False
