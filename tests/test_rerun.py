"""`tmt rerun REF` with real processes, and runs started inside views and rerun folders."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files
from tmt.records.model import Record
from tmt.repo import Repo

TMT = [sys.executable, "-c", "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; main()"]


def cli(*args: str, cwd: Path, code: int = 0) -> subprocess.CompletedProcess:
    proc = subprocess.run([*TMT, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def records(project: Path) -> list[Record]:
    recs = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    return sorted(recs, key=lambda r: r.created_at)


TRAIN_V1 = """
    import argparse
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--epochs", type=int, default=2)
    a = p.parse_args()
    print(f"f1: {a.lr * a.epochs}")
"""


@pytest.mark.slow
def test_rerun_of_an_old_run_after_the_code_changed_gives_its_result(project: Path) -> None:
    write(project, "train.py", TRAIN_V1)
    cli("run", "--", sys.executable, "train.py", "--lr", "0.25", cwd=project)
    (old,) = records(project)
    assert old.metrics == {"f1": 0.5}
    (project / "train.py").write_text("print('f1: 99')\n")  # the code moved on
    cli("run", "--", sys.executable, "train.py", cwd=project)

    proc = cli("rerun", old.id[:8], "--set", "lr=0.5", "--set", "epochs=3", cwd=project)
    new = records(project)[-1]
    assert new.metrics == {"f1": 1.5}  # old code; lr on its command line, epochs through argparse
    assert new.params == {"lr": 0.5, "epochs": 3}
    assert (new.parent, new.tags, new.name) == (old.id, ["rerun"], "train")
    assert new.env["argv"] == [sys.executable, "train.py", "--lr", "0.5"]
    assert new.code["tree"] == old.code["tree"]  # the rerun folder holds exactly REF's code
    folder = Path(proc.stderr.split("its code is in ")[1].splitlines()[0])
    assert folder.parent == project / ".tmt" / "cache" / "rerun"
    assert (folder / "train.py").read_text() == textwrap.dedent(TRAIN_V1)
    assert os.access(folder / "train.py", os.W_OK)  # writable copies, not the store's objects
    assert (project / "train.py").read_text() == "print('f1: 99')\n"  # the working tree untouched


@pytest.mark.slow
def test_rerun_of_a_decorated_run_runs_its_script_again(project: Path) -> None:
    write(project, "fit.py", """
        import sys
        import tmt

        @tmt.recorder(name="fit")
        def fit(C=1.0, penalty="l2"):
            for step in range(2):
                tmt.log({"loss": C / (step + 1)}, step=step)
            return {"score": C * 2}

        fit(C=float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
    """)
    subprocess.run([sys.executable, "fit.py", "0.5"], cwd=project, check=True)
    (old,) = records(project)
    cli("rerun", "fit", "--set", "penalty=l1", cwd=project)
    new = records(project)[-1]
    assert new.parent == old.id
    assert new.params == {"C": 0.5, "penalty": "l1"}  # --set reached the function's argument
    assert new.metrics == {"score": 1.0}
    assert sorted(new.series) == ["loss"]


DETERMINISTIC = """
    import math
    print(f"value: {math.sqrt(2)}")
    for step in range(3):
        print(f"step {step} loss={1 / (step + 1)}")
"""
CLOCK = """
    import time
    print(f"started: {time.time()}")
"""


@pytest.mark.slow
def test_verify_a_deterministic_script_is_reproduced(project: Path) -> None:
    write(project, "det.py", DETERMINISTIC)
    cli("run", "--", sys.executable, "det.py", cwd=project)
    proc = cli("rerun", "det", "--verify", cwd=project)
    ref = records(project)[0]
    assert proc.stdout.splitlines()[-1] == (
        f"reproduced: 2 metric(s) and 1 series agree with run {ref.id[:8]} (within 1e-12 relative)")


@pytest.mark.slow
def test_verify_a_script_that_reads_the_clock_differs(project: Path) -> None:
    write(project, "clock.py", CLOCK)
    cli("run", "--", sys.executable, "clock.py", cwd=project)
    ref = records(project)[0]
    proc = cli("rerun", "clock", "--verify", cwd=project, code=1)
    new = records(project)[-1]
    lines = proc.stdout.splitlines()
    assert lines[-2] == f"differs from run {ref.id[:8]}:"
    assert lines[-1] == f"  started  {ref.metrics['started']!r} -> {new.metrics['started']!r}"


@pytest.mark.slow
def test_rerun_set_of_a_param_the_run_does_not_have_is_refused(project: Path) -> None:
    write(project, "train.py", TRAIN_V1)
    cli("run", "--", sys.executable, "train.py", cwd=project)
    rid = records(project)[0].id[:8]
    proc = cli("rerun", "train", "--set", "lrr=1", cwd=project, code=2)
    assert proc.stderr == f"tmt: rerunning run train\nError: --set lrr: run {rid} (train) has no param 'lrr'\n" \
                          "hint: its params: epochs, lr\n"
    assert len(records(project)) == 1


@pytest.mark.slow
def test_rerun_in_a_chosen_folder(project: Path, tmp_path: Path) -> None:
    write(project, "train.py", TRAIN_V1)
    cli("run", "--", sys.executable, "train.py", cwd=project)
    where = tmp_path / "again"
    cli("rerun", "train", "--in", str(where), cwd=project)
    assert (where / "train.py").is_file()
    assert (where / ".tmt").read_text() == f"tmtdir: {project / '.tmt'}\n"
    new = records(project)[-1]
    assert new.code["root"] == os.path.relpath(where, project)


@pytest.mark.slow
def test_a_run_inside_a_view_records_into_the_store_it_came_from(project: Path, tmp_path: Path) -> None:
    write(project, "train.py", TRAIN_V1)
    cli("run", "--", sys.executable, "train.py", cwd=project)
    (old,) = records(project)
    view = tmp_path / "view"
    cli("checkout", old.id[:8], "-o", str(view), cwd=project)
    assert (view / ".tmt").read_text() == f"tmtdir: {project / '.tmt'}\n"
    cli("run", "--", sys.executable, "train.py", "--epochs", "4", cwd=view)
    assert not (view / ".tmt").is_dir()  # no new store in the view
    new = records(project)[-1]
    assert new.metrics == {"f1": 0.4}
    assert new.code["tree"] == old.code["tree"]  # the pointer file is in nobody's snapshot
    assert new.code["root"] == os.path.relpath(view, project)
    assert new.code["git"] is None
    ls = cli("ls", cwd=view).stdout  # queries from inside the view read the same store
    assert old.id[:8] in ls and new.id[:8] in ls


def test_a_decorated_run_inside_a_view_records_into_the_store_it_came_from(project: Path, tmp_path: Path) -> None:
    import tmt

    write(project, "job.py", "import tmt\nwith tmt.start_run(name='job') as run:\n    run.metrics['x'] = 1\n")
    subprocess.run([sys.executable, "job.py"], cwd=project, check=True)
    view = tmt.get("job", repo=project).checkout(tmp_path / "view")
    subprocess.run([sys.executable, "job.py"], cwd=view, check=True)
    first, second = records(project)
    assert second.code["root"] == os.path.relpath(view, project)
    assert second.code["tree"] == first.code["tree"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("tmtdir: /etc\n", "/etc is not a tmt store"),
        ("tmtdir: relative/nowhere\n", "{view}/relative/nowhere is not a tmt store"),
        ("gitdir: /x\n", "it does not hold one line `tmtdir: PATH`"),
    ],
)
def test_a_pointer_that_names_no_store_is_refused(tmp_path: Path, content: str, problem: str) -> None:
    view = tmp_path / "view"
    view.mkdir()
    (view / ".tmt").write_text(content)
    proc = cli("ls", cwd=view, code=1)
    assert proc.stderr == (
        f"Error: the .tmt file in {view} points at no store: {problem.format(view=view)}\n"
        "hint: it marks a view of a run's code; delete it to use this folder on its own (or run tmt elsewhere)\n")


def test_a_pointer_to_a_symlinked_objects_folder_is_refused(tmp_path: Path) -> None:
    real = Repo.init(tmp_path / "real")
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "objects").symlink_to(real.tmt_dir / "objects")
    (fake / "experiments").mkdir()
    view = tmp_path / "view"
    view.mkdir()
    (view / ".tmt").write_text(f"tmtdir: {fake}\n")
    proc = cli("ls", cwd=view, code=1)
    assert f"points at no store: {fake} is not a tmt store" in proc.stderr


def test_a_fifo_named_tmt_is_never_opened(tmp_path: Path) -> None:
    outer = Repo.init(tmp_path)
    view = tmp_path / "inner"
    view.mkdir()
    os.mkfifo(view / ".tmt")
    assert Repo.find(view).tmt_dir == outer.tmt_dir  # passed by, without blocking on it


@pytest.mark.slow
def test_rerun_links_data_the_snapshot_left_out(project: Path) -> None:
    (project / ".gitignore").write_text("data/\n")
    (project / "data").mkdir()
    (project / "data" / "train.csv").write_text("1\n2\n3\n")
    write(project, "count.py", "print(f\"rows: {len(open('data/train.csv').read().split())}\")\n")
    cli("run", "--", sys.executable, "count.py", cwd=project)
    (old,) = records(project)
    proc = cli("rerun", "count", cwd=project, code=1)  # the rerun folder has the code only
    assert ("tmt: warning: the rerun folder holds run " + old.id[:8] + "'s code only; its snapshot left out "
            "data/: if the command reads them, rerun with --link data\n") in proc.stderr
    cli("rerun", "count", "--link", "data", cwd=project)
    new = records(project)[-1]
    assert new.metrics == {"rows": 3}
    assert new.code["tree"] == old.code["tree"]  # the link came after the snapshot
    proc = cli("rerun", "count", "--link", "count.py", cwd=project, code=2)
    assert f"Error: --link count.py: count.py is part of run {new.id[:8]}'s code\n" in proc.stderr


@pytest.mark.slow
def test_rerun_runs_the_program_ref_ran_not_whatever_path_finds_now(project: Path, tmp_path: Path) -> None:
    bindir = tmp_path / "venv-bin"
    bindir.mkdir()
    (bindir / "mypython").symlink_to(sys.executable)
    write(project, "hello.py", "print('f1: 1')\n")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run([*TMT, "run", "--", "mypython", "hello.py"], cwd=project, env=env, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    (old,) = records(project)
    assert (old.env["argv"], old.env["program"]) == (["mypython", "hello.py"], str(bindir / "mypython"))
    cli("rerun", "last", cwd=project)  # PATH has no mypython now
    new = records(project)[-1]
    assert (new.status, new.env["argv"], new.env["program"]) == ("completed", ["mypython", "hello.py"],
                                                                str(bindir / "mypython"))


def test_rerun_names_what_changed_in_the_environment() -> None:
    from tmt.runner.rerun import env_changes

    ref = Record(id="a" * 32, name="r", env={"python": "3.11.7", "platform": "Linux-6.1-x86_64",
                                             "packages": {"numpy": "1.26.4", "torch": "2.1.0"}})
    new = Record(id="b" * 32, name="r", env={"python": "3.12.1", "platform": "Linux-6.1-x86_64",
                                             "packages": {"numpy": "2.0.0", "torch": "2.1.0"}})
    assert env_changes(ref, new) == [f"python 3.11.7 (run {'a' * 8}) but 3.12.1 now",
                                     "packages differ: numpy 1.26.4 -> 2.0.0"]
    assert env_changes(ref, Record(id="c" * 32, name="r", env={"python": "3.11.7"})) == []  # nothing to compare
