"""PyTorch Lightning: `Trainer(logger=TmtLogger())` (or beside others: `logger=[TmtLogger(), ...]`).

What `self.log(...)` reports becomes step series (step = the trainer's global step), the
module's `save_hyperparameters()` (and the datamodule's) become params, nested keys dotted.
Every `fit`, `validate` or `test` ends with `finalize`: a run the logger started ends there
(`completed`, or `failed`/`interrupted` with the exception), and the next stage with the same
logger is a new run whose parent is the previous one. `checkpoints=True` stores every
checkpoint `ModelCheckpoint` writes as an artifact `checkpoint-<file stem>`.

Works with the `lightning` package (`lightning.pytorch`), or `pytorch_lightning` alone.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

try:
    from lightning.pytorch.loggers.logger import Logger
    from lightning.pytorch.utilities import rank_zero_only
except ImportError:  # only the older distribution is installed
    from pytorch_lightning.loggers.logger import Logger
    from pytorch_lightning.utilities import rank_zero_only

from tmt.integrations.core import AdapterRun

__all__ = ["TmtLogger"]


def _rank() -> int:
    return getattr(rank_zero_only, "rank", None) or 0  # the trainer sets it to the global rank


class TmtLogger(Logger):
    """A Lightning logger recording into the active run (or a new one named after the script)."""

    def __init__(self, name: str | None = None, *, tags: Iterable[str] = (),
                 params: Mapping[str, Any] | None = None, checkpoints: bool = False) -> None:
        super().__init__()
        self.tmt = AdapterRun(name, tags=tags, params=params, checkpoints=checkpoints, rank=_rank)
        self._stored: set[tuple[str, float]] = set()  # checkpoints already stored (path, mtime)

    @property
    def name(self) -> str:
        run = self.tmt._run
        return run.name if run is not None else (self.tmt.name or "tmt")

    @property
    def version(self) -> str:
        run = self.tmt._run
        return run.id[:8] if run is not None and run.id else ""

    @property
    def experiment(self) -> Any:
        """The tmt run (`tmt.recorder.LiveRun`): `logger.experiment.save(obj, name=...)`."""
        return self.tmt.run()

    @rank_zero_only
    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        if not isinstance(params, Mapping):
            params = vars(params)  # argparse.Namespace
        self.tmt.log_params({**params, **self.tmt.params})

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        self.tmt.log(metrics, step=step)

    @rank_zero_only
    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if not self.tmt.checkpoints:
            return
        # the file just written (a private attribute since Lightning 2.0), then the ones it keeps
        paths = [getattr(checkpoint_callback, "_last_checkpoint_saved", ""),
                 *getattr(checkpoint_callback, "best_k_models", {}), getattr(checkpoint_callback, "last_model_path", "")]
        for path in dict.fromkeys(p for p in paths if p):
            try:
                key = (os.fspath(path), os.stat(path).st_mtime)
            except OSError:  # removed already (save_top_k), or on a remote file system
                continue
            if key not in self._stored:
                self._stored.add(key)
                self.tmt.save_file(path, f"checkpoint-{os.path.splitext(os.path.basename(path))[0]}")

    @rank_zero_only
    def finalize(self, status: str) -> None:
        exc = None
        if status == "failed":
            # Lightning calls finalize("failed") inside its `except` block: the exception is there
            exc = sys.exc_info()[1] or RuntimeError("the training failed")
        self.tmt.end(exc)
