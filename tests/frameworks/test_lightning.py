"""tmt.integrations.lightning.TmtLogger with a real Lightning Trainer on CPU."""
from __future__ import annotations

from pathlib import Path

import tmt
from fw_helpers import records, train

TRAIN = """
    import sys
    import torch
    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset
    from tmt.integrations.lightning import TmtLogger

    class Regressor(L.LightningModule):
        def __init__(self, lr=0.05, optim={"name": "sgd", "momentum": 0.5}):
            super().__init__()
            self.save_hyperparameters()
            self.layer = torch.nn.Linear(3, 1)

        def training_step(self, batch, i):
            if "fail" in sys.argv and self.global_step == 3:
                raise FloatingPointError("diverged")
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch, i):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def test_step(self, batch, i):
            x, y = batch
            self.log("test_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=self.hparams.optim["momentum"])

    torch.manual_seed(0)
    x = torch.randn(64, 3); y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    data = DataLoader(TensorDataset(x, y), batch_size=16)
    trainer = L.Trainer(max_epochs=2, logger=TmtLogger(checkpoints=True), log_every_n_steps=1,
                        accelerator="cpu", devices=1, enable_progress_bar=False, enable_model_summary=False)
    model = Regressor()
    trainer.fit(model, data, data)
    trainer.test(model, data, verbose=False)
"""


def test_fit_records_hyperparameters_steps_and_checkpoints(project: Path) -> None:
    train(project, TRAIN)
    fit, test = records(project)
    assert (fit.name, fit.status) == ("train", "completed")
    assert fit.params["lr"] == 0.05
    assert fit.params["optim.name"] == "sgd" and fit.params["optim.momentum"] == 0.5
    run = tmt.get(fit.id)
    train_loss = run.series("train_loss")
    assert train_loss.steps == list(range(8))  # 2 epochs of 4 batches, one point per step
    assert train_loss.values[-1] < train_loss.values[0]
    assert len(run.series("val_loss").values) == 2
    # every checkpoint ModelCheckpoint wrote (one per epoch), though it keeps only the last on disk
    assert [a for a in run.artifacts if a.startswith("checkpoint-")] == [
        "checkpoint-epoch=0-step=4", "checkpoint-epoch=1-step=8"]
    import torch

    state = torch.load(run.artifacts["checkpoint-epoch=1-step=8"].path, map_location="cpu", weights_only=False)
    assert state["global_step"] == 8
    # trainer.test() after fit: a run of its own, the fit's child
    assert (test.parent, test.status, test.name) == (fit.id, "completed", "train")
    assert "test_loss" in test.series and "train_loss" not in test.series


def test_a_failing_fit_is_recorded_as_failed_with_its_error(project: Path) -> None:
    proc = train(project, TRAIN, "fail", code=1)
    assert "FloatingPointError: diverged" in proc.stderr
    (rec,) = records(project)
    assert rec.status == "failed"
    assert rec.error["type"] == "FloatingPointError" and rec.error["message"] == "diverged"
    assert tmt.get("last").series("train_loss").steps == [0, 1, 2]


def test_under_tmt_run_it_attaches_to_that_run(project: Path) -> None:
    train(project, TRAIN, tmt_run=True)
    (rec,) = records(project)  # fit and test both write to the run `tmt run` owns
    assert rec.status == "completed" and rec.params["lr"] == 0.05
    assert {"train_loss", "val_loss", "test_loss"} <= set(rec.series)
