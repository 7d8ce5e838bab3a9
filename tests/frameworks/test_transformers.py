"""tmt.integrations.transformers.TmtCallback with a real Trainer and a tiny model built in
the test (nothing downloaded)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import tmt
from fw_helpers import records, train

TRAIN = """
    import sys
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainerCallback, TrainingArguments
    from tmt.integrations.transformers import TmtCallback

    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)

    class Tokens(torch.utils.data.Dataset):
        def __init__(self, n):
            self.x = torch.randint(1, 40, (n, 8))
        def __len__(self):
            return len(self.x)
        def __getitem__(self, i):
            return {"input_ids": self.x[i], "attention_mask": torch.ones(8, dtype=torch.long),
                    "labels": int(self.x[i, 0] > 20)}

    class Diverge(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if "fail" in sys.argv and state.global_step == 3:
                raise FloatingPointError("diverged")

    args = TrainingArguments(output_dir="out", max_steps=6, learning_rate=5e-3, per_device_train_batch_size=4,
                             logging_steps=1, eval_strategy="steps", eval_steps=3, save_steps=3,
                             report_to="none", use_cpu=True, disable_tqdm=True, seed=0)
    trainer = Trainer(model=model, args=args, train_dataset=Tokens(32), eval_dataset=Tokens(8),
                      callbacks=[TmtCallback(checkpoints=True, params={"data": {"rows": 32}}), Diverge()])
    trainer.train()
"""


def test_training_records_arguments_logs_and_checkpoints(project: Path) -> None:
    train(project, TRAIN)
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "completed")
    assert rec.params["learning_rate"] == 5e-3 and rec.params["max_steps"] == 6
    assert rec.params["model.hidden_size"] == 16 and rec.params["data.rows"] == 32
    assert "adam_beta1" not in rec.params  # a default left as it was
    run = tmt.get("last")
    assert run.series("loss").steps == [1, 2, 3, 4, 5, 6]
    assert run.series("eval_loss").steps == [3, 6]
    assert "train_runtime" in rec.metrics and "train_loss" in rec.metrics
    assert [a for a in run.artifacts] == ["checkpoint-3", "checkpoint-6"]
    with tarfile.open(fileobj=io.BytesIO(run.artifacts["checkpoint-6"].path.read_bytes())) as tar:
        names = tar.getnames()
    assert "checkpoint-6/model.safetensors" in names and "checkpoint-6/trainer_state.json" in names


def test_a_failing_training_is_recorded_as_failed(project: Path) -> None:
    proc = train(project, TRAIN, "fail", code=1)
    assert "FloatingPointError: diverged" in proc.stderr
    (rec,) = records(project)
    assert rec.status == "failed" and rec.error["type"] == "FloatingPointError"
    assert tmt.get("last").series("loss").steps == [1, 2]
