"""A recorded run as the query API shows it: `Run` (one run) and `Artifact` (one saved object).

A Run is built from an index row: id, name, status, times, params, metrics and tags come
from the index without reading the record; everything else (description, env, code, error,
artifacts, series) loads the record file on first use.
"""
from __future__ import annotations

import json
import os
import stat as statmod
import sys
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tmt._sys import hostname
from tmt.errors import CheckoutError, CorruptObject, RecordError, StoreError, TmtError, UnsafePath, UsageError
from tmt.query import index as ix
from tmt.records.io import read_record, record_path
from tmt.records.model import Record, code_tree, decode_metric, effective_status
from tmt.store import codec
from tmt.store import fsutil
from tmt.store.fsutil import link_or_copy
from tmt.store.ids import ObjectId, validate_oid
from tmt.store.nofollow import forget, open_file, own_dir

if TYPE_CHECKING:  # pragma: no cover
    from tmt.records.series import Series
    from tmt.repo import Repo


class MissingItem(RecordError, KeyError):
    """A run has no series or artifact of the asked name (a KeyError too)."""

    __str__ = RecordError.__str__


_HOST: list[str] = []


def this_host() -> str:
    if not _HOST:
        _HOST.append(hostname())
    return _HOST[0]


def row_status(row: tuple) -> str:
    """The effective status of an index row: a dead `running` run on this host is `crashed`."""
    status = row[ix.C_STATUS]
    if status != "running":
        return status
    env: dict[str, Any] = {}
    if row[ix.C_HOST] is not None:
        env["host"] = row[ix.C_HOST]
    if row[ix.C_PID] is not None:
        env["pid"] = row[ix.C_PID]
    return effective_status(Record(id=row[ix.C_ID], name=row[ix.C_NAME], status=status, env=env), this_host())


def unpack_values(blob: bytes, metrics: bool) -> dict[str, Any]:
    values = codec.unpackb(blob)
    if metrics:
        return {k: decode_metric(v) for k, v in values.items()}
    return values


def _iso(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


class Artifact:
    """An object a run saved with `tmt.save`.

    `path` is a file with its original file name (a read-only hard link to the stored
    object under .tmt/cache/artifacts/<run-id>/, made on first use; a copy for root, who
    writes through read-only modes, so never the object itself); `load()` reads it back.
    """

    __slots__ = ("run", "name", "object", "size", "format", "filename", "_path")

    def __init__(self, run: "Run", entry: dict[str, Any]) -> None:
        self.run = run
        self.name: str = entry["name"]
        self.object: str | None = entry.get("object")
        self.size: int | None = entry.get("size")
        self.format: str = entry.get("format") or "pickle"
        fname = entry.get("filename")
        if not isinstance(fname, str) or "/" in fname or "\0" in fname or fname in ("", ".", ".."):
            fname = self.name.replace("/", "_") or "object"
        self.filename: str = fname
        self._path: Path | None = None

    def __repr__(self) -> str:
        return f"Artifact({self.name!r}, format={self.format!r}, size={self.size})"

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = self._materialize()
        return self._path

    def _materialize(self) -> Path:
        repo = self.run.repo
        if not self.object:
            raise RecordError(f"artifact {self.name!r} of run {self.run.id[:8]} has no stored object")
        oid = validate_oid(self.object)
        repo.store.stat(oid)  # a regular file, never a link or FIFO
        src = repo.store.path(oid)
        root = fsutil.ignores_file_modes()
        try:
            # cache/artifacts/<run id>/: tmt's own folders, checked; a link planted there is
            # never written through (the object itself is read instead, as below)
            folder = own_dir(repo.tmt_dir, f"cache/artifacts/{self.run.id}", create=True)
        except (OSError, UnsafePath):
            folder = None
        if folder is not None:
            dest = os.path.join(folder, self.filename)
            try:
                st = os.lstat(dest)
                if statmod.S_ISREG(st.st_mode) and os.path.samefile(dest, src) and not root:
                    return Path(dest)
            except OSError:
                pass
            try:
                tmp = os.path.join(folder, f".{os.getpid()}-{self.filename}")
                try:
                    os.unlink(tmp)
                except FileNotFoundError:
                    pass
                link_or_copy(src, tmp, 0o444)
                os.replace(tmp, dest)  # atomic: concurrent readers see a whole file; a planted link is replaced
                return Path(dest)
            except OSError:
                pass
        if root:  # never the object itself: a write by root would change the store
            return self._private_copy(src)
        # A read-only store (or a planted link): the object itself is the file (without its name).
        return src

    def _private_copy(self, src: Path) -> Path:
        import tempfile

        from tmt.store.fsutil import copy_file

        dest = Path(tempfile.mkdtemp(prefix="tmt-artifact-")) / self.filename
        try:
            copy_file(src, dest, 0o444)
        except OSError as e:
            raise StoreError(f"could not copy artifact {self.name!r} out of the store: {e.strerror or e}") from e
        return dest

    def load(self, loader: Callable[[str], Any] | None = None) -> Any:
        """Read the object back: `loader(path)` if given, else by its format.

        pickle (the default of `tmt.save`), npy/npz (numpy), json and text (txt, csv, md, py) are known.

        Warning: loading a pickle (format "pickle", the default of `tmt.save`) from a store
        someone else wrote runs code of their choosing, as any pickle file does. Load
        pickles only from stores you trust; objects saved with `tmt.save(...,
        format="numpy")` (read with allow_pickle=False) or `format="json"` load without
        unpickling anything.
        """
        path = self.path
        if loader is not None:
            return loader(str(path))
        try:
            return self._load(path)
        except TmtError:
            raise
        except Exception as e:
            self._check_intact()
            raise RecordError(
                f"artifact {self.name!r} ({self.format}) could not be loaded: {type(e).__name__}: {e}",
                "its stored bytes are intact; load it with the library that saved it: "
                "artifact.load(loader=...)",
            ) from e

    def _check_intact(self) -> None:
        """A load that failed on damaged bytes says so, and points to fsck."""
        from blake3 import blake3

        oid = str(self.object)  # loaded, so an object id (see _materialize)
        try:
            intact = blake3(self.run.repo.store.get(validate_oid(oid))).hexdigest() == oid
        except (OSError, TmtError, TypeError):
            intact = False
        if not intact:
            raise CorruptObject(oid, f"artifact {self.name!r} does not match its id", "run `tmt fsck --repair`")

    def _load(self, path: Path) -> Any:
        fmt = self.format.lower()
        # The file is opened as tmt.store.nofollow does: never a link, never blocking on a FIFO.
        if fmt in ("pickle", "pkl", "pk", "p"):
            import pickle

            with open_file(path) as f:
                return pickle.load(f)
        if fmt in ("npy", "npz"):
            import numpy

            with open_file(path) as f:
                return numpy.load(f, allow_pickle=False)
        if fmt == "json":
            with open_file(path) as f:
                return json.load(f)
        if fmt in ("txt", "text", "csv", "md", "py"):
            with open_file(path) as f:
                return f.read().decode("utf-8")
        raise UsageError(
            f"tmt does not know how to load artifact {self.name!r} (format {self.format!r})",
            f"pass a loader, e.g. artifact.load(loader=your_load), or open {path}",
        )


class Run:
    """One recorded run (read-only view; the record file is loaded lazily)."""

    __slots__ = ("repo", "_row", "_record", "_params", "_metrics", "status", "_artifacts")

    def __init__(self, repo: "Repo", row: tuple, record: Record | None = None, status: str | None = None) -> None:
        self.repo = repo
        self._row = row
        self._record = record
        self._params: dict[str, Any] | None = None
        self._metrics: dict[str, Any] | None = None
        self._artifacts: dict[str, Artifact] | None = None
        #: effective status: completed | failed | interrupted | running | crashed
        self.status: str = status or row_status(row)

    @classmethod
    def from_record(cls, repo: "Repo", rec: Record) -> "Run":
        # The index row of `rec`, but with the record's own values where the index cleans them.
        env = rec.env or {}
        exact = {"name": rec.name, "duration": rec.duration_s, "pid": env.get("pid"), "host": env.get("host"),
                 "tags": json.dumps(rec.tags), "parent": rec.parent}
        prepared = ix.prepare(rec, os.fspath(repo.tmt_dir))
        row = tuple(exact.get(c, v) for c, v in zip(ix.ROW_COLUMNS, prepared))
        return cls(repo, row, rec)

    # -- from the index --------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._row[ix.C_ID]

    @property
    def short_id(self) -> str:
        return self._row[ix.C_ID][:8]

    @property
    def name(self) -> str:
        return self._row[ix.C_NAME]

    @property
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self._row[ix.C_CREATED_ISO])

    @property
    def finished_at(self) -> datetime | None:
        return _iso(self._row[ix.C_FINISHED_ISO])

    @property
    def duration_s(self) -> float | None:
        return self._row[ix.C_DURATION]

    @property
    def params(self) -> dict[str, Any]:
        if self._params is None:
            self._params = self.record.params if self._record is not None else unpack_values(self._row[ix.C_PARAMS], False)
        return self._params

    @property
    def metrics(self) -> dict[str, Any]:
        if self._metrics is None:
            self._metrics = self.record.metrics if self._record is not None else unpack_values(self._row[ix.C_METRICS], True)
        return self._metrics

    @property
    def tags(self) -> list[str]:
        return json.loads(self._row[ix.C_TAGS])

    @property
    def parent(self) -> str | None:
        return self._row[ix.C_PARENT]

    # -- from the record -------------------------------------------------------------------

    @property
    def record(self) -> Record:
        """The full record (read from experiments/<id>.json on first use)."""
        if self._record is None:
            path = record_path(self.repo.experiments_dir, self.id)
            try:
                self._record = read_record(path)
            except RecordError as e:
                if not path.exists():
                    raise RecordError(f"the record of run {self.id} is gone (deleted since the query)") from e
                raise
        return self._record

    @property
    def description(self) -> str:
        return self.record.description

    @property
    def env(self) -> dict[str, Any]:
        return self.record.env

    @property
    def code(self) -> dict[str, Any] | None:
        return self.record.code

    @property
    def error(self) -> dict[str, Any] | None:
        return self.record.error

    @property
    def outputs(self) -> dict[str, Any]:
        """Final values the run returned that are not numbers (strings, lists, dicts)."""
        return self.record.outputs

    @property
    def artifacts(self) -> Mapping[str, Artifact]:
        if self._artifacts is None:
            self._artifacts = _ArtifactMap({a["name"]: Artifact(self, a) for a in self.record.artifacts}, self)
        return self._artifacts

    @property
    def series_names(self) -> list[str]:
        from tmt.records.series import read_journal

        names = list(self.record.series)
        if self.record.status == "running" or not names:
            names += [n for n in read_journal(self.repo.tmt_dir, self.id) if n not in names]
        return names

    def series(self, name: str) -> "Series":
        """A step metric: a sequence of (step, value), with `.steps`, `.values`, `.times`
        and `.to_pandas()` (a live or crashed run's come from its journal)."""
        from tmt.records.series import load_series

        s = load_series(self.repo, self.record, name)
        if s is None:
            names = self.series_names
            raise MissingItem(
                f"run {self.short_id} ({self.name}) has no series {name!r}",
                f"its series: {', '.join(names)}" if names else "it logged no step metrics",
            )
        return s

    def checkout(self, target: str | os.PathLike[str]) -> Path:
        """Materialize the run's code into `target` (new or empty): read-only hard links, and
        a `.tmt` pointer file so that runs started inside it record into this store."""
        from tmt.repo import write_pointer
        from tmt.snapshot.checkout import materialize

        materialize(self.repo.store, self._code_tree(), target, bounds=self.repo.tree_bounds)
        write_pointer(target, self.repo.tmt_dir)
        return Path(target)

    def code_path(self) -> Path:
        """A read-only view of the run's code, materialized once under .tmt/cache/checkouts/
        (root gets its own copies there, never hard links: see tmt.snapshot.checkout)."""
        try:
            return Path(own_dir(self.repo.tmt_dir, f"cache/checkouts/{self.id}"))  # never a link
        except FileNotFoundError:
            pass
        folder = Path(own_dir(self.repo.tmt_dir, "cache/checkouts", create=True)) / self.id
        tree = self._code_tree()
        from tmt.snapshot.checkout import materialize

        tmp = folder.parent / f".{os.getpid()}-{self.id}"
        if tmp.is_symlink() or tmp.exists():
            _rmtree_readonly(tmp)
        try:
            materialize(self.repo.store, tree, tmp, bounds=self.repo.tree_bounds)
            from tmt.repo import write_pointer

            write_pointer(tmp, self.repo.tmt_dir, relative=True)  # inside the store: moves with it
            try:
                os.rename(tmp, folder)
            except OSError:
                if not folder.is_dir():  # not a concurrent twin: a real failure
                    raise
                _rmtree_readonly(tmp)
        except OSError as e:
            raise StoreError(f"could not materialize run {self.short_id} into {folder}: {e.strerror or e}") from e
        return folder

    def _code_tree(self) -> ObjectId:
        tree = code_tree(self.record, required=False)
        if tree is None:
            raise CheckoutError(f"run {self.short_id} ({self.name}) has no code snapshot")
        return ObjectId(tree)  # code_tree validated it

    # -- plumbing ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"Run({self.short_id} {self.name!r} {self.status} {self._row[ix.C_CREATED_ISO]})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


class _ArtifactMap(dict):
    def __init__(self, items: dict[str, Artifact], run: Run) -> None:
        super().__init__(items)
        self._run = run

    def __missing__(self, key: str) -> Artifact:
        names = ", ".join(self) or "none"
        raise MissingItem(
            f"run {self._run.short_id} ({self._run.name}) has no artifact {key!r}",
            f"its artifacts: {names}",
        )


def _rmtree_readonly(path: Path) -> None:
    """Delete a read-only view (its folders are made writable first). A link at `path` is
    removed as a link: nothing it points to is chmodded or deleted."""
    import shutil

    try:
        if not statmod.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    forget(path)

    def retry(func, p, _exc):  # read-only folders: make them writable, then retry
        try:
            if not os.path.islink(p):
                os.chmod(os.path.dirname(p), 0o755, follow_symlinks=False)
                os.chmod(p, 0o755, follow_symlinks=False)
            func(p)
        except (OSError, NotImplementedError):
            pass

    # os.walk never descends into links (followlinks=False); chmod never follows one
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o755)
                except OSError:
                    pass
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:  # pragma: no cover - onerror is deprecated from 3.12
        shutil.rmtree(path, onerror=retry)
