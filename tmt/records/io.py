"""Reading and writing experiments/<id>.json atomically."""
from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

from tmt.errors import CorruptRecord, RecordError
from tmt.records.model import Record, decode, encode, is_run_id
from tmt.store.fsutil import atomic_write
from tmt.store.nofollow import NotAFile, own_dir, read_file

RECORD_SUFFIX = ".json"
#: A record file larger than this is corrupt (no tmt writes one: params and strings are capped).
MAX_RECORD_BYTES = 64 << 20
#: Deeper JSON in a record is corrupt: the JSON parser and every recursive consumer (show,
#: export, flatten) would run out of stack on it; no tmt writes more than a few levels.
MAX_NESTING = 100


def record_path(experiments_dir: Path, run_id: str) -> Path:
    return experiments_dir / f"{run_id}{RECORD_SUFFIX}"


def record_bytes(record: Record) -> bytes:
    """The exact bytes of a record file (UTF-8 JSON, 2-space indent, trailing newline)."""
    try:
        data = json.dumps(encode(record), indent=2, ensure_ascii=False, allow_nan=False, sort_keys=False)
    except (TypeError, ValueError) as e:  # NaN outside metrics, a non-JSON value, a 5000-digit int
        raise RecordError(
            f"record {record.id} cannot be written as JSON: {e}",
            "params, tags, env and extra must be JSON values (finite numbers, strings, lists, dicts)",
        ) from None
    try:
        return data.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # Undecodable bytes of a non-UTF-8 path or argument (argv, cwd, a name): written as
        # the text "\\xNN" (tmt.text.to_text), so the record stays UTF-8 JSON.
        from tmt.text import to_texts

        data = json.dumps(to_texts(encode(record)), indent=2, ensure_ascii=False, allow_nan=False, sort_keys=False)
        return data.encode("utf-8") + b"\n"


def write_record(experiments_dir: Path, tmp_dir: Path, record: Record) -> Path:
    """Publish the record with a temp file + fsync + rename: readers see old or new, whole."""
    path = record_path(experiments_dir, record.id)
    atomic_write(path, record_bytes(record), tmp_dir, make_dirs=True)
    return path


def read_record(path: Path) -> Record:
    raw = read_record_bytes(path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError as e:  # not UTF-8, not JSON, an integer of more than 4300 digits
        raise CorruptRecord(str(path), f"not valid JSON ({e})") from None
    except RecursionError:  # hostile nesting (thousands of [[[…): the parser's stack ran out
        raise CorruptRecord(str(path), f"JSON nested deeper than {MAX_NESTING} levels") from None
    check_nesting(raw, data, str(path))
    rec = decode(data, str(path))
    if path.name != f"{rec.id}{RECORD_SUFFIX}":
        raise CorruptRecord(str(path), f"file name does not match its id {rec.id}")
    return rec


def read_record_bytes(path: str | os.PathLike[str]) -> bytes:
    """A record file's bytes, never through a link nor blocking on a FIFO (tmt.store.nofollow)."""
    try:
        raw = read_file(path, limit=MAX_RECORD_BYTES)
    except FileNotFoundError:
        raise RecordError(f"record {os.fspath(path)} does not exist") from None
    except NotAFile as e:
        raise CorruptRecord(os.fspath(path), e.strerror) from None
    except OSError as e:
        raise CorruptRecord(os.fspath(path), f"unreadable: {e.strerror}") from e
    if len(raw) > MAX_RECORD_BYTES:
        raise CorruptRecord(os.fspath(path), f"larger than {MAX_RECORD_BYTES >> 20} MiB")
    return raw


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
    """Paths of every record file (by name; content is not read). Raises UnsafePath when
    experiments/ is not tmt's own folder (a link: never listed through)."""
    try:
        names = os.listdir(own_dir(experiments_dir.parent, experiments_dir.name))
    except FileNotFoundError:
        return
    for name in names:
        if name.endswith(RECORD_SUFFIX) and is_run_id(name[: -len(RECORD_SUFFIX)]):
            yield experiments_dir / name


def delete_record(experiments_dir: Path, run_id: str) -> bool:
    try:
        own_dir(experiments_dir.parent, experiments_dir.name)
        os.unlink(record_path(experiments_dir, run_id))
        return True
    except FileNotFoundError:
        return False
