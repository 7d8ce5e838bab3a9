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

import math
import re
from collections.abc import Callable

#: Longest line read for metrics (longer ones are data, not a progress report).
MAX_LINE = 4096

#: Cheap test on raw bytes: a separator followed by something a number starts with. The
#: grammar's own patterns are compiled on the first line that passes it (_grammar).
CANDIDATE = re.compile(rb"[=:][ \t]*['\"]?[-+]?(?:\.?\d|[nNiI])")
_STEP_ORDER = ("step", "iteration", "iter", "epoch")


class _Grammar:
    def __init__(self) -> None:
        num = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|(?i:nan|inf(?:inity)?))"
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
        self.integer = re.compile(r"[-+]?\d+")
        self.spaces = re.compile(r"[ \t]+")


_G: _Grammar | None = None


def _grammar() -> _Grammar:
    global _G
    if _G is None:
        _G = _Grammar()
    return _G


def _number(text: str) -> float | int:
    low = text.lower().lstrip("+")
    if low in ("nan", "-nan"):
        return math.nan
    if low.lstrip("-").startswith("inf"):
        return -math.inf if low.startswith("-") else math.inf
    if _grammar().integer.fullmatch(text):
        return int(text)
    return float(text)


def _strip_prefix(text: str) -> str:
    prefix = _grammar().prefix
    while True:
        m = prefix.match(text)
        if not m or not m.group(0):
            return text
        text = text[m.end():]


def parse_line(line: str) -> tuple[int | None, dict[str, float | int]] | None:
    """(step or None, {name: value}) for a metric line, else None. `line` is one line as the
    terminal shows it (escape sequences already removed)."""
    if len(line) > MAX_LINE or ("=" not in line and ":" not in line):
        return None
    g = _grammar()
    text = g.repr.sub(lambda m: " " * len(m.group(0)), line.strip())  # reprs: blanked, offsets kept
    markers = list(g.marker.finditer(text))
    if not markers:
        single = g.single.match(_strip_prefix(text).strip())
        if single:
            return None, {g.spaces.sub("_", single["name"]): _number(single["num"])}
    spans = [(m.start(), m.end()) for m in markers]
    pairs = [m for m in g.pair.finditer(text) if not any(s <= m.start() < e for s, e in spans)]
    if any(m["sep"] == ":" for m in pairs):
        rest = list(text)
        for m in (*markers, *pairs):
            rest[m.start():m.end()] = " " * (m.end() - m.start())
        if not g.separators.match(_strip_prefix("".join(rest))):
            pairs = [m for m in pairs if m["sep"] == "="]  # a `:` pair needs a line of nothing else
    if not pairs:
        return None
    values: dict[str, float | int] = {m["name"]: _number(m["num"]) for m in pairs}
    steps: dict[str, int] = {}
    for m in markers:
        steps.setdefault(m["kind"].lower(), int(m["n"]))
    step = None
    for kind in _STEP_ORDER:
        if kind in steps:
            step = steps.pop(kind)
            break
    for kind, n in steps.items():  # markers that are not the step are values too
        values.setdefault(kind, n)
    return step, values


class Scanner:
    """Reads a stream of output chunks for metric lines, at C speed between candidates.

    Only lines holding a CANDIDATE match are decoded and parsed; a line split across
    chunks is carried over (bounded by MAX_LINE). `on_line(step, values)` gets each metric
    line in order.
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
            seen = -1
            for m in CANDIDATE.finditer(chunk, start, last):
                ls = chunk.rfind(b"\n", start, m.start()) + 1 or start
                if ls <= seen:
                    continue
                seen = ls
                le = chunk.find(b"\n", m.end() - 1)
                self._line(chunk[ls:le])
            start = last + 1
        self._keep(chunk[start:])

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
        if CANDIDATE.search(raw) is None:
            return
        from tmt.runner.output import overwrite, strip_escapes

        text = raw.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]  # a pseudo-terminal ends lines with \r\n
        text = strip_escapes(overwrite(text))
        parsed = parse_line(text)
        if parsed is not None:
            self.on_line(*parsed)
