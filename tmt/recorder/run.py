"""The live run: start (snapshot + first record), log/save while it runs, end (final record).

Write order, which is what makes a SIGKILL harmless (docs/format.md, "write order"):
  1. pin file opened; snapshot pins its tree ids before relying on them;
  2. record written with status `running`, the tree id, host and pid: from now on the
     record is a gc root and `tmt ls` can show the run (as `crashed` once the pid is gone);
  3. every `log()` appends one frame to journal/<run-id>.log; every `save()` pins, stores
     its blob and rewrites the record so the object stays reachable after a crash;
  4. at the end: series blobs pinned then written (fsynced), the final record fsynced and
     renamed into place, the pin file closed; the folder fsync and the journal's deletion
     follow in the background (tmt/recorder/publish.py).
"""
from __future__ import annotations

import _thread  # its locks; threading costs every run about a millisecond to import
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar, Token
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

    from tmt.recorder.duplicates import DuplicateStrategy

from tmt._warn import warn
from tmt.errors import DuplicatedNameError, MetricTypeError, NoActiveRun, RecordingError, StoreError, TmtError
from tmt.recorder.legacy_config import open_repo
from tmt.recorder.outcome import error_info, final_values, now_iso, status_of
from tmt.recorder.publish import publish
from tmt.recorder.sigterm import Terminated, catch_sigterm as _catch_sigterm, release_sigterm as _release_sigterm
from tmt.recorder.values import to_float, to_params
from tmt.text import to_text

# Terminated, _catch_sigterm and _release_sigterm are imported from here by tmt.workspace.
__all__ = ["LiveRun", "Terminated", "active_run", "log", "save", "start_run"]

_current: ContextVar["LiveRun | None"] = ContextVar("tmt_current_run", default=None)
_live: list["LiveRun"] = []  # every live run of this process, oldest first
_live_lock = _thread.allocate_lock()
#: A run's snapshot that reads at least this many files (a first run of a big project) shows
#: a progress bar on stderr, if stderr is a terminal and the reading lasts PROGRESS_DELAY_S.
PROGRESS_MIN_FILES = 200
PROGRESS_DELAY_S = 1.0


class _SnapshotProgress:
    """progress(phase, done, total) for the run's snapshot: a StderrProgress made only once
    a snapshot turns out to read many files, so ordinary runs import nothing for it."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._bar = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if self._bar is None:
            if total < PROGRESS_MIN_FILES:
                return
            from tmt.progress import StderrProgress  # silent unless on a terminal

            self._bar = StderrProgress(delay_s=PROGRESS_DELAY_S)
            self._bar.start = self._start  # the delay counts from the snapshot's start
        self._bar(phase, done, total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def active_run() -> "LiveRun | None":
    """The run `tmt.log`/`tmt.save` write to: this context's run, else the process's only one,
    else the run TMT_RUN_ID names (this process was started by `tmt run`).

    The fallback lets threads started inside a run (which do not inherit context
    variables) log to it; with several live runs it is ambiguous, so there is none.
    """
    run = _current.get()
    if run is not None and run._live:
        return run
    with _live_lock:
        if _live:
            return _live[0] if len(_live) == 1 else None
    return _attached_base()


def _attached_base() -> "LiveRun | None":
    if not os.environ.get("TMT_RUN_ID"):
        return None
    from tmt.recorder.attach import attachment  # only processes started by `tmt run` load it

    att = attachment()
    return att.base if att is not None else None


def _notebook(run: "LiveRun") -> None:
    """A run started in a notebook keeps the cells it ran (tmt/recorder/notebook.py); only a
    process that imported IPython can be a kernel, so scripts import nothing for it."""
    if "IPython" in sys.modules:
        from tmt.recorder.notebook import record_notebook

        record_notebook(run)


class LiveRun:
    """A run being recorded. `with tmt.start_run(...) as run:` gives one; so does
    `tmt.active_run()` inside a decorated function.

    `run.metrics` (a dict) holds the final metrics, `run.params` the params; both may be
    changed until the run ends. `run.log()` and `run.save()` are `tmt.log`/`tmt.save`.
    """

    def __init__(
        self,
        name: str,
        *,
        description: str = "",
        tags: Iterable[str] = (),
        params: Mapping[str, Any] | None = None,
        config_path: str | os.PathLike[str] | None = None,
        save_on_exception: bool = False,
        duplicate_strategy: DuplicateStrategy | None = None,
        repo: Any = None,
        argv: list[str] | None = None,
        parent: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise RecordingError(f"a run name must be a non-empty string, got {name!r}")
        if isinstance(tags, str):
            tags = [tags]
        self.name = name
        self.description = "" if description is None else str(description)
        self.tags = [str(t) for t in tags]
        self.params: dict[str, Any] = dict(params or {})
        self.metrics: dict[str, Any] = {}
        self.config_path = config_path
        self.save_on_exception = save_on_exception  # always on now: kept for the predecessor's callers
        self._duplicate_strategy = duplicate_strategy  # None: the default, made when asked for
        self.repo = repo
        self.argv = argv  # the command line to record (default: sys.argv)
        self.env_extra: dict[str, Any] = {}  # more env keys (tmt run's options)
        self.record = None
        self.id: str | None = None
        self.parent: str | None = None
        self._parent_given = parent  # the parent to record, instead of the enclosing run's
        self._live = False
        self._lock = _thread.RLock()
        self._token: Token | None = None
        self._pin = None
        self._journal = None
        self._next_step: dict[str, int] = {}
        self._series: dict[str, tuple[list, list, list]] = {}
        self._t0 = 0.0
        self._sigterm = False
        self._attach = None  # the Attachment when this run is another process's (TMT_RUN_ID)

    def __repr__(self) -> str:
        state = "live" if self._live else (self.record.status if self.record else "not started")
        return f"<tmt run {self.name!r} {self.id or ''} {state}>"

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> "LiveRun":
        self._begin()
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self._end(exc)
        return False

    def _begin(self, *, catch_sigterm: bool = True, attach: bool = True) -> None:
        """Start the run: become the run `tmt run` started (TMT_RUN_ID), or open the store,
        record the start (snapshot, first record) and go live. `attach=False`: never become
        the run TMT_RUN_ID names, nor another live run's child (`tmt run` owns its run)."""
        from tmt.recorder.journal import JournalWriter
        from tmt.recorder.packages import own_loaded
        from tmt.records.model import new_run_id

        if self._live or self.record is not None or self._attach is not None:
            raise RecordingError(f"run {self.name!r} was already started; start a new run instead")
        # before tmt's own lazy imports (ignore rules, progress), which env.packages leaves out
        self._own_loaded = own_loaded()
        enclosing = active_run() if attach else None
        if enclosing is not None and enclosing._attach is not None and enclosing is enclosing._attach.base:
            if self._claim(enclosing._attach, catch_sigterm):
                return
        repo = self._open_store()
        self.id = new_run_id()
        if self._parent_given is not None:
            self.parent = self._parent_given
        else:
            self.parent = enclosing.id if enclosing is not None else self._duplicate_parent(repo)
        self._t0 = time.monotonic()
        self._pin = self._record_start(repo)
        self._journal = JournalWriter(repo.tmt_dir, self.id)
        self._go_live(catch_sigterm and enclosing is None)
        _notebook(self)

    @property
    def duplicate_strategy(self) -> DuplicateStrategy:
        """The predecessor's repeated-name setting (tmt/recorder/duplicates.py), loaded only by
        a run that was given one or is asked for it."""
        if self._duplicate_strategy is None:
            from tmt.recorder.duplicates import DuplicateStrategy

            self._duplicate_strategy = DuplicateStrategy()
        return self._duplicate_strategy

    @duplicate_strategy.setter
    def duplicate_strategy(self, value: DuplicateStrategy | None) -> None:
        self._duplicate_strategy = value

    def _duplicate_parent(self, repo: Any) -> str | None:
        """The parent AS_SUB_ENTRY names; the default policy names none."""
        if self._duplicate_strategy is None:
            return None
        from tmt.recorder.parent import duplicate_parent

        return duplicate_parent(self._duplicate_strategy, repo, self.name)

    def _open_store(self) -> Any:
        """The run's Repo: the one given (a path never creates a store), else the store found
        from the working directory (tmt.recorder.legacy_config)."""
        from tmt.repo import ensure_store_gitignore

        if self.repo is None:
            self.repo = open_repo(self.config_path)
        else:
            from tmt.repo import Repo

            self.repo = Repo.resolve(self.repo)
        ensure_store_gitignore(self.repo.tmt_dir)  # stores made before tmt wrote one get it now
        return self.repo

    def _record_start(self, repo: Any) -> Any:
        """Snapshot the code and publish the `running` record; returns the run's open pin
        file, which keeps the snapshot's objects from gc until the run ends."""
        from tmt.records.model import new_record
        from tmt.recorder.env import capture_env
        from tmt.recorder.gitinfo import git_state
        from tmt.snapshot.build import snapshot_repo
        from tmt.snapshot.rootlock import RootLock
        from tmt.store.pins import PinFile

        created = now_iso()
        pin = PinFile(repo.tmt_dir)
        # Shared with other starting runs, exclusive to an in-place checkout: held from before
        # the snapshot until the running record is out, so no run records a half-restored
        # tree and a checkout sees every run that started (tmt.snapshot.rootlock).
        root_lock = RootLock(repo.tmt_dir, repo.root, exclusive=False)
        try:
            root_lock.acquire()
            progress = _SnapshotProgress()
            try:
                snap = snapshot_repo(repo, pin=pin, progress=progress)
            finally:
                progress.close()
            env = capture_env(repo.root, repo.tmt_dir.parent, argv=self.argv)
            env.update(self.env_extra)
            # a view or rerun folder is no work tree of the user's: no git state
            git = None if repo.view else git_state(repo.root, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
            self.record = new_record(
                self.id, self.name, created_at=created, root=repo.root_label, snap=snap, git=git, env=env,
                description=self.description, tags=self.tags, params=to_params(self.params), parent=self.parent,
            )
            publish(repo.experiments_dir, repo.tmp_dir, self.record, final=False)
        except BaseException:
            pin.close()
            raise
        finally:
            root_lock.release()
        return pin

    def _go_live(self, sigterm: bool) -> None:
        """From now on tmt.log/tmt.save reach this run; `sigterm`: turn SIGTERM into Terminated."""
        self._live = True
        with _live_lock:
            _live.append(self)
        self._token = _current.set(self)
        self._sigterm = sigterm and _catch_sigterm()

    def _claim(self, att: Any, catch_sigterm: bool) -> bool:
        """Become the run TMT_RUN_ID names, if no run of this process has yet: the first
        top-level run attaches; later ones are recorded on their own, as its children."""
        with _live_lock:
            if att.claimed:
                return False
            att.claimed = True
        self._attach = att
        self.id = att.run_id
        self.repo = att.repo
        self._t0 = time.monotonic()
        applied: list[str] = []
        if att.overrides and self._override_params is not None:
            applied = self._override_params(att.overrides)
        self._go_live(catch_sigterm)
        if self.params or applied:
            att.report({"e": "params", "source": "recorder", "values": to_params(self.params), "applied": applied})
        _notebook(self)
        return True

    #: set by the decorator: applies `tmt rerun --set` values to the call's arguments and
    #: returns the names it applied
    _override_params: Callable[[dict[str, Any]], list[str]] | None = None

    def _end(self, exc: BaseException | None, returned: Any = None) -> None:
        """End the run: its outcome (tmt.recorder.outcome), then the final record (or, for an
        attached run, the report to `tmt run`), then release what the run held."""
        if not self._live:
            return

        with self._lock:
            self._live = False
            metrics, outputs = final_values(self.name, self.metrics, returned)
            status = status_of(exc)
            error = error_info(exc, self.repo.root) if exc is not None and status != "completed" else None
            try:
                if self._attach is not None:
                    self._report_end(status, metrics, outputs, error, exc)
                else:
                    self._finish(status, metrics, error, outputs=outputs, strict=exc is None)
            finally:
                self._release()

    def _summary(self) -> dict[str, Any]:
        if not self._series:
            return {}
        from tmt.records.series import Series, record_summary

        return record_summary({name: Series(name, *cols) for name, cols in self._series.items()})

    def _finish(self, status: str, metrics: dict[str, Any], error: dict[str, Any] | None, *,
                outputs: dict[str, Any] | None = None, strict: bool, journal: bool | None = None,
                packages: dict[str, str] | None | bool = True) -> None:
        """Write the final record: series packed into blobs, then the record. `strict`: a
        failure to write raises (else it is a warning: the run's own exception must win).
        `journal`: delete the journal after the record (default: if series were logged).
        `packages`: env.packages (True: this process's imports; None: leave it out)."""
        rec = self.record
        rec.status = status
        rec.finished_at = now_iso()
        rec.duration_s = round(time.monotonic() - self._t0, 6)
        rec.metrics = metrics
        rec.outputs = outputs or {}
        rec.params = to_params(self.params)
        if packages is True:
            packages = _packages(self.repo, self._own_loaded)
        if isinstance(packages, dict):
            rec.env["packages"] = packages
        rec.error = error
        try:
            rec.series = self._pack_series()
            rec.series_summary = self._summary()
            self._journal.close()
            drop = bool(self._series) if journal is None else journal
            publish(self.repo.experiments_dir, self.repo.tmp_dir, rec, final=True,
                    journal=self._journal.path if drop else None)
        except Exception as e:  # not only TmtError: the run's own exception must win
            self._journal.close()
            if strict:
                if isinstance(e, OSError):
                    raise StoreError(f"could not write the final record of run {self.id}: {e.strerror or e}") from e
                raise
            msg = e.message if isinstance(e, TmtError) else f"{type(e).__name__}: {e}"
            warn(f"could not write the final record of run {self.id}: {msg}")

    def _report_end(self, status: str, metrics: dict[str, Any], outputs: dict[str, Any],
                    error: dict[str, Any] | None, exc: BaseException | None) -> None:
        """An attached run's end: its params, metrics, outputs, error and imported packages
        go to the owner, which writes the record (tmt/recorder/attach.py)."""
        from tmt.records.model import encode_metric

        event = {"e": "end", "status": status, "params": to_params(self.params),
                 "metrics": {k: encode_metric(v) for k, v in metrics.items()}, "outputs": outputs,
                 "error": error, "packages": _packages(self.repo, self._own_loaded)}
        try:
            self._attach.report(event)
        except TmtError as e:
            if exc is None:
                raise
            warn(f"could not report the end of run {self.id[:8]}: {e.message}")

    def _release(self) -> None:
        """Forget the run: pin, SIGTERM handler, the live list, the context variable."""
        if self._pin is not None:
            self._pin.close()
        if self._sigterm:
            _release_sigterm()
            self._sigterm = False
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # ended in another context (another thread)
                pass
            self._token = None

    def _pack_series(self) -> dict[str, str]:
        if not self._series:
            return {}
        from tmt.records.series import Series, encode_series
        from tmt.store.ids import hash_bytes

        encoded = {}
        for name, (steps, values, times) in self._series.items():
            data = encode_series(Series(name, steps, values, times))
            encoded[name] = (hash_bytes(data), data)
        self._pin.add([oid for oid, _ in encoded.values()])  # pinned before written: gc protocol
        if len(encoded) <= 2:
            return {name: self.repo.store.put(data, oid) for name, (oid, data) in encoded.items()}
        with self.repo.store.batch() as batch:  # one file-system sync for many series
            return {name: batch.add(data, oid) for name, (oid, data) in encoded.items()}

    # -- while running -------------------------------------------------------------------

    @property
    def status(self) -> str:
        if self._live:
            return "running"
        return self.record.status if self.record else "not started"

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Append step metrics: `run.log({"loss": 0.3}, step=epoch)`.

        Without `step`, each metric counts its own steps from 0. The call is on disk (in the
        run's journal) when it returns.
        """
        if not isinstance(metrics, Mapping):
            raise MetricTypeError(
                f"tmt.log takes a dict of numbers, got {type(metrics).__name__}",
                'call it like tmt.log({"loss": 0.25}, step=epoch)',
            )
        if step is not None:
            step = _as_step(step)
        values = []
        for key, value in metrics.items():
            if not isinstance(key, str) or not key:
                raise MetricTypeError(f"logged metric names must be non-empty strings, got {key!r}")
            values.append((to_text(key), to_float(key, value)))  # a name from sys.argv may hold raw bytes
        if not values:
            return
        if self._attach is not None:
            if not self._live:
                raise RecordingError(f"run {self.name!r} has ended; it cannot log any more")
            self._attach.log(values, step)
            return
        t = time.time()
        with self._lock:
            if not self._live:
                raise RecordingError(f"run {self.name!r} has ended; it cannot log any more")
            points = []
            for key, value in values:
                s = step if step is not None else self._next_step.get(key, 0)
                self._next_step[key] = s + 1
                points.append((key, s, value))
            self._journal.append(t, points)
            for key, s, value in points:
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = ([], [], [])
                series[0].append(s)
                series[1].append(value)
                series[2].append(t)

    def save(
        self,
        obj: Any,
        name: str,
        allow_exist: bool = False,
        extension: str | None = None,
        custom_save: Callable[[Any, str], Any] | None = None,
        format: str | None = None,
    ) -> str:
        """Store `obj` in the run; returns the path of the stored, read-only copy.

        `format`: "pickle" (the default: any object, but loading a pickle runs code chosen
        by whoever wrote it), "numpy" (np.save without pickled objects) or "json"; the last
        two load without unpickling anything. Or `custom_save(obj, path)` for any other.
        `extension` defaults to .pkl, .npy or .json by format.
        """
        from tmt.recorder.artifacts import write_and_store

        if not isinstance(name, str) or not name:
            raise RecordingError(f"tmt.save needs a non-empty string name, got {name!r}")
        if self._attach is not None:
            if not self._live:
                raise RecordingError(f"run {self.name!r} has ended; it cannot save any more")
            return self._attach.save(obj, name, allow_exist, extension, custom_save, format)
        with self._lock:
            if not self._live:
                raise RecordingError(f"run {self.name!r} has ended; it cannot save any more")
            taken = {a["name"] for a in self.record.artifacts}
            if name in taken:
                if not allow_exist:
                    raise DuplicatedNameError(
                        f"an object named {name!r} was already saved in run {self.name!r} and "
                        "`allow_exist` is False",
                        "specify another name, or pass allow_exist=True to keep both",
                    )
                n = 1
                while f"{name}_{n}" in taken:
                    n += 1
                name = f"{name}_{n}"
            stored = write_and_store(
                self.repo.store, self._pin, self.repo.tmp_dir, obj, name, extension, custom_save, format
            )
            self.record.artifacts.append(
                {
                    "name": name,
                    "object": stored.oid,
                    "size": stored.size,
                    "format": stored.format,
                    "filename": stored.filename,
                }
            )
            # Rewritten now so the object stays reachable (a gc root) if the process dies.
            publish(self.repo.experiments_dir, self.repo.tmp_dir, self.record, final=False)
            return str(self.repo.store.path(stored.oid))


def _as_step(step: Any) -> int:
    import operator

    if isinstance(step, bool):
        raise MetricTypeError(f"step must be an integer, got {step!r}")
    try:
        return operator.index(step)
    except TypeError:
        pass
    if isinstance(step, float) and step.is_integer():
        return int(step)
    raise MetricTypeError(f"step must be an integer, got {type(step).__name__} {step!r}")


def _packages(repo, preloaded: frozenset[str]) -> dict[str, str]:
    """env.packages; never a reason for a run to fail (an odd environment gives {})."""
    from tmt.recorder.packages import imported_packages

    try:
        return imported_packages(repo.cache_dir, preloaded)
    except Exception as e:  # noqa: BLE001
        warn(f"could not list the imported packages: {type(e).__name__}: {e}")
        return {}


# -- module-level API ------------------------------------------------------------------------


def start_run(
    name: str | None = None,
    *,
    description: str = "",
    tags: Iterable[str] = (),
    params: Mapping[str, Any] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    save_on_exception: bool = False,
    duplicate_strategy: DuplicateStrategy | None = None,
) -> LiveRun:
    """A run as a context manager: `with tmt.start_run(name="sweep", params={...}) as run:`.

    The run starts (snapshot, first record) when the `with` block is entered, and ends with
    it: `completed`, `failed` (the exception propagates) or `interrupted` (Ctrl-C).
    """
    if name is None:
        name = _default_name()
    return LiveRun(
        name,
        description=description,
        tags=tags,
        params=params,
        config_path=config_path,
        save_on_exception=save_on_exception,
        duplicate_strategy=duplicate_strategy,
    )


def _default_name() -> str:
    """The script's stem; in a notebook, the notebook's (or "notebook")."""
    if "IPython" in sys.modules:
        from tmt.recorder.notebook import default_name

        name = default_name()
        if name:
            return name
    script = sys.argv[0] if sys.argv else ""
    stem = Path(script).stem if script and script not in ("-c", "-m", "-") else ""
    return stem or "run"


def _require(what: str) -> LiveRun:
    run = active_run()
    if run is None:
        raise NoActiveRun(what)
    return run


def log(metrics: Mapping[str, Any], step: int | None = None) -> None:
    """Append step metrics to the active run: `tmt.log({"loss": loss}, step=epoch)`."""
    _require("tmt.log()").log(metrics, step=step)


def save(
    obj: Any,
    name: str,
    allow_exist: bool = False,
    extension: str | None = None,
    custom_save: Callable[[Any, str], Any] | None = None,
    format: str | None = None,
) -> str:
    """Store `obj` in the active run: pickle by default; `format="numpy"` or `format="json"`
    store it in a form that loads without unpickling; or `custom_save(obj, path)`."""
    return _require("tmt.save()").save(obj, name, allow_exist, extension, custom_save, format)

