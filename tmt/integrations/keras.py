"""Keras 3 (any backend): `model.fit(..., callbacks=[TmtCallback()])`.

Each epoch's logs (`loss`, `val_loss`, `accuracy`, ...) become step series (step = the
epoch); the fit's settings (`epochs`, `steps`) and the optimizer's config (under
`optimizer.`) become params. A run the callback started ends with the fit.
`checkpoints=True` stores the model after every epoch as an artifact `checkpoint-epoch=<N>`
(a `.keras` file, `keras.saving.load_model` reads it).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

import keras

from tmt.integrations.core import AdapterRun

__all__ = ["TmtCallback"]


class TmtCallback(keras.callbacks.Callback):
    """Records a fit into the active run (or a new one named after the script)."""

    def __init__(self, name: str | None = None, *, tags: Iterable[str] = (),
                 params: Mapping[str, Any] | None = None, checkpoints: bool = False) -> None:
        super().__init__()
        self.tmt = AdapterRun(name, tags=tags, params=params, checkpoints=checkpoints)

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        params: dict[str, Any] = {k: v for k, v in (self.params or {}).items() if k != "verbose"}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            try:
                params["optimizer"] = optimizer.get_config()
            except Exception:  # noqa: BLE001 - a custom optimizer without a config: no params from it
                pass
        self.tmt.log_params({**params, **self.tmt.params})

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.tmt.log(logs or {}, step=epoch)
        if self.tmt.checkpoints:
            self.tmt.save_with(self.model.save, f"checkpoint-epoch={epoch}", ".keras")

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self.tmt.end()
