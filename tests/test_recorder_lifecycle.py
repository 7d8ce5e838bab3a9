"""A run's lifecycle outside the snapshot: what a run loads, the times and error types it records."""
from __future__ import annotations

import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files
from tmt.recorder.outcome import error_info, now_iso
from tmt.recorder.sigterm import Terminated

RUN = """\
import sys, tmt
@tmt.recorder(name="r")
def train():
    {body}
    return {{"f1": 0.5}}
train()
print(sorted(m for m in ("tmt.records.series", "numbers") if m in sys.modules))
"""


def _run(project: Path, python: str, body: str) -> str:
    (project / "train.py").write_text(RUN.format(body=body))
    proc = subprocess.run([python, "train.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_a_run_that_logs_no_steps_never_loads_the_series_codec(project: Path, python: str) -> None:
    assert _run(project, python, "pass") == "[]"
    (rec,) = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    assert rec.status == "completed" and rec.metrics == {"f1": 0.5} and rec.series == {}
    # tmt's own dependencies, loaded by tmt during the run, are not the program's packages
    assert not {"blake3", "msgpack"} & set(rec.env["packages"]), rec.env["packages"]


def test_a_run_that_logs_steps_packs_them(project: Path, python: str) -> None:
    assert _run(project, python, 'tmt.log({"loss": 0.25}, step=0)') == "['tmt.records.series']"
    (rec,) = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    assert list(rec.series) == ["loss"] and rec.series_summary["loss"]["last"] == 0.25


@pytest.mark.parametrize("zone", ["UTC", "America/St_Johns", "Asia/Kathmandu", "Europe/Berlin"])
def test_run_times_are_local_time_with_its_offset_to_the_microsecond(zone: str, monkeypatch) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        text = now_iso()
        now = datetime.now().astimezone()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d", text), text
    parsed = datetime.fromisoformat(text)
    assert parsed.utcoffset() == now.utcoffset()
    assert abs((now - parsed).total_seconds()) < 5


def test_a_sigterm_is_recorded_under_the_same_error_type_as_before() -> None:
    # error.type is stored in records; queries on it must match old and new runs alike
    assert error_info(Terminated(143), None)["type"] == "tmt.recorder.run.Terminated"
