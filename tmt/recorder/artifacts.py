"""Objects saved by `tmt.save`: written to a private temp folder, then stored as one blob.

The saver (pickle, or the user's `custom_save(obj, path)`) writes into a fresh folder
`.tmt/tmp/<host>_<pid>-<rand>/` under the file name the user asked for, so savers that pick the
format from the extension, or add one (numpy.save adds ".npy"), behave as they would
anywhere. A path returned by `custom_save` wins. The blob id is pinned before the blob is
written (gc protocol), and the temp folder is removed afterwards.
"""
from __future__ import annotations

import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

from blake3 import blake3

from tmt._plain import Frozen
from tmt.errors import RecordingError, StoreError
from tmt.store.fsutil import _hint_for, tmp_name
from tmt.store.ids import ObjectId, hash_bytes
from tmt.store.objects import ObjectStore
from tmt.store.pins import PinFile

#: Files up to this size are read once into memory (hash, pin, write); larger ones stream twice.
IN_MEMORY_MAX = 64 * 1024 * 1024


class Stored(Frozen):
    """A saved object as its artifact entry names it."""

    __slots__ = ("oid", "size", "filename", "format")
    oid: ObjectId
    size: int
    filename: str
    format: str

    def __init__(self, oid: ObjectId, size: int, filename: str, format: str) -> None:
        object.__setattr__(self, "oid", oid)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "filename", filename)
        object.__setattr__(self, "format", format)


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


#: tmt.save(format=...) -> the extension used when none is given.
FORMAT_EXTENSIONS = {"pickle": ".pkl", "numpy": ".npy", "json": ".json"}
#: what the record's `format` says (Artifact.load dispatches on it): numpy arrays as "npy".
RECORDED_FORMAT = {"pickle": "pickle", "numpy": "npy", "json": "json"}


def check_format(format: str | None, custom_save: Any) -> str:
    if format is None:
        return "pickle"
    if format not in FORMAT_EXTENSIONS:
        raise RecordingError(
            f"tmt.save format must be one of {', '.join(map(repr, FORMAT_EXTENSIONS))}, got {format!r}",
            "use custom_save=your_saver for other formats",
        )
    if custom_save is not None and format != "pickle":
        raise RecordingError(
            f"tmt.save got both format={format!r} and custom_save; pass one of them",
        )
    return format


def write_builtin(obj: Any, name: str, target: Path, fmt: str) -> None:
    """pickle (any object), numpy (np.save, no pickled objects inside) or json."""
    if fmt == "numpy":
        try:
            import numpy
        except ImportError:
            from tmt.errors import MissingDependency

            raise MissingDependency("tmt.save(format='numpy') needs numpy", "pip install numpy") from None
        try:
            arr = numpy.asanyarray(obj)
            with open(target, "wb") as f:
                numpy.save(f, arr, allow_pickle=False)
        except (ValueError, TypeError) as e:
            raise RecordingError(
                f"cannot save {name!r} with format='numpy': {e}",
                "format='numpy' stores arrays of numbers, strings or booleans (no Python objects); "
                "use the default pickle format for other objects",
            ) from None
    elif fmt == "json":
        import json

        try:
            data = json.dumps(obj, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise RecordingError(
                f"cannot save {name!r} with format='json': {e}",
                "format='json' stores dicts, lists, strings, numbers, booleans and None; "
                "use the default pickle format for other objects",
            ) from None
        with open(target, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        try:
            with open(target, "wb") as f:
                pickle.dump(obj, f)
        except OSError:
            raise
        except Exception as e:  # PicklingError, TypeError (a lock, a generator), AttributeError (a local class), …
            raise RecordingError(
                f"cannot save {name!r}: it cannot be pickled ({type(e).__name__}: {e})",
                "save what can be pickled (e.g. a model's state_dict), or pass custom_save=your_saver; "
                "arrays and plain values can use format='numpy' or format='json'",
            ) from None


def write_and_store(
    store: ObjectStore,
    pin: PinFile,
    tmp_dir: Path,
    obj: Any,
    name: str,
    extension: str | None,
    custom_save: Callable[[Any, str], str | os.PathLike[str] | None] | None,
    format: str | None = None,
) -> Stored:
    fmt = check_format(format, custom_save)
    if extension is None:
        extension = FORMAT_EXTENSIONS[fmt]
    filename = safe_filename(name) + (extension or "")
    work = Path(tmp_name(tmp_dir))  # "<host>_<pid>-<rand>": gc leaves a live writer's folder alone
    try:
        work.mkdir(parents=True)
    except OSError as e:
        raise StoreError(f"could not save {name!r}: cannot create {work}: {e.strerror or e}", _hint_for(e)) from e
    try:
        target = work / filename
        if custom_save is None:
            try:
                write_builtin(obj, name, target, fmt)
            except OSError as e:  # disk full, file size limit: say so, as the store does
                raise StoreError(f"could not save {name!r}: {e.strerror or e}", _hint_for(e)) from e
            real = target
            fmt = RECORDED_FORMAT[fmt]
        else:
            if path_first(custom_save):
                returned = custom_save(str(target), obj)  # numpy.save(file, arr) and the like
            else:
                returned = custom_save(obj, str(target))
            # Only a returned path means "I wrote here"; savers that return a byte count
            # (file.write) or anything else wrote to the path they were given.
            if isinstance(returned, (str, os.PathLike)):
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
