"""Reading record files into index rows: in-process, or in forked workers when there are many
(reading and decoding JSON is the cost of a rebuild, and it parallelizes)."""
from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from tmt.errors import CorruptRecord, RecordError
from tmt.query.schema import prepare
from tmt.records.io import RECORD_SUFFIX, check_nesting, read_record, read_record_bytes
from tmt.records.model import Record, decode

PARALLEL_MIN = 4000

def _read(path: str, run_id: str) -> Record:
    """read_record without pathlib (a rebuild reads 100,000 of them): same checks, same errors."""
    raw = read_record_bytes(path)  # never through a link, never blocking on a FIFO
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return read_record(Path(path))  # its error, with its message
    check_nesting(raw, data, path)
    rec = decode(data, path)
    if rec.id != run_id:
        return read_record(Path(path))
    return rec


def _prepare_file(name: str, path: str, tmt_dir: str | None = None) -> tuple | str | None:
    """Prepared values of one record file; its defect (str) if corrupt; None if it vanished."""
    if tmt_dir is None:
        tmt_dir = os.path.dirname(os.path.dirname(path))
    try:
        return prepare(_read(path, name[: -len(RECORD_SUFFIX)]), tmt_dir)
    except CorruptRecord as e:
        return e.reason
    except RecordError:
        return None


def _prepare_chunk(items: list[tuple[str, str]]) -> list[tuple | str | None]:
    tmt_dir = os.path.dirname(os.path.dirname(items[0][1])) if items else None  # one folder for all
    return [_prepare_file(n, p, tmt_dir) for n, p in items]


def prepare_files(items: list[tuple[str, str]]) -> list[tuple | str | None]:
    """Read and prepare many record files ((file name, path) pairs), in that order; in worker
    processes when there are many.

    Workers are forked, and only from a process with no other thread: forking a threaded
    process (a training run, the recorder's fsync thread) can deadlock the child on a lock
    another thread held. spawn/forkserver are no way out: they re-import the caller's
    __main__, which re-runs an unguarded training script. Such processes read in-process.
    """
    workers = min(os.cpu_count() or 1, 8)
    if len(items) < PARALLEL_MIN or workers < 2 or threading.active_count() > 1:
        return _prepare_chunk(items)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        ctx = multiprocessing.get_context("fork")
    except ValueError:  # pragma: no cover - platforms without fork
        return _prepare_chunk(items)
    size = max(500, len(items) // (workers * 4))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    out: list[tuple | str | None] = []
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            for part in pool.map(_prepare_chunk, chunks):
                out.extend(part)
    except (OSError, RuntimeError):  # no processes allowed here: do it in-process
        return _prepare_chunk(items)
    return out
