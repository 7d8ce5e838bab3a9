"""Query filters: `where` comparisons on metrics and params, and since/until times.

A `where` expression is parsed by a small regular grammar into a Condition, never `eval`ed:

    [metrics.|params.]KEY OP VALUE       OP: >  >=  <  <=  ==  !=
    VALUE: a number, a quoted string ('adam' or "adam"), true/false, or a bare word

A bare key (`f1 > 0.8`) is a metric. A comparison holds only for runs that have the key with
a value of the same kind (numbers with numbers, strings with strings, booleans with
booleans); a run without the key never matches, not even `!=`.
"""
from __future__ import annotations

import math
import operator
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Union

from tmt._units import match_duration
from tmt.errors import UsageError

OPS = {">": ">", ">=": ">=", "<": "<", "<=": "<=", "==": "=", "=": "=", "!=": "!="}
_WHERE_RE = re.compile(
    r"""\s*(?:(?P<ns>metrics|params)\.)?(?P<key>[^\s<>=!"']+)\s*
        (?P<op>>=|<=|==|!=|>|<|=)\s*
        (?P<value>"[^"]*"|'[^']*'|[^\s"']+)\s*\Z""",
    re.X,
)
_NUMBER_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
WHERE_EXAMPLE = "examples: 'f1 > 0.8', 'params.lr <= 0.01', 'params.optimizer == adam'"

Value = Union[float, int, str, bool]


@dataclass(frozen=True, slots=True)
class Condition:
    """One parsed comparison; `key` is "m:<metric>" or "p:<param>" as in the index."""

    key: str
    op: str  # SQL operator
    value: Value
    text: str

    @property
    def kind(self) -> str:
        """'num' (int/float), 'txt' (str) or 'bool'."""
        if isinstance(self.value, bool):
            return "bool"
        return "txt" if isinstance(self.value, str) else "num"


def parse_where(expr: str) -> Condition:
    if not isinstance(expr, str):
        raise UsageError(f"a where expression must be a string, not {type(expr).__name__}", WHERE_EXAMPLE)
    m = _WHERE_RE.match(expr)
    if not m:
        raise UsageError(f"cannot parse where expression {expr!r}", WHERE_EXAMPLE)
    ns = "p:" if m["ns"] == "params" else "m:"
    raw = m["value"]
    value: Value
    if raw[0] in "'\"":
        value = raw[1:-1]
    elif raw in ("true", "True"):
        value = True
    elif raw in ("false", "False"):
        value = False
    elif _NUMBER_RE.match(raw):
        # More than 18 digits may not fit SQLite's 64-bit integers (OverflowError): compare
        # as a float (float() of a huge literal is inf, never an error).
        wide = len(raw.lstrip("+-")) > 18
        value = float(raw) if wide or any(c in raw for c in ".eE") else int(raw)
    elif raw.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        value = float(raw.lower().replace("infinity", "inf"))
        if math.isnan(value):
            raise UsageError(f"where expression {expr!r} compares with NaN, which matches nothing", WHERE_EXAMPLE)
    else:
        value = raw
    op = OPS[m["op"]]
    if isinstance(value, (str, bool)) and op not in ("=", "!="):
        kind = "a boolean" if isinstance(value, bool) else "a string"
        raise UsageError(
            f"where expression {expr!r} orders by {kind}; only == and != apply to it",
            WHERE_EXAMPLE,
        )
    return Condition(ns + m["key"], op, value, expr.strip())


def holds(cond: Condition, value: object) -> bool:
    """Whether `value` (None: the run has no such key) meets `cond`, as the index decides:
    only a value of the condition's kind compares, and NaN never does."""
    if value is None:
        return False
    kind = cond.kind
    if kind == "bool":
        if not isinstance(value, bool):
            return False
    elif kind == "num":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            return False
    elif not isinstance(value, str):
        return False
    return _COMPARE[cond.op](value, cond.value)


_COMPARE = {"=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt,
            "<=": operator.le}


def parse_where_list(where: str | Iterable[str] | None) -> list[Condition]:
    if where is None:
        return []
    if isinstance(where, str):
        where = [where]
    return [parse_where(w) for w in where]


# -- times ------------------------------------------------------------------------------------

TIME_EXAMPLE = "use a datetime, an ISO date like 2024-05-01 or 2024-05-01T12:00, or an age like 7d, 12h, 30m"


def parse_time(value: object, what: str = "since", now: float | None = None) -> float:
    """A point in time as epoch seconds: datetime, date, epoch number, ISO text or an age ago."""
    if isinstance(value, datetime):
        return value.timestamp()  # naive datetimes are local time, as Python does
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        ago = match_duration(value, unit_required=True)  # tmt._units: the one duration parser
        if ago is not None:
            return (time.time() if now is None else now) - ago
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return datetime.fromisoformat(text).timestamp()
        except ValueError:
            pass
    raise UsageError(f"cannot read {what}={value!r} as a time", TIME_EXAMPLE)
