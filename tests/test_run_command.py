"""`tmt run -- CMD` with real processes: argparse, click and shell commands, statuses and
exit codes, forwarded signals, a real pseudo-terminal, processes that attach to the run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files
from tmt.records.model import Record
from tmt.records.series import load_series
from tmt.repo import Repo

# Real `tmt run` processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

TMT = [sys.executable, "-c", "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; main()"]


def cli(*args: str, cwd: Path, check: bool = True, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([*TMT, *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kw)
    if check:
        assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def write(project: Path, name: str, body: str) -> Path:
    path = project / name
    path.write_text(textwrap.dedent(body))
    return path


def records(project: Path) -> list[Record]:
    recs = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    return sorted(recs, key=lambda r: r.created_at)


def last(project: Path) -> Record:
    return records(project)[-1]


def output_of(project: Path, rec: Record) -> str:
    return cli("show", rec.id, "--output", cwd=project).stdout


@pytest.fixture
def git_project(project: Path) -> Path:
    """A project as people have them: a git work tree with its own ignore rules, data/ ignored."""
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".gitignore").write_text("data/\nresults/\n")
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("x,y\n1,2\n")
    return project


ARGPARSE = """
    import argparse, pathlib
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--model", default="linear")
    p.add_argument("--data", type=pathlib.Path, default=pathlib.Path("data/train.csv"))
    a = p.parse_args()
    for epoch in range(a.epochs):
        print(f"epoch {epoch} loss={1 / (epoch + 1):.4f}")
    print(f"f1: {0.5 + a.lr}")
"""


@pytest.mark.slow
def test_argparse_script_records_parsed_params_metrics_series_and_output(git_project: Path) -> None:
    write(git_project, "train.py", ARGPARSE)
    proc = cli("run", "--", sys.executable, "train.py", "--lr", "0.25", cwd=git_project)
    assert proc.stdout.splitlines() == ["epoch 0 loss=1.0000", "epoch 1 loss=0.5000", "epoch 2 loss=0.3333", "f1: 0.75"]
    rec = last(git_project)
    assert (rec.name, rec.status, rec.error) == ("train", "completed", None)
    # what argparse parsed, defaults and types included, not the strings of argv
    assert rec.params == {"lr": 0.25, "epochs": 3, "model": "linear", "data": "data/train.csv"}
    assert rec.metrics == {"f1": 0.75, "loss": 0.3333}
    loss = load_series(Repo(git_project / ".tmt"), rec, "loss")
    assert (loss.steps, loss.values) == ([0, 1, 2], [1.0, 0.5, 0.3333])
    assert rec.env["argv"] == [sys.executable, "train.py", "--lr", "0.25"]
    assert rec.env["tmt_run"] == {"param": {}, "metrics_file": [], "no_scalars": False}
    assert rec.code["files"] == 2  # train.py and .gitignore: data/ is ignored
    assert [a["name"] for a in rec.artifacts] == ["output"]
    assert output_of(git_project, rec) == proc.stdout
    assert f"run {rec.id[:8]} (train) completed" in proc.stderr


def test_click_command_records_parsed_params(project: Path) -> None:
    write(project, "cli.py", """
        import click

        @click.command()
        @click.option("--lr", type=float, default=0.1)
        @click.option("--layers", type=int, default=2)
        @click.argument("data", default="train.csv")
        def main(lr, layers, data):
            print(f"acc={lr * layers}")

        main()
    """)
    cli("run", "--", sys.executable, "cli.py", "--lr", "0.3", cwd=project)
    rec = last(project)
    assert rec.params == {"lr": 0.3, "layers": 2, "data": "train.csv"}
    assert rec.metrics == {"acc": 0.6}


def test_shell_command_params_from_argv_and_overrides(project: Path) -> None:
    write(project, "run.sh", 'echo "step 1 loss=0.5"\necho "step 2 loss=0.25"\necho "acc: 0.9"\n')
    proc = cli("run", "-n", "sh", "-t", "a", "-t", "b", "--param", "dataset=v2", "--",
               "sh", "run.sh", "--batch-size", "32", "--fast", "optimizer.lr=0.1", cwd=project)
    assert "acc: 0.9" in proc.stdout
    rec = last(project)
    assert (rec.name, rec.tags) == ("sh", ["a", "b"])
    assert rec.params == {"batch_size": 32, "fast": True, "optimizer.lr": 0.1, "dataset": "v2"}
    assert rec.metrics == {"acc": 0.9, "loss": 0.25}
    loss = load_series(Repo(project / ".tmt"), rec, "loss")
    assert (loss.steps, loss.values) == ([1, 2], [0.5, 0.25])


@pytest.mark.slow
def test_progress_bars_are_saved_as_a_terminal_shows_them(project: Path) -> None:
    write(project, "bar.py", r"""
        import sys
        for i in range(0, 101, 10):
            sys.stderr.write(f"\rtraining {i:3d}%|{'#' * (i // 10):<10}|")
            sys.stderr.flush()
        sys.stderr.write("\n")
        print("\x1b[32mdone\x1b[0m loss=0.125")
    """)
    proc = subprocess.run([*TMT, "run", "--", sys.executable, "bar.py"], cwd=project, capture_output=True)
    assert b"\rtraining  10%|#         |\r" in proc.stderr  # shown live, as written
    rec = last(project)
    assert output_of(project, rec) == "training 100%|##########|\ndone loss=0.125\n"
    assert rec.metrics == {"loss": 0.125}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("script", "status", "code", "message"),
    [
        ("exit 0", "completed", 0, None),
        ("exit 3", "failed", 3, "exit status 3"),
        ("exit 137", "failed", 137, "exit status 137"),
        ("kill -9 $$", "crashed", 137, "killed by SIGKILL"),
    ],
)
def test_exit_status_gives_the_run_status_and_tmt_exits_with_it(project: Path, script, status, code, message) -> None:
    proc = cli("run", "--", "sh", "-c", f"echo started; {script}", cwd=project, check=False)
    assert proc.returncode == code
    rec = last(project)
    assert rec.status == status
    assert (rec.error or {}).get("message") == message
    assert rec.finished_at is not None
    assert output_of(project, rec) == "started\n"


def test_python_traceback_of_a_failed_command_is_recorded(project: Path) -> None:
    write(project, "boom.py", "def f():\n    raise ValueError('bad input')\nf()\n")
    proc = cli("run", "--", sys.executable, "boom.py", cwd=project, check=False)
    assert proc.returncode == 1
    rec = last(project)
    assert rec.error["message"] == "exit status 1"
    assert rec.error["traceback"].startswith("Traceback (most recent call last):")
    assert rec.error["traceback"].rstrip().endswith("ValueError: bad input")


SLOW = """
    import sys, time
    for step in range(3):
        print(f"step {step} loss={1 / (step + 1)}", flush=True)
    print("ready", flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_is_forwarded_and_the_run_is_interrupted_with_its_steps(project: Path, sig, code) -> None:
    write(project, "slow.py", SLOW)
    proc = subprocess.Popen([*TMT, "run", "--", sys.executable, "slow.py"], cwd=project,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while (line := proc.stdout.readline()) not in ("ready\n", ""):
        lines.append(line)
    assert line == "ready\n", proc.stderr.read()
    os.kill(proc.pid, sig)
    assert proc.wait(timeout=60) == code
    rec = last(project)
    assert rec.status == "interrupted"
    assert rec.error["message"] == f"killed by {signal.Signals(sig).name}"
    loss = load_series(Repo(project / ".tmt"), rec, "loss")
    assert loss.steps == [0, 1, 2]
    assert not list((project / ".tmt" / "journal").iterdir())  # packed, channel closed


@pytest.mark.slow
def test_output_through_a_real_pseudo_terminal_keeps_colours(project: Path) -> None:
    import pty
    import select

    write(project, "color.py", """
        import sys
        print("tty" if sys.stdout.isatty() else "pipe", flush=True)
        print("\\x1b[31mf1: 0.5\\x1b[0m", flush=True)
    """)
    master, slave = pty.openpty()
    proc = subprocess.Popen([*TMT, "run", "--", sys.executable, "color.py"], cwd=project,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        assert ready, seen
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: every process holding the terminal has exited
            break
        if not data:
            break
        seen += data
    os.close(master)
    assert proc.wait(timeout=60) == 0
    assert b"tty\r\n\x1b[31mf1: 0.5\x1b[0m\r\n" in seen  # colours reach the terminal unchanged
    rec = last(project)
    assert output_of(project, rec) == "tty\nf1: 0.5\n"  # saved as text
    assert rec.metrics == {"f1": 0.5}


def test_child_tmt_log_save_and_decorated_function_attach_to_the_run(project: Path) -> None:
    write(project, "attached.py", """
        import os, sys
        import tmt

        tmt.log({"warmup": 1.0})

        @tmt.recorder(name="inner")
        def train(C=1.0, epochs=3):
            for epoch in range(epochs):
                tmt.log({"acc": 0.5 + epoch / 10}, step=epoch)
            tmt.save({"weights": [1, 2, 3]}, name="model", format="json")
            return {"f1": 0.77}

        train(C=float(sys.argv[1]))
        train(C=2.0)  # a second top-level run: recorded on its own, as a child
        run = tmt.active_run()  # outside any run of its own: the run TMT_RUN_ID names
        assert run.id == os.environ["TMT_RUN_ID"]
        run.metrics["extra"] = 5  # reported when the process exits
    """)
    cli("run", "-n", "outer", "--", sys.executable, "attached.py", "0.5", cwd=project)
    outer, inner = records(project)
    assert (outer.name, outer.status, inner.name, inner.parent) == ("outer", "completed", "inner", outer.id)
    assert outer.params == {"C": 0.5, "epochs": 3}
    assert outer.metrics == {"f1": 0.77, "extra": 5}
    assert sorted(outer.series) == ["acc", "warmup"]
    assert sorted(a["name"] for a in outer.artifacts) == ["model", "output"]
    from tmt import get

    run = get(outer.id, repo=project)
    assert run.artifacts["model"].load() == {"weights": [1, 2, 3]}
    assert list(run.series("acc").values) == [0.5, 0.6, 0.7]
    assert inner.params == {"C": 2.0, "epochs": 3}
    # the command's own Python reported what it imported (tmt run's imports say nothing of it)
    assert "ThatMetricTimeline" in outer.env["packages"] and "click" not in outer.env["packages"]
    assert not list((project / ".tmt" / "pins").glob("*.pin"))  # the shared pin file is gone too


@pytest.mark.slow
def test_metrics_file_written_by_the_command_and_no_scalars(project: Path) -> None:
    write(project, "writer.py", """
        import json
        print("loss=9.0")
        json.dump({"test": {"f1": 0.8}, "note": "text"}, open("metrics.json", "w"))
        with open("out.jsonl", "w") as f:
            for step in range(2):
                f.write(json.dumps({"step": step, "val": step / 2}) + "\\n")
    """)
    cli("run", "--no-scalars", "--", sys.executable, "writer.py", cwd=project)
    assert last(project).metrics == {"test.f1": 0.8}  # metrics.json, as it appeared; no output lines
    cli("run", "--metrics-file", "out.jsonl", "--", sys.executable, "writer.py", cwd=project)
    rec = last(project)
    assert rec.metrics == {"loss": 9.0, "val": 0.5}
    assert load_series(Repo(project / ".tmt"), rec, "val").values == [0.0, 0.5]


def test_a_stale_metrics_json_is_not_read(project: Path) -> None:
    (project / "metrics.json").write_text('{"old": 1}')
    cli("run", "--", "sh", "-c", "echo hi", cwd=project)
    assert last(project).metrics == {}


def test_a_command_that_does_not_exist_records_nothing(project: Path) -> None:
    Repo.init(project)
    proc = cli("run", "--", "no-such-program-here", cwd=project, check=False)
    assert proc.returncode == 127
    assert proc.stderr == ("Error: command not found: no-such-program-here\n"
                           "hint: check the spelling, or that it is on your PATH\n")
    assert records(project) == []


def test_show_output_of_a_run_without_one_says_so(project: Path, repo: Repo) -> None:
    from tmt import start_run

    with start_run(name="plain"):
        pass
    proc = subprocess.run([*TMT, "show", "plain", "--output"], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 1
    rid = last(project).id[:8]
    assert proc.stderr == (f"Error: run {rid} (plain) has no saved output\n"
                           "hint: runs recorded with `tmt run -- CMD` (or `tmt rerun`) save their command's output\n")


def test_tmt_show_json_of_a_command_run(project: Path) -> None:
    cli("run", "--", "sh", "-c", "echo f1=1", cwd=project)
    data = json.loads(cli("show", "last", "--json", cwd=project).stdout)
    assert data["status"] == "completed"
    assert data["metrics"] == {"f1": 1}


def test_crashed_is_a_status_runs_are_found_by(repo: Repo) -> None:
    import tmt
    from cli_helpers import make_run

    make_run(repo, 1, "killed", status="crashed", error={"type": "Signal", "message": "killed by SIGKILL"})
    make_run(repo, 2, "fine")
    assert [r.name for r in tmt.runs(status="crashed", repo=repo.tmt_dir)] == ["killed"]
    assert [r.name for r in tmt.runs(status="running", repo=repo.tmt_dir)] == []
    assert tmt.get("killed", repo=repo.tmt_dir).status == "crashed"


def test_import_tmt_loads_no_runner(project: Path) -> None:
    code = ("import sys, tmt\n"
            "with tmt.start_run(name='x'):\n    tmt.log({'a': 1})\n"
            "print(sorted(m for m in sys.modules if m.startswith('tmt.runner') or m == 'tmt.recorder.attach'))")
    out = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    assert out.stdout == "[]\n"
