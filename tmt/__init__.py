"""tmt (That Metric Timeline): record, find, compare and restore machine-learning runs.

The public API. Names resolve lazily so that `import tmt` stays fast: the recording,
query and maintenance modules load on first use.
"""
from __future__ import annotations

#: typing costs ~4 ms to import; type checkers read this as True, Python never imports it.
TYPE_CHECKING = False

__version__ = "0.2.0"

_LAZY = {
    # recording (predecessor names first)
    "tmt_recorder": "tmt.recorder",
    "tmt_save": "tmt.recorder",
    "recorder": "tmt.recorder",
    "start_run": "tmt.recorder",
    "log": "tmt.recorder",
    "save": "tmt.recorder",
    "active_run": "tmt.recorder",
    "DuplicateStrategy": "tmt.recorder",
    "DuplicatePolicy": "tmt.recorder",
    # finding runs
    "get": "tmt.query",
    "runs": "tmt.query",
    "Run": "tmt.query",
    "Runs": "tmt.query",
    "TmtManager": "tmt.manager",
    "query": "tmt.query",  # tmt.query.remove (docs/api.md) after a plain `import tmt`
    # the working tree (API twins of `tmt diff` and `tmt checkout`)
    "diff": "tmt.workspace",
    "checkout": "tmt.workspace",
    # pictures (API twins of `tmt plot` and `tmt timeline`)
    "plot": "tmt.plot",
    "timeline": "tmt.timeline",
    # maintenance (from their own modules: `import tmt` must not load fsck to run gc)
    "gc": "tmt.maintenance.gc",
    "fsck": "tmt.maintenance.fsck",
    # sharing runs (tmt.remote.add/ls/rm/show/gc/fsck)
    "push": "tmt.remote.push",
    "pull": "tmt.remote.pull",
    "clone": "tmt.remote.clone",
    "remote": "tmt.remote",
    # upgrading from the predecessor (the API twin of `tmt migrate`)
    "migrate": "tmt.legacy.migrate",
    # repository
    "Repo": "tmt.repo",
    "init": "tmt.repo",
    "errors": "tmt.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tmt' has no attribute {name!r}")
    import sys

    __import__(module)  # not importlib.import_module: importlib (and warnings) cost every run
    mod = sys.modules[module]
    value = mod if name in ("errors", "remote", "query") else getattr(mod, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from tmt import errors
    from tmt.legacy.migrate import migrate
    from tmt.maintenance import fsck, gc
    from tmt.manager import TmtManager
    from tmt.query import Run, Runs, get, runs
    from tmt import query, remote
    from tmt.remote.clone import clone
    from tmt.remote.pull import pull
    from tmt.remote.push import push
    from tmt.recorder import (
        DuplicatePolicy, DuplicateStrategy, active_run, log, recorder, save, start_run, tmt_recorder, tmt_save,
    )
    from tmt.repo import Repo, init
    from tmt.plot import plot
    from tmt.timeline import timeline
    from tmt.workspace import checkout, diff
