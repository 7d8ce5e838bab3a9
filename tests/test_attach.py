"""Processes that attach to a `tmt run` through TMT_RUN_ID: the protocol of
tmt/recorder/attach.py with real processes (late arrivals, gc beside them, stale ids)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files
from tmt.records.model import Record

# Real `tmt run` processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

TMT = [sys.executable, "-c", "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; main()"]


def cli(*args: str, cwd: Path, code: int = 0, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([*TMT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kw)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def records(project: Path) -> list[Record]:
    recs = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    return sorted(recs, key=lambda r: r.created_at)


def test_a_process_that_logs_after_the_run_ended_is_told_so(project: Path) -> None:
    (project / "late.py").write_text(textwrap.dedent("""
        import json, os, sys, time, tmt
        run_id = os.environ["TMT_RUN_ID"]
        record = os.path.join(os.environ["TMT_DIR"], "experiments", run_id + ".json")
        tmt.log({"early": 1.0})  # attaches while the run is live
        print("attached", flush=True)
        sys.stdout.close()
        deadline = time.time() + 60
        while json.load(open(record))["status"] == "running" and time.time() < deadline:
            time.sleep(0.02)
        try:
            tmt.log({"late": 2.0})
        except tmt.errors.RecordingError as e:
            open("late.txt", "w").write(e.message + "\\n" + e.hint)
    """))
    (project / "launch.py").write_text(textwrap.dedent("""
        import subprocess, sys
        late = subprocess.Popen([sys.executable, "late.py"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        assert late.stdout.readline() == b"attached\\n"  # then leave it behind
    """))
    cli("run", "--", sys.executable, "launch.py", cwd=project)
    (rec,) = records(project)
    late = project / "late.txt"
    for _ in range(3000):  # the process left behind finishes on its own; bound the wait
        if late.exists() and late.read_text():
            break
        time.sleep(0.02)
    message, hint = late.read_text().split("\n")
    assert message == f"run {rec.id[:8]} has ended; tmt.log() came too late to be recorded"
    assert hint == "a process started by `tmt run` must log and save before the command exits"
    assert rec.status == "completed"


@pytest.mark.slow
def test_gc_beside_an_attached_save_keeps_the_object(project: Path) -> None:
    (project / "saver.py").write_text(textwrap.dedent("""
        import sys, tmt
        tmt.save(list(range(1000)), name="big", format="json")
        print("saved", flush=True)
        sys.stdin.readline()  # until the test has run gc
        tmt.log({"after_gc": 1.0})
    """))
    proc = subprocess.Popen([*TMT, "run", "--", sys.executable, "saver.py"], cwd=project,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "saved\n", proc.stderr.read()
    cli("gc", "--grace", "0", cwd=project)
    proc.stdin.write("go\n")
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    cli("fsck", cwd=project)
    import tmt

    run = tmt.get("saver", repo=project)
    assert run.artifacts["big"].load() == list(range(1000))
    assert run.series_names == ["after_gc"]


def test_a_stale_run_id_warns_once_and_records_on_its_own(project: Path) -> None:
    cli("run", "--", "true", cwd=project)
    (old,) = records(project)
    env = {**os.environ, "TMT_RUN_ID": old.id}
    script = "import tmt\nfor i in range(2):\n    with tmt.start_run(name='own') as run:\n        run.log({'x': i})\n"
    proc = subprocess.run([sys.executable, "-c", script], cwd=project, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == (f"tmt: warning: TMT_RUN_ID={old.id} names no live `tmt run` in {project / '.tmt'}; "
                           "this process records its runs on its own\n")
    assert [r.name for r in records(project)] == ["true", "own", "own"]


def test_tmt_run_inside_tmt_run_records_a_child_run(project: Path) -> None:
    cli("run", "-n", "outer", "--", *TMT, "run", "-n", "inner", "--", "sh", "-c", "echo f1=1", cwd=project)
    outer, inner = records(project)
    assert (outer.name, inner.name, inner.parent) == ("outer", "inner", outer.id)
    assert inner.metrics == {"f1": 1}
