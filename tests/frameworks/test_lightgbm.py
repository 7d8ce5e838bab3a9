"""tmt.integrations.lightgbm.tmt_callback with real LightGBM training on CPU."""
from __future__ import annotations

from pathlib import Path

import tmt
from fw_helpers import records, train

TRAIN = """
    import sys
    import numpy as np
    import lightgbm as lgb
    from tmt.integrations.lightgbm import tmt_callback

    rng = np.random.default_rng(0)
    X = rng.random((300, 4)); y = X @ [1.0, -2.0, 0.5, 0.0]
    dtrain = lgb.Dataset(X[:200], label=y[:200]); dval = lgb.Dataset(X[200:], label=y[200:], reference=dtrain)
    params = {"objective": "regression", "learning_rate": 0.2, "num_leaves": 7, "verbose": -1,
              "num_threads": 1}
    callbacks = [tmt_callback(checkpoints=True, params={"data": {"rows": 300}})]
    if "early" in sys.argv:
        callbacks.append(lgb.early_stopping(1, verbose=False))
        y[200:] = rng.random(100)  # a validation set it cannot learn: stops early
        dval = lgb.Dataset(X[200:], label=y[200:], reference=dtrain)
    lgb.train(params, dtrain, num_boost_round=6, valid_sets=[dtrain, dval], valid_names=["train", "val"],
              callbacks=callbacks)
    print("trained", flush=True)
"""


def test_iterations_become_series_and_params_become_params(project: Path) -> None:
    train(project, TRAIN)
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "completed")
    assert rec.params["learning_rate"] == 0.2 and rec.params["num_leaves"] == 7
    assert rec.params["data.rows"] == 300
    run = tmt.get("last")
    assert sorted(rec.series) == ["train-l2", "val-l2"]
    assert run.series("val-l2").steps == [0, 1, 2, 3, 4, 5]
    train_l2 = run.series("train-l2").values
    assert train_l2[-1] < train_l2[0]
    import lightgbm as lgb

    assert lgb.Booster(model_str=run.artifacts["model"].load()).num_trees() == 6


def test_early_stopping_still_ends_the_run(project: Path) -> None:
    train(project, TRAIN, "early")
    (rec,) = records(project)
    assert rec.status == "completed"
    steps = tmt.get("last").series("val-l2").steps
    assert 1 <= len(steps) < 6 and steps == list(range(len(steps)))
