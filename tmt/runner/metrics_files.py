"""Metrics from JSON files a command writes (`--metrics-file`, `metrics.json` by default).

A file is read once the command has exited, and only if this run wrote it: it did not
exist before the command started, or its size or modification time changed since. Two
shapes (docs/run.md):

- one JSON object: its numbers are final metrics; nested objects give dotted names
  (`{"test": {"f1": 0.9}}` is `test.f1`);
- a JSON array of objects, or JSON Lines (one object per line): each object with a
  `step` (or `epoch`, `iter`, `iteration`) integer is one point of step series, and the
  last value of each name is its final metric.

Values that are not numbers (strings, lists) are passed over.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT = "metrics.json"
MAX_BYTES = 64 << 20
_STEP_KEYS = ("step", "iteration", "iter", "epoch")


class FileMetrics:
    __slots__ = ("metrics", "points")

    def __init__(self) -> None:
        self.metrics: dict[str, float | int] = {}
        self.points: list[tuple[int | None, dict[str, float | int]]] = []


def stat_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _numbers(obj: dict[str, Any], prefix: str = "") -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for k, v in obj.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_numbers(v, name + "."))
        elif isinstance(v, bool):
            out[name] = v
        elif isinstance(v, (int, float)):
            out[name] = v
        elif isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity"):
            out[name] = float(v.replace("Infinity", "inf"))
    return out


def read(path: Path) -> FileMetrics:
    """The metrics of one file; ValueError (with the reason) if it is not one of the shapes."""
    with open(path, "rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"larger than {MAX_BYTES >> 20} MiB")
    text = data.decode("utf-8-sig")
    try:
        doc = json.loads(text)
    except ValueError:
        try:
            doc = [json.loads(line) for line in text.splitlines() if line.strip()]  # JSON Lines
        except ValueError as e:
            raise ValueError(f"not JSON: {e}") from None
    out = FileMetrics()
    if isinstance(doc, dict):
        out.metrics = _numbers(doc)
        return out
    if not isinstance(doc, list) or not all(isinstance(row, dict) for row in doc):
        raise ValueError("not a JSON object, nor a list of objects")
    for row in doc:
        values = _numbers(row)
        step = None
        for k in _STEP_KEYS:
            v = values.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and float(v).is_integer():
                step = int(values.pop(k))
                break
        if values:
            out.points.append((step, values))
            out.metrics.update(values)
    return out
