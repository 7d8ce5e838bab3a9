"""tmt.integrations.xgboost.TmtCallback with real XGBoost training on CPU."""
from __future__ import annotations

from pathlib import Path

import tmt

from fw_helpers import records, train

TRAIN = """
    import sys
    import numpy as np
    import xgboost as xgb
    from tmt.integrations.xgboost import TmtCallback

    rng = np.random.default_rng(0)
    X = rng.random((200, 4)); y = X @ [1.0, -2.0, 0.5, 0.0]
    dtrain = xgb.DMatrix(X[:150], label=y[:150]); dval = xgb.DMatrix(X[150:], label=y[150:])
    params = {"max_depth": 2, "eta": 0.3, "objective": "reg:squarederror", "nthread": 1}
    fail = "fail" in sys.argv

    class Diverge(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            if fail and epoch == 2:
                raise FloatingPointError("diverged")
            return False

    if "sklearn" in sys.argv:
        model = xgb.XGBRegressor(n_estimators=4, max_depth=3, learning_rate=0.5, n_jobs=1,
                                 callbacks=[TmtCallback()])
        model.fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])], verbose=False)
    else:
        xgb.train(params, dtrain, num_boost_round=5, evals=[(dtrain, "train"), (dval, "val")],
                  callbacks=[TmtCallback(checkpoints=True, params={"data": {"rows": 200}}), Diverge()],
                  verbose_eval=False)
"""


def test_rounds_become_series_and_the_given_params_become_params(project: Path) -> None:
    train(project, TRAIN)
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "completed")
    assert rec.params == {"max_depth": 2, "eta": 0.3, "objective": "reg:squarederror", "nthread": 1,
                          "num_boost_round": 5, "data.rows": 200}
    run = tmt.get("last")
    assert sorted(rec.series) == ["train-rmse", "val-rmse"]
    val = run.series("val-rmse")
    assert val.steps == [0, 1, 2, 3, 4]
    assert val.values[-1] < val.values[0]
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(run.artifacts["model"].path))
    assert booster.num_boosted_rounds() == 5


def test_a_failing_training_is_recorded_as_failed(project: Path) -> None:
    proc = train(project, TRAIN, "fail", code=1)
    assert "FloatingPointError: diverged" in proc.stderr
    (rec,) = records(project)
    assert rec.status == "failed" and rec.error["type"] == "FloatingPointError"
    assert tmt.get("last").series("val-rmse").steps == [0, 1, 2]  # logged before Diverge raised


def test_under_tmt_run_it_attaches_to_that_run(project: Path) -> None:
    train(project, TRAIN, tmt_run=True)
    (rec,) = records(project)
    assert rec.status == "completed" and rec.params["max_depth"] == 2
    assert tmt.get("last").series("train-rmse").steps == [0, 1, 2, 3, 4]
    assert "model" in tmt.get("last").artifacts


def test_the_scikit_learn_api_records_the_estimator_params(project: Path) -> None:
    train(project, TRAIN, "sklearn")
    (rec,) = records(project)
    assert rec.status == "completed"
    assert (rec.params["max_depth"], rec.params["learning_rate"], rec.params["num_boost_round"]) == (3, 0.5, 4)
    assert tmt.get("last").series("validation_0-rmse").steps == [0, 1, 2, 3]


def test_without_the_call_params_come_from_the_booster_config() -> None:
    import numpy as np
    import xgboost as xgb
    from tmt.integrations.xgboost import booster_params

    booster = xgb.train({"max_depth": 2, "eta": 0.3}, xgb.DMatrix(np.random.rand(20, 2), label=np.random.rand(20)), 2)
    params = booster_params(booster)
    assert (params["max_depth"], params["eta"], params["objective"]) == (2, 0.3, "reg:squarederror")
