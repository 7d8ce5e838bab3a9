"""What a run returns never fails it: numbers are metrics, None is no metric, the rest outputs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import tmt
from tmt.errors import MetricTypeError
from tmt.records.io import read_record, record_files


def only(project: Path):
    (path,) = list(record_files(project / ".tmt" / "experiments"))
    return read_record(path), json.loads(path.read_text())


def test_strings_lists_and_dicts_go_to_outputs_with_one_warning(project: Path, capsys) -> None:
    @tmt.recorder(name="clf")
    def train():
        return {"f1": np.float64(0.91), "best": None, "label": "cat", "classes": ["a", "b"],
                "cm": {"a": [5, 1], "b": [0, 4]}, "weights": np.array([0.5, 0.25]), "nan": math.nan}

    assert train()["label"] == "cat"  # the function's own return value is untouched
    rec, raw = only(project)
    assert rec.status == "completed" and rec.error is None
    assert rec.metrics.keys() == {"f1", "nan"} and rec.metrics["f1"] == 0.91 and math.isnan(rec.metrics["nan"])
    assert raw["outputs"] == {"label": "cat", "classes": ["a", "b"], "cm": {"a": [5, 1], "b": [0, 4]},
                              "weights": "array([0.5 , 0.25])"}
    assert list(raw)[-1] == "outputs"  # an optional field, after the format-1 keys
    err = capsys.readouterr().err
    assert err == ("tmt: warning: run 'clf': 'label', 'classes', 'cm', 'weights' are not numbers: kept in the "
                   "record's outputs (see `tmt show`), not as metrics\n")


def test_one_odd_value_and_the_context_form(project: Path, capsys) -> None:
    with tmt.start_run(name="ctx") as run:
        run.metrics["f1"] = 0.5
        run.metrics["note"] = "lr too high"
        run.metrics["skipped"] = None
    rec, raw = only(project)
    assert (rec.status, rec.metrics, raw["outputs"]) == ("completed", {"f1": 0.5}, {"note": "lr too high"})
    assert capsys.readouterr().err == ("tmt: warning: run 'ctx': 'note' is not a number: kept in the record's "
                                       "outputs (see `tmt show`), not as a metric\n")


def test_only_numbers_returned_means_no_outputs_key_and_no_warning(project: Path, capsys) -> None:
    tmt.recorder(name="plain")(lambda: {"f1": 1, "missing": None})()
    rec, raw = only(project)
    assert rec.metrics == {"f1": 1} and "outputs" not in raw and rec.outputs == {}
    assert capsys.readouterr().err == ""


def test_a_failed_run_keeps_its_outputs_and_its_own_error(project: Path, capsys) -> None:
    with pytest.raises(ValueError):
        with tmt.start_run(name="boom") as run:
            run.metrics.update({"f1": 0.2, "stage": "eval"})
            raise ValueError("diverged")
    rec, raw = only(project)
    assert rec.status == "failed" and rec.error["message"] == "diverged"
    assert rec.metrics == {"f1": 0.2} and raw["outputs"] == {"stage": "eval"}


def test_log_still_insists_on_numbers(project: Path) -> None:
    with tmt.start_run(name="strict"):
        with pytest.raises(MetricTypeError) as info:
            tmt.log({"label": "cat"})
    assert info.value.message == "logged metric 'label' must be a number, got str 'cat'"
