"""Recording runs: the decorator, the context manager, step metrics and saved objects.

    @tmt.recorder(name="lr")            # == tmt_recorder (the predecessor's name)
    def train(C=1.0):
        tmt.log({"loss": 0.3}, step=1)
        tmt.save(model, name="model")   # == tmt_save
        return {"f1": 0.9}

    with tmt.start_run(name="sweep", params={"lr": 0.1}) as run:
        run.metrics["f1"] = 0.9

See docs/recording.md.
"""
from __future__ import annotations

import sys
import types
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

    from tmt.recorder.duplicates import DuplicatePolicy, DuplicateStrategy

from tmt.recorder.decorator import recorder, tmt_recorder
from tmt.recorder.publish import flush
from tmt.recorder.run import LiveRun, active_run, log, save, start_run

#: The predecessor's name for `tmt.save`.
tmt_save = save

__all__ = [
    "recorder", "tmt_recorder", "start_run", "log", "save", "tmt_save", "active_run",
    "LiveRun", "DuplicateStrategy", "DuplicatePolicy", "flush",
]


def __getattr__(name: str) -> object:
    # the predecessor's repeated-name settings load when a program names them
    if name in ("DuplicateStrategy", "DuplicatePolicy"):
        from tmt.recorder import duplicates

        return getattr(duplicates, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """`tmt.recorder` names both this package and the decorator. Importing the package (say
    `from tmt.recorder import flush`) makes Python bind `tmt.recorder` to the package, so the
    package itself is callable: `@tmt.recorder(name=...)` works either way."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return recorder(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
