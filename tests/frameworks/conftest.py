"""Tests with the real frameworks on CPU (torch, lightning, transformers, keras, xgboost,
lightgbm): collected only when TMT_FRAMEWORK_TESTS=1, as `scripts/test-frameworks` sets
after installing the `[frameworks]` extra. There a missing framework fails, never skips."""
from __future__ import annotations

import os

import pytest

from tmt.integrations.core import RANK_VARS

if os.environ.get("TMT_FRAMEWORK_TESTS") != "1":
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(autouse=True)
def cpu_only(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in RANK_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two cores, shared: no oversubscription
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a tiny model built in the test: nothing to download
