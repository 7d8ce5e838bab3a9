"""Step-metric series: the blob format a record's `series` points to, and the live journal.

Blob (one per metric, canonical msgpack via tmt.store.codec, arrays only so the bytes of
equal series are equal):

    [1, name: str, steps: [int | nil, ...], values: [float64, ...], times: [float64, ...]]

`times` are unix seconds of the `log()` call. The three lists have the same length, in the
order the values were logged.

Journal (`.tmt/journal/<run-id>.log`): while a run is live every `log()` call appends one
frame and the file is flushed (os.write on an O_APPEND descriptor, no userspace buffer), so
a SIGKILL keeps every step logged before it. A frame is a 4-byte big-endian length followed
by that many bytes of msgpack:

    [1, time: float64, [[name: str, step: int | nil, value: float64], ...]]

A reader stops at the first frame that is short (a torn append) or does not decode; what was
read before it is kept. At the end of the run the recorder packs the journal into blobs,
writes the final record, then deletes the journal.
"""
from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script

from tmt._plain import Frozen
from tmt.errors import CorruptObject
from tmt.store import codec

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from tmt.records.model import Record
    from tmt.repo import Repo

SERIES_FORMAT = 1
JOURNAL_FORMAT = 1
JOURNAL_DIRNAME = "journal"
JOURNAL_SUFFIX = ".log"
_LEN = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
_STEP_TYPES = {int, type(None)}
_FLOAT = {float}


class Series(Frozen, Sequence):
    """One step metric as logged: a sequence of (step, value) pairs, with the parallel
    lists `steps`, `values` and `times` (unix seconds of each `log()` call). Frozen; a plain
    class, not a dataclass (tmt/_plain.py)."""

    __slots__ = ("name", "steps", "values", "times")
    name: str
    steps: list[int | None]
    values: list[float]
    times: list[float]

    def __init__(self, name: str, steps: list[int | None], values: list[float], times: list[float]) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "times", times)

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(zip(self.steps[i], self.values[i]))
        return (self.steps[i], self.values[i])

    def __iter__(self) -> Iterator[tuple[int | None, float]]:
        return zip(self.steps, self.values)

    def __repr__(self) -> str:
        return f"Series({self.name!r}, {len(self)} points, last={self.last!r})"

    @property
    def last(self) -> float | None:
        return self.values[-1] if self.values else None

    def to_pandas(self):
        """A DataFrame with the columns step, value and time (UTC timestamps)."""
        try:
            import pandas as pd
        except ImportError:
            from tmt.errors import MissingDependency

            raise MissingDependency(
                "Series.to_pandas() needs pandas", "pip install 'ThatMetricTimeline[pandas]'"
            ) from None
        steps = pd.array(self.steps, dtype="Int64")  # a step may be None: nullable integers
        times = pd.to_datetime(pd.array(self.times, dtype="float64"), unit="s", utc=True)
        return pd.DataFrame({"step": steps, "value": pd.array(self.values, dtype="float64"), "time": times})


def summarize(series: Series) -> dict[str, Any]:
    """points, last, min, max (of the finite values) and the first and last step."""
    values = series.values
    finite = [v for v in values if math.isfinite(v)]
    steps = [st for st in series.steps if st is not None]
    return {
        "points": len(values),
        "last": values[-1] if values else None,
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
        "first_step": steps[0] if steps else None,
        "last_step": steps[-1] if steps else None,
    }


STATS = ("last", "min", "max")


def record_summary(series: dict[str, Series]) -> dict[str, dict[str, Any]]:
    """The record's `series_summary`: each series' summary, NaN/inf as the records store
    them ("NaN", "Infinity"), so listings sort and filter on `loss.last` without reading blobs."""
    from tmt.records.model import encode_metric

    out = {}
    for name, s in series.items():
        info = summarize(s)
        for key in STATS:
            info[key] = encode_metric(info[key])
        out[name] = info
    return out


def stats_of(summary: Any) -> dict[str, tuple[float | None, ...]]:
    """{name: (last, min, max)} of a record's `series_summary` (floats; None where unknown);
    entries of the wrong shape (a hand-edited record) are left out."""
    out: dict[str, tuple[float | None, ...]] = {}
    if not isinstance(summary, dict):
        return out
    for name, info in summary.items():
        if isinstance(name, str) and isinstance(info, dict):
            out[name] = tuple(_stat(info.get(key)) for key in STATS)
    return out


_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _stat(v: Any) -> float | None:
    if type(v) is float or (type(v) is int):
        return v
    return _SPECIAL.get(v) if isinstance(v, str) else None


def encode_series(series: Series) -> bytes:
    if not (len(series.steps) == len(series.values) == len(series.times)):
        raise ValueError("series steps, values and times must have the same length")
    return codec.packb(
        [
            SERIES_FORMAT,
            series.name,
            [None if s is None else int(s) for s in series.steps],
            [float(v) for v in series.values],
            [float(t) for t in series.times],
        ]
    )


def decode_series(data: bytes, oid: str = "?") -> Series:
    """Decode a series blob; raise CorruptObject naming `oid` on any defect."""
    try:
        obj = codec.unpackb(data)
    except ValueError as e:
        raise CorruptObject(oid, f"not a series: {e}") from None
    if not isinstance(obj, list) or len(obj) != 5 or type(obj[0]) is not int or obj[0] != SERIES_FORMAT:
        raise CorruptObject(oid, "not a series (bad header)")
    _, name, steps, values, times = obj
    if not isinstance(name, str) or not all(isinstance(x, list) for x in (steps, values, times)):
        raise CorruptObject(oid, "not a series (bad fields)")
    if not (len(steps) == len(values) == len(times)):
        raise CorruptObject(oid, "series lists differ in length")
    # Type checks by set(map(type, ...)): C loops, 10x faster than isinstance per item on
    # series of 10,000 steps (bool is its own type, so True is not taken for a step).
    if not set(map(type, steps)) <= _STEP_TYPES:
        raise CorruptObject(oid, "series step is not an integer")
    if not set(map(type, values)) <= _FLOAT or not set(map(type, times)) <= _FLOAT:
        raise CorruptObject(oid, "series value or time is not a float")
    return Series(name, steps, values, times)


# -- journal --------------------------------------------------------------------------------


def journal_path(tmt_dir: str | os.PathLike[str], run_id: str) -> Path:
    return Path(tmt_dir) / JOURNAL_DIRNAME / f"{run_id}{JOURNAL_SUFFIX}"


def encode_frame(time: float, points: Sequence[tuple[str, int | None, float]]) -> bytes:
    payload = codec.packb([JOURNAL_FORMAT, float(time), [[n, s, float(v)] for n, s, v in points]])
    return _LEN.pack(len(payload)) + payload


def iter_frames(data: bytes) -> Iterator[tuple[float, list[tuple[str, int | None, float]]]]:
    """Frames of a journal, stopping silently at a torn or undecodable one."""
    pos, end = 0, len(data)
    while pos + _LEN.size <= end:
        (n,) = _LEN.unpack_from(data, pos)
        if n == 0 or n > MAX_FRAME or pos + _LEN.size + n > end:
            return
        frame = _decode_frame(data[pos + _LEN.size : pos + _LEN.size + n])
        if frame is None:
            return
        yield frame
        pos += _LEN.size + n


def _stream_frames(f, limit: int) -> Iterator[tuple[float, list[tuple[str, int | None, float]]]]:
    """iter_frames over a file object, reading one frame at a time and at most `limit`
    bytes: a journal of zeros (a sparse file) costs one read, not its apparent size."""
    used = 0
    while used + _LEN.size <= limit:
        head = f.read(_LEN.size)
        if len(head) < _LEN.size:
            return
        (n,) = _LEN.unpack(head)
        used += _LEN.size + n
        if n == 0 or n > MAX_FRAME or used > limit:
            return
        body = f.read(n)
        frame = _decode_frame(body) if len(body) == n else None
        if frame is None:
            return
        yield frame


def _decode_frame(body: bytes) -> tuple[float, list[tuple[str, int | None, float]]] | None:
    try:
        obj = codec.unpackb(body)
        ver, t, pts = obj
        if ver != JOURNAL_FORMAT or not isinstance(t, float):
            return None
        points = []
        for name, step, value in pts:
            if not isinstance(name, str) or not isinstance(value, float):
                return None
            if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
                return None
            points.append((name, step, value))
    except (ValueError, TypeError):
        return None
    return t, points


def series_from_frames(frames: Iterable[tuple[float, list[tuple[str, int | None, float]]]]) -> dict[str, Series]:
    steps: dict[str, list[int | None]] = {}
    values: dict[str, list[float]] = {}
    times: dict[str, list[float]] = {}
    for t, points in frames:
        for name, step, value in points:
            if name not in values:
                steps[name], values[name], times[name] = [], [], []
            steps[name].append(step)
            values[name].append(value)
            times[name].append(t)
    return {n: Series(n, steps[n], values[n], times[n]) for n in values}


#: The most of a journal any reader takes (a run logging 10 metrics a step writes ~200 bytes a
#: step: 5 million steps). A longer one, live or planted (a sparse file), is read this far.
MAX_JOURNAL_BYTES = 1 << 30


def read_journal(tmt_dir: str | os.PathLike[str], run_id: str) -> dict[str, Series]:
    """The series of a run that has not been packed (live, or crashed before its end).

    A missing journal gives {}: the run logged nothing, or it was already packed. Frames are
    read one by one up to MAX_JOURNAL_BYTES, past which a warning says the rest is not read.
    """
    from tmt.store.nofollow import open_file, own_dir

    path = journal_path(tmt_dir, run_id)
    try:
        own_dir(tmt_dir, JOURNAL_DIRNAME)
        f = open_file(path)  # never a link, never blocking on a FIFO
    except FileNotFoundError:
        return {}
    except OSError as e:
        from tmt.errors import RecordError

        raise RecordError(f"could not read journal of run {run_id}: {e.strerror or e}") from e
    with f:
        if os.fstat(f.fileno()).st_size > MAX_JOURNAL_BYTES:
            from tmt._units import format_size
            from tmt._warn import warn

            bound = format_size(MAX_JOURNAL_BYTES)
            warn(f"{JOURNAL_DIRNAME}/{path.name} is larger than {bound}: only its first {bound} of steps is read")
        try:
            return series_from_frames(_stream_frames(f, MAX_JOURNAL_BYTES))
        except OSError as e:
            from tmt.errors import RecordError

            raise RecordError(f"could not read journal of run {run_id}: {e.strerror or e}") from e


def load_series(repo: "Repo", record: "Record", name: str) -> Series | None:
    """A series of a run: its packed blob if the record has one, else the live journal.

    None when the run has no series of that name.
    """
    oid = record.series.get(name)
    if oid is not None:
        return decode_series(repo.store.get(oid), oid)
    return read_journal(repo.tmt_dir, record.id).get(name)
