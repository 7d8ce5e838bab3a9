"""The `tmt` entry point: exit codes, Ctrl-C, unmapped OS errors, verbs without .py files."""
from __future__ import annotations

import compileall
import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from cli_helpers import invoke

import tmt
from tmt.cli import COMMANDS, main


@pytest.fixture
def init_does(monkeypatch):
    """Make `tmt init` run `fn` instead of its own body."""
    import tmt.cli.cmd_init as cmd_init

    def install(fn):
        monkeypatch.setattr(cmd_init.command, "callback", lambda folder: fn())
    return install


def test_ctx_exit_code_reaches_the_shell(project, init_does):
    """main() dropped cli.main's return value: ctx.exit(3) ended with status 0."""
    init_does(lambda: click.get_current_context().exit(3))
    with pytest.raises(SystemExit) as e:
        main(["init"])
    assert e.value.code == 3


def test_success_exits_zero(project):
    with pytest.raises(SystemExit) as e:
        main(["init"])
    assert e.value.code == 0


def test_ctrl_c_exits_130(project, init_does, capsys):
    """Ctrl-C became click's Abort: "Aborted." and status 1 instead of 130."""
    def interrupted():
        raise KeyboardInterrupt

    init_does(interrupted)
    with pytest.raises(SystemExit) as e:
        main(["init"])
    assert e.value.code == 130
    assert capsys.readouterr().err.endswith("Interrupted.\n")


def test_an_unmapped_os_error_is_a_message(project, init_does):
    def denied():
        raise PermissionError(13, "Permission denied", "/srv/data/x")

    init_does(denied)
    r = invoke("init")
    assert r.exit_code == 1
    assert r.output == ("Error: /srv/data/x: Permission denied\n"
                        "hint: set TMT_TRACEBACK=1 to see where it happened, and report it\n")


def test_a_tmt_error_is_shown_once_with_its_exit_code(project, capsys):
    with pytest.raises(SystemExit) as e:
        main(["ls"])  # no repository here
    assert e.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Error: no .tmt repository in {project} or any parent folder\n")
    assert err.count("Error:") == 1


def test_verbs_work_from_compiled_files_only(tmp_path, project):
    """Verbs were listed only if tmt/cli/cmd_<verb>.py existed on disk (no .pyc-only installs)."""
    pkg = tmp_path / "site" / "tmt"
    shutil.copytree(Path(tmt.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    assert compileall.compile_dir(pkg, quiet=1, legacy=True)
    for py in (pkg / "cli").glob("cmd_*.py"):
        py.unlink()
    env = {**os.environ, "PYTHONPATH": str(pkg.parent), "COLUMNS": "100"}
    out = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "--help"],
                         cwd=project, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    listed = [line.split()[0] for line in out.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert listed == list(COMMANDS)
    out = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "init"],
                         cwd=project, env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stderr.startswith("Initialized empty tmt repository")


def test_export_into_a_file_names_the_folder(repo, project):
    """The hint blamed the .tmt folder for the user's own output path (or there was none)."""
    (project / "afile").write_text("x")
    r = invoke("export", "-o", "afile/runs.csv")
    assert r.exit_code == 1
    assert r.output == ("Error: cannot write afile/runs.csv: Not a directory\n"
                        f"hint: check that the folder {project / 'afile'} exists and that you may write to it\n")


def test_diff_and_checkout_feed_the_progress_bar(repo, project, monkeypatch):
    """The working-tree snapshots of `tmt diff A` and `tmt checkout` showed no progress."""
    from cli_helpers import make_run

    from tmt.progress import StderrProgress

    calls: list[tuple[str, int, int]] = []
    monkeypatch.setattr(StderrProgress, "__call__", lambda self, phase, done, total: calls.append((phase, done, total)))
    make_run(repo, 1, "base", files={"a.py": b"a"})
    for i in range(5):
        (project / f"new{i}.py").write_text(str(i))
    r = invoke("diff", "base", "--stat")
    assert r.exit_code == 0, r.output
    phase, done, total = calls[-1]
    assert phase == "snapshot" and done == total >= 5
    calls.clear()
    (project / "new5.py").write_text("5")
    r = invoke("checkout", "base")
    assert r.exit_code == 0, r.output
    phase, done, total = calls[-1]
    assert phase == "snapshot" and done == total >= 1


def test_an_unmapped_sqlite_error_is_a_message(project, init_does):
    import sqlite3

    def readonly():
        raise sqlite3.OperationalError("attempt to write a readonly database")

    init_does(readonly)
    r = invoke("init")
    assert r.exit_code == 1
    assert r.output == ("Error: the query index (.tmt/index.sqlite) failed: attempt to write a readonly database\n"
                        "hint: it is derived from the records: deleting it loses nothing (it is rebuilt)\n")
