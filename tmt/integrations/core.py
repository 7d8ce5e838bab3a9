"""What every framework adapter shares: the run it writes to, the rank that writes, params
as dotted keys, numbers-only step metrics, and checkpoints stored as artifacts.

Which run (docs/integrations.md, "Which run"): the active run (a decorated function or
`with tmt.start_run()` around the training, or the run `tmt run` names through TMT_RUN_ID),
else a run the adapter starts itself, named after the script (or notebook). A run the adapter
started ends with the training: `completed` when the framework says training ended; when
the training raises instead, at the end of the notebook cell or of the process, `failed` (or
`interrupted`) with that exception. A run the adapter attached to is never ended by it.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Mapping
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

    from tmt.recorder.run import LiveRun

#: Where launchers put the global rank (torchrun, MPI, SLURM, LSF), first found wins; every
#: process of a multi-process training is rank 0 when none is set.
RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK")


def global_rank() -> int:
    for var in RANK_VARS:
        value = os.environ.get(var, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def flatten(params: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """{"optim": {"lr": 0.1}} -> {"optim.lr": 0.1}: nested settings as dotted keys, so
    `tmt ls --where 'params.optim.lr < 0.2'` finds them. Lists and other values stay whole."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        elif hasattr(value, "__dict__") and type(value).__name__ == "Namespace":  # argparse
            out.update(flatten(vars(value), name + "."))
        else:
            out[name] = value
    return out


def numbers(values: Mapping[Any, Any]) -> dict[str, bool | int | float]:
    """The values that are numbers (Python, numpy, or one-element tensors); frameworks report
    strings, lists and whole tensors beside their metrics, which a step series cannot hold."""
    from tmt.errors import MetricTypeError
    from tmt.recorder.values import to_metric

    out = {}
    for key, value in values.items():
        if value is None or isinstance(value, str):
            continue
        try:
            out[str(key)] = to_metric(str(key), value)
        except MetricTypeError:
            continue
    return out


class AdapterRun:
    """The run one adapter instance writes to, found (or started) on first use, on global
    rank 0 only: on any other rank every method does nothing."""

    def __init__(self, name: str | None = None, *, tags: Iterable[str] = (),
                 params: Mapping[str, Any] | None = None, checkpoints: bool = False,
                 rank: Callable[[], int] = global_rank) -> None:
        self.name = name
        self.rank = rank  # the framework's own idea of the global rank, where it has one
        self.tags = [tags] if isinstance(tags, str) else list(tags)
        self.params = dict(params or {})
        self.checkpoints = checkpoints
        self._run: LiveRun | None = None
        self.owned = False  # the adapter started the run, so it ends it
        self._previous: str | None = None  # the last run it started: the parent of the next

    @property
    def writes(self) -> bool:
        return self.rank() == 0

    def run(self) -> LiveRun | None:
        """The run to write to: the one found before while it lives, else the active run,
        else a new one. None on a rank other than 0."""
        if not self.writes:
            return None
        run = self._run
        if run is not None:
            if run._live:
                return run
            if self.owned:  # ended by the framework, or by the cell or process that raised
                self._previous = run.id
        from tmt.recorder.run import LiveRun, _default_name, active_run

        run = active_run()
        if run is not None:
            self._run, self.owned = run, False
        else:
            run = LiveRun(self.name or _default_name(), tags=self.tags, parent=self._previous)
            run._begin()
            self._run, self.owned = run, True
            _watch(run)
        if self.params:
            self.log_params(self.params)
        return run

    def log(self, values: Mapping[Any, Any], step: int | None = None) -> None:
        """Log the values that are numbers as step metrics."""
        run = self.run()
        if run is None:
            return
        values = numbers(values)
        if values:
            run.log(values, step=step)

    def log_params(self, params: Mapping[Any, Any]) -> None:
        """Add hyperparameters (nested keys dotted) to the run's params, on disk at once."""
        run = self.run()
        if run is None or not params:
            return
        flat = flatten(params)
        run.params.update(flat)
        _publish_params(run, flat)

    def save_file(self, path: str | os.PathLike[str], name: str) -> None:
        """Store the file at `path` (a checkpoint the framework wrote) as artifact `name`."""
        run = self.run()
        if run is None:
            return
        src = os.fspath(path)
        run.save(None, name, allow_exist=True, custom_save=lambda _obj, _target: src,
                 extension=os.path.splitext(src)[1] or None)

    def save_folder(self, path: str | os.PathLike[str], name: str) -> None:
        """Store the folder at `path` as artifact `name`, one uncompressed tar (`.tar`)."""
        run = self.run()
        if run is None:
            return
        folder = os.fspath(path)

        def write_tar(_obj: Any, target: str) -> None:
            import tarfile

            with tarfile.open(target, "w") as tar:
                tar.add(folder, arcname=os.path.basename(folder.rstrip(os.sep)))

        run.save(None, name, allow_exist=True, custom_save=write_tar, extension=".tar")

    def save_with(self, saver: Any, name: str, extension: str) -> None:
        """Store what `saver(path)` writes (a framework's own model file) as artifact `name`."""
        run = self.run()
        if run is None:
            return

        def write(_obj: Any, target: str) -> None:
            saver(target)

        run.save(None, name, allow_exist=True, custom_save=write, extension=extension)

    def end(self, exc: BaseException | None = None) -> None:
        """The training ended: end the run if the adapter started it."""
        run = self._run
        if run is not None and self.owned and run._live:
            _end(run, exc)


def _publish_params(run: LiveRun, values: dict[str, Any]) -> None:
    """Params set during a run are in its record now, not only at its end: a crash keeps them."""
    from tmt.recorder.values import to_params

    if run._attach is not None:  # another process (`tmt run`) writes the record
        run._attach.report({"e": "params", "source": "integration", "values": to_params(values), "applied": []})
        return
    from tmt.recorder.publish import publish

    with run._lock:
        if run._live and run.record is not None:
            run.record.params = to_params(run.params)
            publish(run.repo.experiments_dir, run.repo.tmp_dir, run.record, final=False)


# -- ending the runs adapters started when the training raised -----------------------------------

_owned: list[LiveRun] = []  # live runs started by adapters, oldest first
_raised: BaseException | None = None  # the exception that is ending the process
_hooked = False


def _end(run: LiveRun, exc: BaseException | None) -> None:
    if run in _owned:
        _owned.remove(run)
    run._end(exc)


def _watch(run: LiveRun) -> None:
    """End `run` when an exception ends the training before the framework says it ended:
    at the end of the notebook cell (IPython's post_run_cell has the cell's exception), or of
    the process (sys.excepthook has seen it by the time atexit runs)."""
    global _hooked
    _owned.append(run)
    if _hooked:
        return
    _hooked = True
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        global _raised
        _raised = exc
        previous(kind, exc, tb)

    sys.excepthook = excepthook
    import atexit

    atexit.register(_end_all_at_exit)
    shell = _ipython()
    if shell is not None:
        shell.events.register("post_run_cell", _end_all_after_cell)


def _ipython() -> Any:
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get is not None else None


def _end_all(exc: BaseException | None) -> None:
    for run in list(_owned):
        try:
            _end(run, exc)
        except Exception as e:  # noqa: BLE001 - at the end of a cell or the process: say it, go on
            from tmt._warn import warn

            warn(f"could not end run {run.name!r}: {getattr(e, 'message', e)}")


def _end_all_at_exit() -> None:
    if not _owned:
        return
    from tmt.recorder import sigterm as recorder_sigterm
    from tmt.recorder.publish import flush

    # SIGTERM raises SystemExit, which sys.excepthook never sees
    _end_all(_raised or recorder_sigterm.last_terminated)
    flush()  # the final records' folder syncs: atexit may already have run the syncer's own drain


def _end_all_after_cell(result: Any) -> None:
    _end_all(getattr(result, "error_in_exec", None))
