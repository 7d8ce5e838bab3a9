"""tmt.integrations.keras.TmtCallback with a real Keras fit on CPU (the torch backend)."""
from __future__ import annotations

from pathlib import Path

import tmt
from fw_helpers import records, train

TRAIN = """
    import sys
    import numpy as np
    import keras
    from tmt.integrations.keras import TmtCallback

    keras.utils.set_random_seed(0)
    x = np.random.rand(64, 3).astype("float32"); y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")

    class Diverge(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if "fail" in sys.argv and epoch == 1:
                raise FloatingPointError("diverged")

    model.fit(x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0,
              callbacks=[TmtCallback(checkpoints=True, params={"data": {"rows": 64}}), Diverge()])
"""


def test_epochs_become_series_and_settings_become_params(project: Path) -> None:
    train(project, TRAIN)
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "completed")
    assert rec.params["epochs"] == 3 and rec.params["data.rows"] == 64
    assert rec.params["optimizer.name"] == "sgd"
    assert abs(rec.params["optimizer.learning_rate"] - 0.1) < 1e-6
    run = tmt.get("last")
    assert sorted(rec.series) == ["loss", "val_loss"]
    loss = run.series("loss")
    assert loss.steps == [0, 1, 2] and loss.values[-1] < loss.values[0]
    assert list(run.artifacts) == ["checkpoint-epoch=0", "checkpoint-epoch=1", "checkpoint-epoch=2"]
    import keras

    model = keras.saving.load_model(run.artifacts["checkpoint-epoch=2"].path)
    assert model.count_params() == 4


def test_a_failing_fit_is_recorded_as_failed(project: Path) -> None:
    proc = train(project, TRAIN, "fail", code=1)
    assert "FloatingPointError: diverged" in proc.stderr
    (rec,) = records(project)
    assert rec.status == "failed" and rec.error["type"] == "FloatingPointError"
    assert tmt.get("last").series("loss").steps == [0, 1]
