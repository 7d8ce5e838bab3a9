"""tmt.cli.output: plain and rich rendering at a fixed width, JSON, formatting helpers."""
from __future__ import annotations

import io
import json
import math
from datetime import datetime, timedelta, timezone

from tmt.cli.output import (
    Column, Output, color_wanted, dumps_json, fmt_age, fmt_delta, fmt_duration, fmt_size, fmt_value, sparkline,
)

COLS = [Column("id"), Column("name"), Column("f1", justify="right")]
ROWS = [["abcd1234", "base", ("0.9", "green")], ["ffff0000", "long name", "12"]]


def test_plain_table_aligned_without_trailing_spaces():
    out = Output(file=io.StringIO())
    out.table(COLS, ROWS)
    assert out.file.getvalue() == (
        "id        name        f1\n"
        "abcd1234  base       0.9\n"
        "ffff0000  long name   12\n"
    )


def test_plain_table_escapes_control_characters():
    out = Output(file=io.StringIO())
    out.table([Column("name")], [["a\nb\x1b[31m"]])
    assert out.file.getvalue() == "name\na\\nb\\x1b[31m\n"


def test_rich_table_at_fixed_width_without_colour():
    out = Output(rich=True, color=False, width=40, file=io.StringIO())
    out.table(COLS, ROWS)
    text = out.file.getvalue()
    assert "\x1b[" not in text
    lines = [line.rstrip() for line in text.splitlines()]
    assert lines[0] == "id        name        f1"  # two spaces between columns, as in plain text
    assert lines[2] == "abcd1234  base       0.9"
    assert lines[3] == "ffff0000  long name   12"


def test_rich_with_colour_uses_escape_codes():
    out = Output(rich=True, color=True, width=40, file=io.StringIO())
    out.table(COLS, ROWS)
    out.line("added", style="green")
    assert "\x1b[" in out.file.getvalue()


def test_key_values_and_headings():
    out = Output(file=io.StringIO())
    out.heading("params")
    out.key_values([("lr", "0.1"), ("epochs", "10")])
    assert out.file.getvalue() == "params:\n  lr      0.1\n  epochs  10\n"


def test_colour_rules(monkeypatch):
    tty = io.StringIO()
    tty.isatty = lambda: True  # type: ignore[method-assign]
    assert color_wanted(tty)
    assert not color_wanted(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not color_wanted(tty)
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not color_wanted(tty)
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert color_wanted(io.StringIO())
    assert Output.detect(io.StringIO()).rich


def test_detect_piped_is_plain(monkeypatch):
    monkeypatch.setenv("COLUMNS", "77")
    out = Output.detect(io.StringIO())
    assert (out.rich, out.color, out.width) == (False, False, 77)


def test_json_is_sorted_and_nan_safe():
    text = dumps_json({"b": math.nan, "a": [math.inf, -math.inf, (1, 2)], "c": {"z": 1, "y": None}})
    assert json.loads(text) == {"a": ["Infinity", "-Infinity", [1, 2]], "b": "NaN", "c": {"y": None, "z": 1}}
    assert text.index('"a"') < text.index('"b"') < text.index('"c"')


def test_durations():
    assert [fmt_duration(s) for s in (None, -1, 0.0342, 1.25, 12.5, 65, 3723, 90000)] == [
        "-", "-", "34ms", "1.2s", "12s", "1m05s", "1h02m", "1d01h",
    ]


def test_ages():
    now = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    ago = [now - timedelta(seconds=s) for s in (5, 300, 7200, 3 * 86400)]
    assert [fmt_age(t, now) for t in ago] == ["5s ago", "5m ago", "2h ago", "3d ago"]
    assert fmt_age("2023-01-01T12:00:00+00:00", now) == "2023-01-01"
    assert fmt_age(None) == "-" and fmt_age("not a date") == "-"
    assert fmt_age(now + timedelta(seconds=5), now) == "just now"


def test_sizes_values_deltas():
    assert [fmt_size(n) for n in (None, 0, 1023, 1024, 1536, 5 * 1024**3)] == [
        "-", "0 B", "1023 B", "1.0 KiB", "1.5 KiB", "5.0 GiB",
    ]
    assert [fmt_value(v) for v in (None, True, 3, 0.1234567891, math.nan, -math.inf, "adam", [1, 2])] == [
        "-", "true", "3", "0.123457", "NaN", "-inf", "adam", "[1, 2]",
    ]
    assert fmt_delta(0.5, 0.6) == "+0.1 (+20.0%)"
    assert fmt_delta(2, 1) == "-1 (-50.0%)"
    assert fmt_delta(0, 1) == "+1"
    assert fmt_delta(1.0, 1.0) == "="
    assert fmt_delta("a", 1) == "" and fmt_delta(None, 1.0) == "" and fmt_delta(True, 1) == ""


def test_sparkline():
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, 3, 3]) == "▄▄▄"
    assert sparkline([1, math.nan, 2]) == "▁ █"
    assert sparkline([]) == ""
    assert len(sparkline(list(range(1000)), width=20)) == 20
    assert sparkline([0, 1], ascii_only=True) == "_#"
