"""Objects saved by `tmt.save`: written to a private temp folder, then stored as one blob.

The saver (pickle, or the user's `custom_save(obj, path)`) writes into a fresh folder
`.tmt/tmp/<pid>-<rand>/` under the file name the user asked for, so savers that pick the
format from the extension, or add one (numpy.save adds ".npy"), behave as they would
anywhere. A path returned by `custom_save` wins. The blob id is pinned before the blob is
written (gc protocol), and the temp folder is removed afterwards.
"""
from __future__ import annotations

import os
import pickle
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blake3 import blake3

from tmt.errors import RecordingError, StoreError
from tmt.store.ids import ObjectId, hash_bytes
from tmt.store.objects import ObjectStore
from tmt.store.pins import PinFile

#: Files up to this size are read once into memory (hash, pin, write); larger ones stream twice.
IN_MEMORY_MAX = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Stored:
    oid: ObjectId
    size: int
    filename: str
    format: str


_PATH_NAMES = {"file", "fname", "filename", "path", "fp", "f", "fid", "filepath"}
_OBJ_NAMES = {"arr", "obj", "x", "data", "array", "value", "values", "a"}


def path_first(func: Callable[..., Any]) -> bool:
    """True for savers that take (path, obj), like numpy.save(file, arr).

    The predecessor documented custom_save(obj, path); tmt calls it that way unless the
    saver's first two parameters are clearly (file, array), so `custom_save=np.save` works.
    """
    import inspect

    try:
        params = list(inspect.signature(func).parameters.values())[:2]
    except (TypeError, ValueError):
        return False
    return (
        len(params) == 2
        and params[0].name.lower() in _PATH_NAMES
        and params[1].name.lower() in _OBJ_NAMES
    )


def safe_filename(name: str) -> str:
    cleaned = name.replace("/", "_").replace("\\", "_").replace("\0", "_")
    return cleaned if cleaned not in ("", ".", "..") else "object"


def store_file(store: ObjectStore, pin: PinFile, path: str | os.PathLike[str]) -> tuple[ObjectId, int]:
    """Hash `path`, pin the id, then store it: gc can never remove it under us."""
    try:
        size = os.stat(path).st_size
        if size <= IN_MEMORY_MAX:
            with open(path, "rb") as f:
                data = f.read()
            oid = hash_bytes(data)
            pin.add([oid])
            return store.put(data, oid), len(data)
        hasher = blake3(max_threads=blake3.AUTO)
        hasher.update_mmap(os.fspath(path))
        oid = ObjectId(hasher.hexdigest())
    except OSError as e:
        raise StoreError(f"could not read {os.fspath(path)}: {e.strerror or e}") from e
    pin.add([oid])
    got, size = store.put_file(path)
    if got != oid:  # the file changed between the two reads; pin what was stored
        pin.add([got])
    return got, size


def write_and_store(
    store: ObjectStore,
    pin: PinFile,
    tmp_dir: Path,
    obj: Any,
    name: str,
    extension: str,
    custom_save: Callable[[Any, str], str | os.PathLike[str] | None] | None,
) -> Stored:
    filename = safe_filename(name) + (extension or "")
    work = tmp_dir / f"{os.getpid()}-{secrets.token_hex(8)}"
    work.mkdir(parents=True)
    try:
        target = work / filename
        if custom_save is None:
            with open(target, "wb") as f:
                pickle.dump(obj, f)
            real = target
            fmt = "pickle"
        else:
            if path_first(custom_save):
                returned = custom_save(str(target), obj)  # numpy.save(file, arr) and the like
            else:
                returned = custom_save(obj, str(target))
            if returned is not None:
                real = Path(os.fspath(returned))
            elif target.exists():
                real = target
            else:
                written = [p for p in work.iterdir() if p.is_file()]
                if len(written) != 1:
                    raise RecordingError(
                        f"custom_save did not write {name!r} to the path it was given",
                        "write to the path custom_save receives, or return the path it wrote",
                    )
                real = written[0]
            if real.is_dir():
                raise RecordingError(
                    f"custom_save for {name!r} produced a folder ({real}); tmt.save stores one file",
                    "archive the folder (e.g. shutil.make_archive) and return the archive's path",
                )
            if not real.exists():
                raise RecordingError(
                    f"custom_save for {name!r} returned {os.fspath(real)!r}, which does not exist"
                )
            ext = extension if extension and real.name.endswith(extension) else real.suffix
            filename = safe_filename(name) + ext
            fmt = ext.lstrip(".") or "custom"
        oid, size = store_file(store, pin, real)
        return Stored(oid, size, filename, fmt)
    finally:
        shutil.rmtree(work, ignore_errors=True)
