"""Turning user values into what a record may hold: numbers for metrics, JSON for params.

Step metrics (`tmt.log`) are strict: a value that is not a number is the user's bug, said
loudly, naming the metric. Final values are sorted, never refused: numbers are metrics,
anything else an output (`split_final`). Params are lenient: anything a function was
called with must be recordable, so what JSON cannot hold is stored as its repr.
"""
from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

from tmt.errors import MetricTypeError
from tmt.records.model import encode_metric

#: Longest repr kept for a param that is not JSON (a dataset passed as an argument).
MAX_REPR = 200
#: Longest string param kept (a text passed as an argument is not a setting).
MAX_STR = 4096
#: Longest list, set or dict kept element by element; longer ones become a short summary.
MAX_ITEMS = 256
_MAX_DEPTH = 16
_CONTAINERS = (list, tuple, set, frozenset, Mapping)
_PREVIEW = 8  # items shown of a summarised container
_FLOAT_MAX = int(sys.float_info.max)
_JSON_INT_BITS = 14_000  # about 4,200 decimal digits: what json.dumps and json.loads accept


def _scalar(value: Any) -> Any:
    """numpy/torch/jax scalars (and 1-element arrays/tensors) as Python numbers, else `value`."""
    if type(value).__module__.split(".", 1)[0] in ("numpy", "torch", "jax", "jaxlib", "tensorflow"):
        item = getattr(value, "item", None)
        if item is not None:
            try:
                return item()
            except (ValueError, TypeError, RuntimeError):
                return value
    return value


_NOT_A_NUMBER = object()


def _number(value: Any, name: str) -> Any:
    """`value` (the metric `name`) as bool, int or float (NaN and ±inf kept), or _NOT_A_NUMBER."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _int_metric(name, value)
    if isinstance(value, float):
        return float(value)
    import numbers  # numpy/torch scalars only: plain values never import it

    v = _scalar(value)
    if isinstance(v, bool):
        return v
    if isinstance(v, numbers.Integral):
        return _int_metric(name, int(v))
    if isinstance(v, numbers.Real):
        return float(v)
    return _NOT_A_NUMBER


def to_metric(name: str, value: Any, what: str = "metric") -> bool | int | float:
    """A metric value as bool, int or float (NaN and ±inf kept); MetricTypeError otherwise."""
    number = _number(value, name)
    if number is not _NOT_A_NUMBER:
        return number
    shown = _short_repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    raise MetricTypeError(
        f"{what} {name!r} must be a number, got {type(value).__name__} {shown}",
        "metrics are ints, floats, bools or numpy/torch scalars; store other objects with tmt.save()",
    )


def _int_metric(name: str, value: int) -> int | float:
    """An integer metric: exact, unless it is beyond the float range (about 1.8e308), where no
    comparison, sort or JSON reader would keep it: then ±inf, with a warning."""
    value = int(value)
    if -_FLOAT_MAX <= value <= _FLOAT_MAX:
        return value
    from tmt._warn import warn

    warn(f"metric {name!r} is an integer beyond the float range; it is recorded as "
         f"{'inf' if value > 0 else '-inf'}")
    return math.inf if value > 0 else -math.inf


def split_final(values: Mapping[Any, Any]) -> tuple[dict[str, bool | int | float], dict[str, Any]]:
    """A run's final values (its returned dict over `run.metrics`) as (metrics, outputs).

    Numbers with a name are metrics; None is no value at all (a metric the run could not
    compute); anything else (a string, a list, a confusion matrix as a dict) is an output,
    kept JSON-safe as params are. Nothing here raises: values are the work of a run that
    has finished, and must never fail it.
    """
    metrics: dict[str, bool | int | float] = {}
    outputs: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = key if isinstance(key, str) else str(key)
        number = _number(value, name) if name else _NOT_A_NUMBER
        if number is _NOT_A_NUMBER:
            outputs[name] = to_param(value)
        else:
            metrics[name] = number
    return metrics, outputs


def to_float(name: str, value: Any) -> float:
    """A step-metric value (series hold floats)."""
    return float(to_metric(name, value, "logged metric"))


def _short_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception as e:  # a broken __repr__ must not fail the run
        text = f"<{type(value).__name__} (repr failed: {type(e).__name__})>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text


def _summary(value: Any) -> str:
    """A big container or byte string as its first few items and its length: repr() of all
    of it costs time in proportion to its size (a dataset passed as an argument)."""
    n = len(value)
    if isinstance(value, (bytes, bytearray)):
        return f"{_short_repr(bytes(value[:40]))}... ({n} bytes)"
    from itertools import islice

    if isinstance(value, Mapping):
        items = [f"{_clip(k)}: {_clip(v)}" for k, v in islice(value.items(), _PREVIEW)]
    else:
        items = [_clip(v) for v in islice(value, _PREVIEW)]
    brackets = "[]" if isinstance(value, list) else "()" if isinstance(value, tuple) else "{}"
    text = f"{brackets[0]}{', '.join(items)}, ...{brackets[1]}"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return f"{text} ({n} items)"


def _clip(item: Any) -> str:
    """One item of a summary, in bounded time: nested big values are not repr'd whole."""
    if isinstance(item, (str, bytes, bytearray)) and len(item) > 40:
        return f"{item[:37]!r}..."
    if isinstance(item, _CONTAINERS) and len(item) > _PREVIEW:
        return f"<{type(item).__name__} of {len(item)} items>"
    text = _short_repr(item)
    return text if len(text) <= 40 else text[:37] + "..."


def to_param(value: Any, _depth: int = 0) -> Any:
    """A JSON-safe form of any value: numbers, strings, lists, dicts kept; the rest as repr.

    Non-finite floats become "NaN"/"Infinity"/"-Infinity" (as in metrics); paths become
    strings; strings longer than MAX_STR are cut; lists, sets and mappings longer than
    MAX_ITEMS become a summary of their first items and length; anything deeper than 16
    levels becomes a short repr.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else value[: MAX_STR - 3] + "..."
    if isinstance(value, int):
        if value.bit_length() > _JSON_INT_BITS:  # JSON (and str()) refuse past 4,300 digits
            return f"<an integer of {value.bit_length()} bits>"
        return int(value)
    if isinstance(value, float):
        return encode_metric(float(value))
    if isinstance(value, _CONTAINERS) and len(value) > MAX_ITEMS:
        return _summary(value)
    if isinstance(value, (bytes, bytearray)) and len(value) > MAX_REPR:
        return _summary(value)
    if _depth >= _MAX_DEPTH:
        return _short_repr(value)
    if isinstance(value, (list, tuple)):
        return [to_param(v, _depth + 1) for v in value]
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else str(k)): to_param(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value) if isinstance(os.fspath(value), str) else _short_repr(value)
    v = _scalar(value)
    if v is not value and isinstance(v, (bool, int, float)):
        return to_param(v, _depth)
    return _short_repr(value)


def to_params(params: Mapping[str, Any] | None) -> dict[str, Any]:
    if not params:
        return {}
    return {(k if isinstance(k, str) else str(k)): to_param(v) for k, v in params.items()}
