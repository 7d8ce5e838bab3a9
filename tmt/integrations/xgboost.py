"""XGBoost: `xgb.train(params, dtrain, evals=[(dval, "val")], callbacks=[TmtCallback()])`, or
`XGBRegressor(callbacks=[TmtCallback()])`.

Each boosting round logs the evaluation results as step series named as XGBoost prints
them (`val-rmse`, step = the round). The params given to `xgb.train` (or `xgb.cv`, or set on
an `XGBModel`) become params, with `num_boost_round`; `checkpoints=True` stores the trained
model as the artifact `model` (`model.ubj`).
"""
from __future__ import annotations

import inspect
import json
import sys
from collections.abc import Iterable, Mapping
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

import xgboost
from xgboost.callback import TrainingCallback

from tmt.integrations.core import AdapterRun, global_rank

__all__ = ["TmtCallback"]


def _rank() -> int:
    from xgboost import collective

    try:
        if collective.is_distributed():
            return collective.get_rank()
    except Exception:  # noqa: BLE001 - no collective in this process: the launcher's rank
        pass
    return global_rank()


def _value(text: str) -> Any:
    """XGBoost's config holds every parameter as a string: numbers back as numbers, floats
    by their shortest float32 form (XGBoost keeps them as float32: "0.300000012" is eta=0.3)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    import numpy

    short = float(str(numpy.float32(value)))
    return short if float(numpy.float32(short)) == float(numpy.float32(value)) else value


#: xgb.train and xgb.cv, whose frames hold the params the user gave
_ENTRY_CODES = tuple(inspect.unwrap(f).__code__ for f in (xgboost.training.train, xgboost.training.cv))


def given_params() -> dict[str, Any] | None:
    """The params the running `xgb.train`/`xgb.cv` call was given, and its num_boost_round:
    XGBoost passes a callback only the booster, whose configuration holds some fifty settings,
    defaults included. None when the callback was not called from either."""
    frame = sys._getframe(1)
    for _ in range(12):
        if frame is None:
            return None
        if frame.f_code in _ENTRY_CODES:
            given = frame.f_locals.get("params")
            if isinstance(given, Mapping):
                params = dict(given)
            elif isinstance(given, (list, tuple)):  # [("eval_metric", "rmse"), ("eval_metric", "mae")]
                params = {}
                for key, value in given:
                    if key not in params:
                        params[key] = value
                    elif isinstance(params[key], list):
                        params[key].append(value)
                    else:
                        params[key] = [params[key], value]
            else:
                return None
            rounds = frame.f_locals.get("num_boost_round")
            if isinstance(rounds, int):
                params["num_boost_round"] = rounds
            return params
        frame = frame.f_back
    return None


def booster_params(model: Any) -> dict[str, Any]:
    """The parameters the booster trains with (defaults included), from its configuration:
    every leaf of the `*_param` sections, by its XGBoost name (`eta`, `max_depth`, ...). Used
    only when the call's own params cannot be found."""
    try:
        config = json.loads(model.save_config())
    except Exception:  # noqa: BLE001 - xgb.cv's packed boosters have no single configuration
        return {}
    out: dict[str, Any] = {}

    def walk(node: Any, section: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and section.endswith("_param"):
                    out.setdefault(key, _value(value))
                else:
                    walk(value, key)
        elif isinstance(node, list):
            for item in node:
                walk(item, section)

    walk(config.get("learner", {}), "learner")
    objective = config.get("learner", {}).get("objective", {}).get("name")
    if isinstance(objective, str):
        out["objective"] = objective
    return out


class TmtCallback(TrainingCallback):
    """Records a training into the active run (or a new one named after the script)."""

    def __init__(self, name: str | None = None, *, tags: Iterable[str] = (),
                 params: Mapping[str, Any] | None = None, checkpoints: bool = False) -> None:
        super().__init__()
        self.tmt = AdapterRun(name, tags=tags, params=params, checkpoints=checkpoints, rank=_rank)

    def before_training(self, model: Any) -> Any:
        params = given_params()
        if params is None:
            params = booster_params(model)
        params.update(self.tmt.params)  # the adapter's own params win
        self.tmt.log_params(params)
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: Mapping[str, Any]) -> bool:
        values = {}
        for data, metrics in evals_log.items():
            for metric, history in metrics.items():
                if history:
                    values[f"{data}-{metric}"] = history[-1]
        self.tmt.log(values, step=epoch)
        return False

    def after_training(self, model: Any) -> Any:
        if self.tmt.checkpoints and isinstance(model, xgboost.Booster) and self.tmt.writes:
            self.tmt.save_with(model.save_model, "model", ".ubj")
        self.tmt.end()
        return model
