"""Reading and writing experiments/<id>.json atomically."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from tmt.errors import CorruptRecord, RecordError
from tmt.records.model import Record, decode, encode, is_run_id
from tmt.store.fsutil import atomic_write

RECORD_SUFFIX = ".json"
#: Deeper JSON in a record is corrupt: the JSON parser and every recursive consumer (show,
#: export, flatten) would run out of stack on it; no tmt writes more than a few levels.
MAX_NESTING = 100


def record_path(experiments_dir: Path, run_id: str) -> Path:
    return experiments_dir / f"{run_id}{RECORD_SUFFIX}"


def record_bytes(record: Record) -> bytes:
    """The exact bytes of a record file (UTF-8 JSON, 2-space indent, trailing newline)."""
    try:
        data = json.dumps(encode(record), indent=2, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as e:  # NaN outside metrics, a non-JSON value
        raise RecordError(
            f"record {record.id} cannot be written as JSON: {e}",
            "params, tags, env and extra must be JSON values (finite numbers, strings, lists, dicts)",
        ) from None
    return data.encode("utf-8") + b"\n"


def write_record(experiments_dir: Path, tmp_dir: Path, record: Record) -> Path:
    """Publish the record with a temp file + fsync + rename: readers see old or new, whole."""
    path = record_path(experiments_dir, record.id)
    experiments_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(path, record_bytes(record), tmp_dir)
    return path


def read_record(path: Path) -> Record:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"record {path} does not exist") from None
    except OSError as e:
        raise CorruptRecord(str(path), f"unreadable: {e.strerror}") from e
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CorruptRecord(str(path), f"not valid JSON ({e})") from None
    except RecursionError:  # hostile nesting (thousands of [[[…): the parser's stack ran out
        raise CorruptRecord(str(path), f"JSON nested deeper than {MAX_NESTING} levels") from None
    check_nesting(raw, data, str(path))
    rec = decode(data, str(path))
    if path.name != f"{rec.id}{RECORD_SUFFIX}":
        raise CorruptRecord(str(path), f"file name does not match its id {rec.id}")
    return rec


def check_nesting(raw: bytes, data: object, source: str) -> None:
    """Raise CorruptRecord when the parsed JSON nests deeper than MAX_NESTING."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:  # the usual case, at C speed
        return
    level = [data]
    for _depth in range(MAX_NESTING):
        nxt: list = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(x for x in v.values() if isinstance(x, (dict, list)))
            elif isinstance(v, list):
                nxt.extend(x for x in v if isinstance(x, (dict, list)))
        if not nxt:
            return
        level = nxt
    raise CorruptRecord(source, f"JSON nested deeper than {MAX_NESTING} levels")


def record_files(experiments_dir: Path) -> Iterator[Path]:
    """Paths of every record file (by name; content is not read)."""
    try:
        names = os.listdir(experiments_dir)
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(RECORD_SUFFIX) and is_run_id(name[: -len(RECORD_SUFFIX)]):
            yield experiments_dir / name


def delete_record(experiments_dir: Path, run_id: str) -> bool:
    try:
        os.unlink(record_path(experiments_dir, run_id))
        return True
    except FileNotFoundError:
        return False
