"""The complete example of each framework in docs/integrations.md runs as written, and
records a completed run with params and series."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import tmt
from fw_helpers import records, train

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
SECTIONS = ["PyTorch Lightning", "Hugging Face Transformers", "Keras", "XGBoost", "LightGBM"]


def example(section: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", body, re.S)
    return code


@pytest.mark.parametrize("section", SECTIONS)
def test_the_documented_example_records_a_run(project: Path, section: str) -> None:
    train(project, example(section))
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "completed")
    assert rec.params and rec.series
    run = tmt.get("last")
    assert all(len(run.series(name).values) >= 1 for name in rec.series)
