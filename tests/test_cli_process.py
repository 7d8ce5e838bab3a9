"""The installed `tmt` script in real processes: record with a script, then ls/show/diff/checkout/rm."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import files_of

# The real `tmt` command in processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

TMT = shutil.which("tmt", path=str(Path(sys.executable).parent)) or str(Path(sys.executable).parent / "tmt")

TRAIN = '''\
import sys
import tmt

LR = {lr}

@tmt.recorder(name="train")
def train(lr=LR):
    for step in range(5):
        tmt.log({{"loss": 1.0 / (step + 1) / lr}}, step=step)
    return {{"f1": 0.5 + lr}}

train()
'''


def tmt_cmd(*args: str, cwd: Path, input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("TMT_")}
    e.update({"COLUMNS": "100", "NO_COLOR": "1"})
    e.update(env or {})
    return subprocess.run([TMT, *args], cwd=cwd, capture_output=True, text=True, input=input, env=e, timeout=60)


@pytest.fixture
def recorded(project, python):
    """Two runs of train.py with different code, plus ignored data and a helper module."""
    (project / ".gitignore").write_text("data/\n")
    (project / "data").mkdir()
    (project / "data" / "big.csv").write_text("1,2,3\n")
    (project / "lib").mkdir()
    (project / "lib" / "util.py").write_text("X = 1\n")
    (project / "train.py").write_text(TRAIN.format(lr=0.1))
    subprocess.run([python, "train.py"], cwd=project, check=True, capture_output=True)
    first = files_of(project)
    (project / "train.py").write_text(TRAIN.format(lr=0.2))
    (project / "lib" / "util.py").unlink()
    (project / "lib" / "more.py").write_text("Y = 2\n")
    subprocess.run([python, "train.py"], cwd=project, check=True, capture_output=True)
    return project, first


@pytest.mark.slow
def test_main_flows(recorded, tmp_path):
    project, first = recorded
    r = tmt_cmd("ls", cwd=project)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["id", "name", "status", "age", "duration", "f1", "params.lr"]
    assert [line.split()[1:3] for line in lines[1:]] == [["train", "completed"], ["train", "completed"]]
    assert lines[1].endswith("0.7        0.2") and lines[2].endswith("0.6        0.1")

    r = tmt_cmd("show", "last", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "params:\n  lr  0.2\n" in r.stdout and "metrics:\n  f1  0.7\n" in r.stdout
    assert "  loss       5     1    1    5  █▄▂▁▁\n" in r.stdout

    r = tmt_cmd("diff", "last~1", "last", cwd=project)
    assert r.returncode == 0, r.stderr
    assert "-LR = 0.1\n+LR = 0.2\n" in r.stdout
    assert "diff --git a/lib/util.py b/lib/util.py\ndeleted file mode 100644\n" in r.stdout
    assert "diff --git a/lib/more.py b/lib/more.py\nnew file mode 100644\n" in r.stdout
    assert "\nf1              0.6          0.7  +0.1 (+16.7%)\n" in r.stdout

    out = tmp_path / "out"
    r = tmt_cmd("checkout", "last~1", "-o", str(out), cwd=project)
    assert r.returncode == 0, r.stderr
    expected = {k: v for k, v in first.items() if not k.startswith("data/")}
    expected[".tmt"] = f"tmtdir: {project / '.tmt'}\n".encode()  # the view's pointer to its store
    assert files_of(out) == expected

    # In place: back to the first run; the working tree is saved first, data/ untouched.
    (project / "scratch.py").write_text("work in progress\n")
    before = files_of(project)
    r = tmt_cmd("checkout", "last~1", cwd=project)
    assert r.returncode == 0, r.stderr
    backup = r.stderr.split("Saved your working tree as run ")[1][:8]
    assert f"return with: tmt checkout {backup}\n" in r.stderr
    assert files_of(project) == first  # scratch.py and lib/more.py removed, lib/util.py back, data/ kept
    ls = tmt_cmd("ls", "--json", "--all", cwd=project)
    runs = json.loads(ls.stdout)
    assert runs[0]["id"].startswith(backup) and runs[0]["name"] == "checkout-backup"
    assert runs[0]["tags"] == ["checkout-backup"]
    r = tmt_cmd("checkout", backup, cwd=project)
    assert r.returncode == 0, r.stderr
    assert files_of(project) == before

    r = tmt_cmd("rm", backup, cwd=project, input="")
    assert r.returncode == 2 and "hint: pass --yes to delete without asking" in r.stderr
    r = tmt_cmd("rm", backup, "--yes", cwd=project)
    assert r.returncode == 0 and r.stderr.startswith(f"Deleted run {backup} (checkout-backup)\n")
    # Left: the backup made when returning (the working tree then held the first run's code), the two runs.
    names = [r["name"] for r in json.loads(tmt_cmd("ls", "--json", "--all", cwd=project).stdout)]
    assert names == ["checkout-backup", "train", "train"]


def test_errors_exit_codes_and_traceback(recorded):
    project, _ = recorded
    r = tmt_cmd("show", "nope", cwd=project)
    assert r.returncode == 2
    assert r.stderr.startswith("Error: no run matches 'nope'") and "Traceback" not in r.stderr
    r = tmt_cmd("show", "nope", cwd=project, env={"TMT_TRACEBACK": "1"})
    assert r.returncode == 1 and "Traceback (most recent call last)" in r.stderr and "UnknownRef" in r.stderr
    r = tmt_cmd("ls", "--bogus", cwd=project)
    assert r.returncode == 2 and "Error: No such option '--bogus'." in r.stderr
    r = tmt_cmd("ls", cwd=project.parent)
    assert r.returncode == 1 and r.stderr.startswith("Error: no .tmt repository in ")


def test_piped_output_has_no_escape_codes(recorded):
    project, _ = recorded
    for args in (["ls"], ["show", "last"], ["diff", "last~1", "last"]):
        r = tmt_cmd(*args, cwd=project, env={"NO_COLOR": "", "TERM": "xterm-256color"})
        assert r.returncode == 0 and "\x1b[" not in r.stdout, args


def test_export_csv_process(recorded):
    project, _ = recorded
    r = tmt_cmd("export", cwd=project)
    assert r.returncode == 0
    header, *rows = r.stdout.splitlines()
    assert header == "id,name,status,created_at,finished_at,duration_s,tags,parent,params.lr,metrics.f1"
    assert [row.split(",")[-2:] for row in rows] == [["0.2", "0.7"], ["0.1", "0.6"]]
