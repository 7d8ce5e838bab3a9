"""Hugging Face Transformers: `Trainer(..., callbacks=[TmtCallback()])`.

`report_to` names only integrations that transformers ships, so tmt's callback is passed
in `callbacks`; set `report_to="none"` to keep others out. What the Trainer logs (`loss`,
`learning_rate`, `eval_loss`, ...) becomes step series (step = the global step); the
training's summary (`train_runtime`, `train_loss`, ...) also the run's final metrics. The
`TrainingArguments` that differ from their defaults become params under their own names,
the model's config (what differs from its class's defaults) under `model.`. A run the callback started ends with the training. `checkpoints=True` stores every
checkpoint folder the Trainer saves as an artifact `checkpoint-<step>` (one `.tar`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from transformers import TrainerCallback

from tmt.integrations.core import AdapterRun, numbers

__all__ = ["TmtCallback"]

#: Keys of the Trainer's last log, the training's summary: final metrics as well as series.
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss")


def changed_arguments(args: Any) -> dict[str, Any]:
    """The TrainingArguments that differ from their defaults (about a dozen of some 120: the
    ones the user set, and those the Trainer derived from them), as `to_dict()` shows them
    (enums as strings, tokens masked)."""
    import dataclasses

    shown = args.to_dict() if hasattr(args, "to_dict") else {}
    if not dataclasses.is_dataclass(args):
        return shown
    out = {}
    for f in dataclasses.fields(args):
        if f.name not in shown:
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING  # a required argument (output_dir in older releases)
        value = getattr(args, f.name)
        if default is dataclasses.MISSING or value != default:
            out[f.name] = shown[f.name]
    return out


class TmtCallback(TrainerCallback):
    """Records a Trainer's training into the active run (or a new one named after the script)."""

    def __init__(self, name: str | None = None, *, tags: Iterable[str] = (),
                 params: Mapping[str, Any] | None = None, checkpoints: bool = False) -> None:
        self._zero = True  # state.is_world_process_zero, as the Trainer last said
        self.tmt = AdapterRun(name, tags=tags, params=params, checkpoints=checkpoints,
                              rank=lambda: 0 if self._zero else 1)

    def _seen(self, state: Any) -> None:
        self._zero = bool(getattr(state, "is_world_process_zero", True))

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self._seen(state)
        params = changed_arguments(args)
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_diff_dict"):
            params["model"] = {k: v for k, v in config.to_diff_dict().items() if k != "transformers_version"}
        self.tmt.log_params({**params, **self.tmt.params})

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None,
               **kwargs: Any) -> None:
        self._seen(state)
        if not logs:
            return
        self.tmt.log(logs, step=state.global_step)
        summary = {k: v for k, v in numbers(logs).items() if k in SUMMARY_KEYS}
        run = self.tmt.run() if summary else None
        if run is not None:
            run.metrics.update(summary)

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._seen(state)
        if not self.tmt.checkpoints:
            return
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        if os.path.isdir(folder):
            self.tmt.save_folder(folder, f"checkpoint-{state.global_step}")

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._seen(state)
        self.tmt.end()
