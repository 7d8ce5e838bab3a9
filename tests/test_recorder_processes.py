"""Recording with real processes: SIGKILL, failure, Ctrl-C, nesting, concurrent writers."""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files
from tmt.records.model import Record, effective_status
from tmt.records.series import journal_path, load_series, read_journal
from tmt.repo import Repo

# Real recording processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow


def write_script(project: Path, name: str, body: str) -> Path:
    path = project / name
    path.write_text(textwrap.dedent(body))
    return path


def records(project: Path) -> list[Record]:
    recs = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    return sorted(recs, key=lambda r: r.created_at)


def start(python: str, script: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [python, script.name, *args], cwd=script.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_ready(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()
    assert line == "ready\n", (line, proc.stderr.read() if proc.poll() is not None else "")


def test_sigkill_mid_run_keeps_record_code_and_steps(project: Path, python: str) -> None:
    script = write_script(
        project,
        "train.py",
        """
        import time, tmt

        @tmt.recorder(name="long")
        def train(epochs=100):
            for epoch in range(5):
                tmt.log({"loss": 1.0 / (epoch + 1)}, step=epoch)
            tmt.save([1, 2, 3], name="checkpoint")
            print("ready", flush=True)
            time.sleep(60)

        train()
        """,
    )
    proc = start(python, script)
    wait_ready(proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    (rec,) = records(project)
    assert rec.status == "running" and effective_status(rec) == "crashed"
    assert rec.env["pid"] == proc.pid and rec.params == {"epochs": 100}
    repo = Repo(project / ".tmt")
    assert repo.store.has(rec.code["tree"])
    loss = read_journal(repo.tmt_dir, rec.id)["loss"]
    assert loss.steps == [0, 1, 2, 3, 4] and loss.values == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    assert load_series(repo, rec, "loss") == loss
    (art,) = rec.artifacts  # saved before the kill: the record already lists it
    assert art["name"] == "checkpoint" and repo.store.has(art["object"])


def test_failure_in_a_child_process(project: Path, python: str) -> None:
    script = write_script(
        project,
        "fail.py",
        """
        import tmt

        @tmt.recorder(name="fails", save_on_exception=True)
        def run():
            tmt.log({"loss": 2.0})
            raise RuntimeError("diverged")

        run()
        """,
    )
    proc = subprocess.run([python, script.name], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.rstrip().endswith("RuntimeError: diverged")
    (rec,) = records(project)
    assert rec.status == "failed" and effective_status(rec) == "failed"
    assert rec.error["type"] == "RuntimeError" and rec.error["message"] == "diverged"
    assert 'File "fail.py", line 7, in run' in rec.error["traceback"]
    assert load_series(Repo(project / ".tmt"), rec, "loss").values == [2.0]
    assert not journal_path(project / ".tmt", rec.id).exists()
    assert os.listdir(project / ".tmt" / "pins") == []


def test_ctrl_c_records_interrupted(project: Path, python: str) -> None:
    script = write_script(
        project,
        "loop.py",
        """
        import time, tmt

        with tmt.start_run(name="loop") as run:
            run.log({"x": 1.0})
            print("ready", flush=True)
            while True:
                time.sleep(0.05)
        """,
    )
    proc = start(python, script)
    wait_ready(proc)
    os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    (rec,) = records(project)
    assert rec.status == "interrupted" and rec.error["type"] == "KeyboardInterrupt"
    assert list(rec.series) == ["x"]


def test_sigterm_records_interrupted_and_exits_143(project: Path, python: str) -> None:
    """A cluster's time limit sends SIGTERM: the run is recorded, not left as crashed."""
    script = write_script(
        project,
        "job.py",
        """
        import time, tmt

        @tmt.recorder(name="job")
        def train():
            tmt.log({"loss": 0.5}, step=0)
            print("ready", flush=True)
            time.sleep(60)

        train()
        """,
    )
    proc = start(python, script)
    wait_ready(proc)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143
    (rec,) = records(project)
    assert rec.status == "interrupted" and rec.error["type"].endswith("Terminated")
    assert rec.error["message"] == "terminated by SIGTERM"
    assert load_series(Repo(project / ".tmt"), rec, "loss").values == [0.5]


def test_sigterm_handler_of_the_program_is_left_alone(project: Path, python: str) -> None:
    script = write_script(
        project,
        "own.py",
        """
        import signal, sys, time, tmt

        signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))
        with tmt.start_run(name="own"):
            print("ready", flush=True)
            time.sleep(60)
        """,
    )
    proc = start(python, script)
    wait_ready(proc)
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 7
    (rec,) = records(project)
    assert rec.status == "failed"  # SystemExit(7): the program's own way out, a failure code


def test_nested_runs_in_a_child_process(project: Path, python: str) -> None:
    script = write_script(
        project,
        "sweep.py",
        """
        import tmt

        @tmt.recorder(name="fold")
        def fold(k):
            return {"score": k * 2}

        with tmt.start_run(name="cv") as run:
            run.metrics["mean"] = sum(fold(k)["score"] for k in range(3)) / 3
        """,
    )
    subprocess.run([python, script.name], cwd=project, check=True)
    recs = records(project)
    (cv,) = [r for r in recs if r.name == "cv"]
    folds = [r for r in recs if r.name == "fold"]
    assert [r.params["k"] for r in folds] == [0, 1, 2]
    assert {r.parent for r in folds} == {cv.id} and cv.parent is None
    assert cv.metrics == {"mean": 2.0} and all(r.status == "completed" for r in recs)


@pytest.mark.slow
def test_concurrent_processes_record_into_one_store(project: Path, python: str) -> None:
    (project / "lib").mkdir()
    for i in range(20):
        (project / "lib" / f"m{i}.py").write_text(f"X = {i}\n")
    script = write_script(
        project,
        "worker.py",
        """
        import sys, tmt

        @tmt.recorder(name="worker")
        def work(w, i):
            for step in range(20):
                tmt.log({"v": w * 1000 + i * 10 + step})
            tmt.save((w, i), name="out")
            return {"w": w, "i": i}

        for i in range(5):
            work(int(sys.argv[1]), i)
        """,
    )
    Repo.init(project)
    procs = [start(python, script, str(w)) for w in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    recs = records(project)
    assert len(recs) == 20 and len({r.id for r in recs}) == 20
    assert sorted((r.params["w"], r.params["i"]) for r in recs) == [(w, i) for w in range(4) for i in range(5)]
    repo = Repo(project / ".tmt")
    trees = {r.code["tree"] for r in recs}
    assert len(trees) == 1 and repo.store.has(trees.pop())
    for r in recs:
        assert r.status == "completed" and r.metrics == {"w": r.params["w"], "i": r.params["i"]}
        s = load_series(repo, r, "v")
        base = r.params["w"] * 1000 + r.params["i"] * 10
        assert s.values == [float(base + k) for k in range(20)] and s.steps == list(range(20))
        repo.store.get(r.artifacts[0]["object"], verify=True)
    assert os.listdir(project / ".tmt" / "pins") == []
    assert os.listdir(project / ".tmt" / "journal") == []
    assert os.listdir(project / ".tmt" / "tmp") == []


def test_tmt_recorder_works_after_importing_the_package_directly(project: Path, python: str) -> None:
    # Importing tmt.recorder (the package) binds the name tmt.recorder to it: it must stay callable.
    code = (
        "import tmt.recorder.run, tmt\n"
        "from tmt.recorder import flush\n"
        "@tmt.recorder(name='direct')\n"
        "def f():\n    return {'a': 1}\n"
        "f()\n"
        "tmt.recorder(lambda: None)()\n"
    )
    subprocess.run([python, "-c", code], cwd=project, check=True)
    assert [r.name for r in records(project)] == ["direct", "<lambda>"]
