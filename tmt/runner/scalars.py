"""Metrics from a command's output lines: `f1: 0.91`, `loss=0.3`, `epoch 3 loss=0.2`.

The grammar (docs/run.md, "Metrics from output lines"), applied to each finished line as
the terminal shows it (after carriage returns, without colour codes):

- a **pair** is NAME, then `=` or `:`, then a NUMBER: NAME starts with a letter or `_` and
  goes on with letters, digits and `_ . - /` (`val/loss`, `train.acc`), optionally quoted
  ('loss': 0.3, as Python and JSON print dicts); NUMBER is an integer, a decimal or
  scientific number, `nan` or `inf` (any case, with a sign); it must end the line or be
  followed by a space or one of `, ; | ) ] }` (so `91%` and `12:30` are not numbers).
- `NAME=NUMBER` pairs count wherever they are, except inside an object's repr
  (`Namespace(lr=0.1)`, `Config(...)`: text inside `Word(...)` is never read).
- `NAME: NUMBER` pairs count only when the line holds nothing else: pairs, step markers,
  separators (spaces, `, ; | - [ ] ( ) { }`) and a log prefix (a leading timestamp, a
  level like `INFO`, Python logging's `INFO:name:`, `[...]` groups). So `Note: 3 files`
  or `12:30:01` are not metrics. A line that is one `Words with spaces: NUMBER` names
  the metric with underscores: `Test accuracy: 0.91` gives `Test_accuracy`.
- a **step marker** is `step`, `iter`, `iteration` or `epoch` followed by an integer
  (`step 100`, `Epoch 3/10`, `epoch=3`, `"step": 7`). A line with one makes its pairs
  points of step series (`step` wins over `iter` over `epoch`; the others are kept as
  values). The last value of every name is also its final metric.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from tmt.runner.output import overwrite, strip_escapes

#: Longest line read for metrics (longer ones are data, not a progress report).
MAX_LINE = 4096
#: Distinct line shapes remembered (see parse_line); past it the memory starts again.
MAX_SHAPES = 4096

_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-/")
_FIRST_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_NUMBER_START = frozenset(b"0123456789.nNiI")
_BLANK, _QUOTE, _SIGN = frozenset(b" \t"), frozenset(b"'\""), frozenset(b"+-")


def candidate(data: bytes, at: int, lo: int, hi: int) -> bool:
    """Whether the `=` or `:` at data[at] may be a pair's: a name before it (a letter or `_`,
    then name characters, maybe quoted), something a number starts with after it. `12:30`
    is not. A cheap test on raw bytes, so that only such lines are decoded and parsed."""
    i = at - 1
    while i >= lo and data[i] in _BLANK:
        i -= 1
    if i >= lo and data[i] in _QUOTE:
        i -= 1
    if i < lo or data[i] not in _NAME_BYTES:
        return False
    while i > lo and data[i - 1] in _NAME_BYTES:
        i -= 1
    if data[i] not in _FIRST_BYTES:
        return False
    j = at + 1
    while j < hi and data[j] in _BLANK:
        j += 1
    if j < hi and data[j] in _QUOTE:
        j += 1
    if j < hi and data[j] in _SIGN:
        j += 1
    return j < hi and data[j] in _NUMBER_START


_STEP_ORDER = ("step", "iteration", "iter", "epoch")
_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"


class _Grammar:
    """The grammar's patterns, compiled on the first line that needs them."""

    def __init__(self) -> None:
        num = rf"(?:{_NUM}|(?i:[-+]?(?:nan|inf(?:inity)?)))"
        name = r"[A-Za-z_][\w.\-/]*"
        end = r"(?=$|[\s,;|)\]}])"
        self.pair = re.compile(
            rf"""(?<![\w.\-/'"])(?P<q>['"]?)(?P<name>{name})(?P=q)[ \t]*(?P<sep>[=:])[ \t]*(?P<num>{num}){end}"""
        )
        self.marker = re.compile(
            rf"""(?<![\w.\-/])['"]?(?P<kind>(?i:step|iter|iteration|epoch))['"]?[ \t]*[=:]?[ \t]*(?P<n>\d+)"""
            rf"""(?:[ \t]*/[ \t]*\d+)?{end}"""
        )
        self.single = re.compile(rf"^(?P<name>{name}(?:[ \t]+{name}){{1,5}})[ \t]*:[ \t]*(?P<num>{num})[ \t]*$")
        self.repr = re.compile(r"\b[A-Za-z_]\w*\([^()]*\)")
        level = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)"
        self.prefix = re.compile(
            rf"""^(?:
                \s*\d{{4}}-\d\d-\d\d(?:[T ]\d\d:\d\d(?::\d\d)?(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)?  # a timestamp
              | \s*\[[^\]]*\]                                                              # [anything]
              | \s*{level}:[\w.<>-]*:                                                       # INFO:name:
              | \s*{level}(?=[\s:\-|\]]|$)                                                  # a level
            )""",
            re.VERBOSE,
        )
        self.separators = re.compile(r"^[\s,;|\-\[\](){}:]*$")
        self.spaces = re.compile(r"[ \t]+")
        self.number = re.compile(num)
        self.digits = re.compile(r"\d+")


_G: _Grammar | None = None


def _grammar() -> _Grammar:
    global _G
    if _G is None:
        _G = _Grammar()
    return _G


def _number(text: str) -> float | int:
    digits = text[1:] if text[:1] in "+-" else text
    if digits.isdigit() and digits.isascii():
        return int(text)
    return float(text)  # decimals, exponents, nan, inf, infinity, with their signs


def _strip_prefix(text: str) -> str:
    prefix = _grammar().prefix
    while True:
        m = prefix.match(text)
        if not m or not m.group(0):
            return text
        text = text[m.end():]


def _blank(m: re.Match) -> str:
    return " " * len(m.group(0))


#: A parse as positions: (offset of the step's number or None, [(name, offset of its number)]).
_Spans = tuple["int | None", list[tuple[str, int]]]


def _parse_spans(line: str) -> _Spans | None:
    """The grammar itself (module docstring), reporting where each number it took starts."""
    colon = ":" in line
    if len(line) > MAX_LINE or (not colon and "=" not in line):
        return None
    g = _grammar()
    lead = len(line) - len(line.lstrip())
    text = line.strip()
    if "(" in text:
        text = g.repr.sub(_blank, text)  # reprs are never read (blanked: offsets stay)
    low = text.lower()
    markers = list(g.marker.finditer(text)) if ("step" in low or "epoch" in low or "iter" in low) else []
    if colon and not markers:
        body = _strip_prefix(text)
        stripped = body.strip()
        single = g.single.match(stripped)
        if single:
            at = len(text) - len(body) + (len(body) - len(body.lstrip())) + single.start("num")
            return None, [(g.spaces.sub("_", single["name"]), lead + at)]
    spans = [(m.start(), m.end()) for m in markers]
    pairs = [m for m in g.pair.finditer(text) if not any(s <= m.start() < e for s, e in spans)]
    if colon and any(m["sep"] == ":" for m in pairs):
        rest = list(text)
        for m in (*markers, *pairs):
            rest[m.start():m.end()] = " " * (m.end() - m.start())
        if not g.separators.match(_strip_prefix("".join(rest))):
            pairs = [m for m in pairs if m["sep"] == "="]  # a `:` pair needs a line of nothing else
    if not pairs:
        return None
    names = [(m["name"], lead + m.start("num")) for m in pairs]
    steps: dict[str, int] = {}
    for m in markers:
        steps.setdefault(m["kind"].lower(), lead + m.start("n"))
    step = None
    for kind in _STEP_ORDER:
        if kind in steps:
            step = steps.pop(kind)
            break
    taken = {name for name, _ in names}
    names += [(kind, at) for kind, at in steps.items() if kind not in taken]  # other markers: values
    return step, names


def _at(pattern: re.Pattern[str], line: str, at: int) -> re.Match[str]:
    """`pattern`'s match at `at`, where _parse_spans found one."""
    m = pattern.match(line, at)
    if m is None:  # pragma: no cover - _parse_spans matched these very places
        raise AssertionError(f"no match at {at} of {line!r}")
    return m


def _read(line: str, at: int) -> float | int:
    """The number that starts at `at`."""
    return _number(_at(_grammar().number, line, at).group(0))


def _read_step(line: str, at: int) -> int:
    """The step that starts at `at`: its digits only, `3` of `3/10`."""
    return int(_at(_grammar().digits, line, at).group(0))


def parse_line(line: str) -> tuple[int | None, dict[str, float | int]] | None:
    """(step or None, {name: value}) for a metric line, else None. `line` is one line as the
    terminal shows it (escape sequences already removed)."""
    spans = _parse_spans(line)
    if spans is None:
        return None
    step, names = spans
    return (None if step is None else _read_step(line, step)), {name: _read(line, at) for name, at in names}


#: Training logs print the same lines over and over with other numbers. A line's *shape* is
#: its bytes with every digit made 0: lines of one shape have the same text around numbers
#: of the same lengths at the same places, so the grammar decides the same for all of them.
#: It runs once per shape; the plan it leaves reads the numbers straight from their places.
_DIGITS_TO_0 = bytes.maketrans(b"123456789", b"000000000")
_PLAIN = bytes(range(32, 127)) + b"\t"  # bytes a line read through its shape may hold
_NOT_METRIC = "not a metric line"  # a plan: this shape holds no metric
_UNCACHED = "parse every time"  # a plan: a name of this shape holds a digit (f1, top5)
#: How to read the lines of one shape: ((start, end) of the step or None,
#: [(name, start, end, is an integer)]); or one of the two strings above.
Plan = tuple["tuple[int, int] | None", list[tuple[str, int, int, bool]]]
_shapes: dict[bytes, Plan | str] = {}


def parse_raw(raw: bytes) -> tuple[int | None, dict[str, float | int]] | None:
    """parse_line for a line's ASCII bytes (no carriage return, no escape), through the
    shape plans."""
    shape = raw.translate(_DIGITS_TO_0)
    plan = _shapes.get(shape)
    if plan is None:
        if len(_shapes) >= MAX_SHAPES:
            _shapes.clear()
        plan = _shapes[shape] = _plan(raw.decode("ascii"))
    if isinstance(plan, str):
        return None if plan is _NOT_METRIC else parse_line(raw.decode("ascii"))  # or _UNCACHED
    step, values = plan
    return (None if step is None else int(raw[step[0]:step[1]]),
            {name: int(raw[a:b]) if integer else float(raw[a:b]) for name, a, b, integer in values})


def _plan(line: str) -> Plan | str:
    """How to read the lines of `line`'s shape (see Plan)."""
    spans = _parse_spans(line)
    if spans is None:
        return _NOT_METRIC
    g = _grammar()
    step, names = spans
    if any(ch.isdigit() for name, _ in names for ch in name):
        return _UNCACHED
    step_span = None if step is None else _at(g.digits, line, step).span()
    values = []
    for name, at in names:
        a, b = _at(g.number, line, at).span()
        values.append((name, a, b, line[a:b].lstrip("+-").isdigit()))
    return step_span, values


class Scanner:
    """Reads a stream of output chunks for metric lines, at C speed between them.

    A chunk without `=` or `:` costs two byte searches; otherwise each of those is tested
    (`candidate`) and the lines of those that pass are decoded and parsed. A line split across
    chunks is carried over (bounded). `on_line(step, values)` gets each metric line in
    order.
    """

    def __init__(self, on_line: Callable[[int | None, dict[str, float | int]], None]) -> None:
        self.on_line = on_line
        self._carry = b""
        self._carry_overflow = False

    def feed(self, chunk: bytes) -> None:
        start = 0
        if self._carry or self._carry_overflow:
            nl = chunk.find(b"\n")
            if nl < 0:
                self._keep(chunk)
                return
            if not self._carry_overflow:
                self._line(self._carry + chunk[:nl])
            self._carry, self._carry_overflow = b"", False
            start = nl + 1
        last = chunk.rfind(b"\n")
        if last >= start:
            self._scan(chunk, start, last)
            start = last + 1
        self._keep(chunk[start:])

    def _scan(self, chunk: bytes, start: int, end: int) -> None:
        """The lines of chunk[start:end] (whole lines) with a separator that passes
        `candidate`: each is read once."""
        find, rfind = chunk.find, chunk.rfind
        eq, co = find(b"=", start, end), find(b":", start, end)
        # Escape sequences (colours) may sit anywhere in a pair (`\x1b[33mloss\x1b[0m=0.5`):
        # then every line with a separator is decoded, cleaned and parsed.
        escapes = (eq >= 0 or co >= 0) and find(b"\x1b", start, end) >= 0
        while eq >= 0 or co >= 0:
            if eq < 0 or 0 <= co < eq:
                at, co = co, find(b":", co + 1, end)
            else:
                at, eq = eq, find(b"=", eq + 1, end)
            if not escapes and not candidate(chunk, at, start, end):
                continue
            ls = rfind(b"\n", start, at) + 1 or start
            le = find(b"\n", at, end)
            if le < 0:
                le = end
            self._text(chunk[ls:le])
            if 0 <= eq < le:
                eq = find(b"=", le, end)
            if 0 <= co < le:
                co = find(b":", le, end)

    def _keep(self, rest: bytes) -> None:
        if self._carry_overflow:
            return
        if len(self._carry) + len(rest) > MAX_LINE * 4:  # a line too long to be a metric line
            self._carry, self._carry_overflow = b"", True
        else:
            self._carry += rest

    def close(self) -> None:
        """The stream ended: its last line, if it had no newline."""
        if self._carry and not self._carry_overflow:
            self._line(self._carry)
        self._carry, self._carry_overflow = b"", False

    def _line(self, raw: bytes) -> None:
        if len(raw) <= MAX_LINE * 4:
            self._scan(raw, 0, len(raw))

    def _text(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]  # a pseudo-terminal ends lines with \r\n
        if not raw.translate(None, _PLAIN):
            parsed = parse_raw(raw)  # the common case: printable ASCII, read through its shape
        else:
            text = raw.decode("utf-8", "replace")
            if "\r" in text:
                text = overwrite(text)
            parsed = parse_line(strip_escapes(text) if not text.isprintable() else text)
        if parsed is not None:
            self.on_line(*parsed)
