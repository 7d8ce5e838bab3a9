"""LightGBM: `lgb.train(params, dtrain, valid_sets=[dval], callbacks=[tmt_callback()])`, or
`LGBMRegressor().fit(X, y, eval_set=[...], callbacks=[tmt_callback()])`.

Each iteration logs the evaluation results as step series `<data>-<metric>` (`valid_0-l2`,
step = the iteration); the training params become params. LightGBM tells a callback
nothing when training ends, so a run the callback started ends after the last iteration;
when early stopping cut the training short, at the end of the notebook cell or process.
`checkpoints=True` stores the trained model (LightGBM's text format) as the artifact `model`.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

import lightgbm

from tmt.integrations.core import AdapterRun

__all__ = ["tmt_callback"]


def tmt_callback(name: str | None = None, *, tags: Iterable[str] = (), params: Mapping[str, Any] | None = None,
                 checkpoints: bool = False) -> Callable[[Any], None]:
    """A LightGBM callback recording the training into the active run (or a new one named
    after the script)."""
    adapter = AdapterRun(name, tags=tags, params=params, checkpoints=checkpoints)

    def callback(env: Any) -> None:
        if env.iteration == env.begin_iteration:
            adapter.log_params({**(env.params or {}), **adapter.params})
        values = {}
        for item in env.evaluation_result_list or ():
            data, metric, value = item[0], item[1], item[2]  # lgb.cv adds the stdv after
            values[f"{data}-{metric}"] = value
        adapter.log(values, step=env.iteration)
        if env.iteration + 1 >= env.end_iteration:
            if adapter.checkpoints and isinstance(env.model, lightgbm.Booster):
                adapter.save_with(env.model.save_model, "model", ".txt")
            adapter.end()

    # after record_evaluation (20) and before early_stopping (30): the stopping iteration is logged
    callback.order = 25  # type: ignore[attr-defined]
    callback.tmt = adapter  # type: ignore[attr-defined]
    return callback
