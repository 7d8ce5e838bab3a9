"""The real `tmt` command on a closed pipe, on a terminal (a pty), through a pager; `python -m tmt`."""
from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from cli_helpers import make_run

TMT = str(Path(sys.executable).parent / "tmt")


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "PAGER", "LESS")}
    e.update({"NO_COLOR": "1", "TERM": "xterm", **extra})
    return e


@pytest.fixture
def runs(repo):
    make_run(repo, 1, "a_rather_long_experiment_name", params={"C": 0.5}, metrics={"f1": 0.91234567, "acc": 0.5},
             files={"train.py": "".join(f"x = {i}\n" for i in range(3000)).encode()})
    make_run(repo, 2, "a_rather_long_experiment_name", params={"C": 1.0}, metrics={"f1": 0.87654321, "acc": 0.25},
             files={"train.py": "".join(f"y = {i}\n" for i in range(3000)).encode()})
    return repo


@pytest.mark.parametrize("args", [["diff", "last~1", "last"], ["show", "last"], ["ls"]])
def test_a_closed_pipe_ends_quietly(runs, args):
    proc = subprocess.Popen([TMT, *args], cwd=runs.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    proc.stdout.close()  # the reader is gone before tmt writes a byte (`| head -0`)
    err = proc.stderr.read()
    assert proc.wait(timeout=60) in (0, 141)
    assert err == b""


def test_head_reads_the_first_lines_and_tmt_says_nothing(runs):
    script = f"'{TMT}' diff last~1 last | head -3; echo \"status=${{PIPESTATUS[0]}}\" >&2"
    r = subprocess.run(["bash", "-c", script], cwd=runs.root, capture_output=True, text=True, env=env(), timeout=60)
    assert r.stdout.splitlines() == ["diff --git a/train.py b/train.py", "index b921480..3db8a64 100644",
                                     "--- a/train.py"]
    assert r.stderr in ("status=0\n", "status=141\n")


def run_in_terminal(args: list[str], cwd: Path, columns: int = 100, **extra: str) -> tuple[str, str, int]:
    """`tmt ARGS` with stdout on a pseudo-terminal of `columns` columns: (screen, stderr, status)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen([TMT, *args], cwd=cwd, stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                            env=env(**extra))
    os.close(slave)
    screen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the terminal's other side closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(master)
    err = proc.stderr.read().decode()
    return screen.decode().replace("\r\n", "\n"), err, proc.wait(timeout=30)


def test_ls_on_a_narrow_terminal_shrinks_the_name_and_never_cuts_numbers(runs):
    screen, err, status = run_in_terminal(["ls"], runs.root, columns=70)
    assert status == 0
    lines = [line.rstrip() for line in screen.splitlines()]
    assert lines[0].split() == ["id", "name", "status", "age", "duration", "acc", "f1"]
    assert lines[2].split()[:2] == ["22222222", "a_rather_lo…"]
    assert lines[2].split()[-2:] == ["0.25", "0.87654"] and lines[3].split()[-1] == "0.91235"
    assert all(len(line) <= 70 for line in lines)
    assert err == "(1 more column did not fit: params.C; choose with --columns, or widen the terminal)\n"


@pytest.mark.slow
def test_show_and_diff_go_through_the_pager_on_a_terminal(runs, tmp_path):
    paged = tmp_path / "paged.txt"
    screen, err, status = run_in_terminal(["show", "last"], runs.root, TMT_PAGER=f"cat > '{paged}'")
    assert (status, screen, err) == (0, "", "")
    text = paged.read_text()
    assert text.startswith("run 22222222222222222222222222222222\n")  # rendered for the terminal (rich)
    assert re.search(r"\n  f1 +0\.87654321 ", text)
    screen, err, status = run_in_terminal(["diff", "last~1", "last"], runs.root, PAGER=f"cat > '{paged}'")
    assert (status, screen) == (0, "")
    assert paged.read_text().startswith("diff --git a/train.py b/train.py\n")
    paged.unlink()
    for how in (["show", "last", "--no-pager"], ["--no-pager", "show", "last"]):
        screen, err, status = run_in_terminal(how, runs.root, TMT_PAGER=f"cat > '{paged}'")
        assert status == 0 and screen.startswith("run 22222222222222222222222222222222\n") and not paged.exists()
    screen, err, status = run_in_terminal(["show", "last"], runs.root, TMT_PAGER="", PAGER=f"cat > '{paged}'")
    assert screen.startswith("run 2222") and not paged.exists()  # TMT_PAGER='' wins over PAGER


def test_the_default_pager_is_less_and_not_on_a_dumb_terminal(monkeypatch):
    from tmt.cli.pager import pager_command

    for var in ("TMT_PAGER", "PAGER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert pager_command() == "less -FRX"
    monkeypatch.setenv("TERM", "dumb")
    assert pager_command() is None
    monkeypatch.setenv("PAGER", "most")
    assert pager_command() == "most"  # the user's choice holds anywhere
    monkeypatch.setenv("TMT_PAGER", "cat")
    assert pager_command() is None


def test_a_pager_that_quits_early_is_normal(runs):
    screen, err, status = run_in_terminal(["diff", "last~1", "last"], runs.root, TMT_PAGER="head -1")
    assert (status, err) == (0, "")
    assert screen == "diff --git a/train.py b/train.py\n"


def test_python_dash_m_tmt(runs):
    r = subprocess.run([sys.executable, "-m", "tmt", "ls", "--columns", "f1"], cwd=runs.root, capture_output=True,
                       text=True, env=env(), timeout=60)
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines()[0].split() == ["id", "name", "status", "age", "duration", "f1"]
    r = subprocess.run([sys.executable, "-m", "tmt", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("Usage: tmt [OPTIONS] COMMAND [ARGS]...")
