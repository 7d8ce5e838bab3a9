"""Repo: one resolver for explicit repositories, settings from the code root, lazy code root."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_query import make_run

import tmt
from tmt.cli import cli
from tmt.errors import RepositoryNotFound, UsageError
from tmt.manager import TmtManager
from tmt.repo import Repo


@pytest.fixture
def two_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Repo, Repo]:
    """Store `a` is TMT_DIR; project `b` has its own .tmt/ with one run called "in-b"."""
    a = Repo.init(tmp_path / "a")
    make_run(a, "in-a")
    b = Repo.init(tmp_path / "b")
    make_run(b, "in-b")
    monkeypatch.setenv("TMT_DIR", str(a.tmt_dir))
    return a, b


def test_an_explicit_repo_wins_over_tmt_dir(two_stores):
    a, b = two_stores
    project_b = b.tmt_dir.parent
    for where in (project_b, str(project_b), b.tmt_dir):
        assert [r.name for r in tmt.runs(repo=where)] == ["in-b"]
        assert tmt.get("in-b", repo=where).name == "in-b"
    assert TmtManager(config=str(project_b)).repo.tmt_dir == b.tmt_dir
    assert TmtManager(config=str(b.tmt_dir)).repo.tmt_dir == b.tmt_dir
    assert [r.name for r in tmt.runs()] == ["in-a"]  # no repo: TMT_DIR


@pytest.mark.parametrize("api", ["fsck", "gc", "runs"])
def test_a_path_without_a_store_is_repository_not_found(project: Path, api: str):
    """tmt.fsck("typo") reported OK on an empty store; tmt.gc("typo") died with FileNotFoundError."""
    with pytest.raises(RepositoryNotFound) as e:
        if api == "runs":
            tmt.runs(repo="typo")
        else:
            getattr(tmt, api)("typo")
    assert e.value.message == f"no tmt repository at {project / 'typo'}"
    assert e.value.hint == (
        "pass the project folder that holds .tmt/ (or the .tmt folder itself); create one with `tmt init`")
    assert e.value.exit_code == 1
    assert not (project / "typo").exists()  # nothing was created on the way


def test_a_shared_store_folder_not_named_tmt_is_accepted(tmp_path: Path, project: Path):
    shared = tmp_path / "shared-store"
    Repo.init(tmp_path, tmt_dir=shared)
    assert Repo.resolve(shared).tmt_dir == shared
    assert tmt.fsck(shared).ok


def test_settings_come_from_the_code_roots_pyproject(project: Path):
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text('code_root = "src"\n')
    (project / "src").mkdir()
    (project / "src" / "pyproject.toml").write_text("[tool.tmt]\nmax-file-size = 1000\n")
    (project / "pyproject.toml").write_text("[tool.tmt]\nmax-file-size = 5\n")  # not the code root's
    repo = Repo(repo.tmt_dir)
    assert repo.root == project / "src"
    assert repo.config.max_file_size == 1000


def test_a_bad_pyproject_setting_names_the_pyproject(project: Path):
    repo = Repo.init(project)
    pyproject = project / "pyproject.toml"
    pyproject.write_text('[tool.tmt]\nmax_file_size = "lots"\n')
    with pytest.raises(UsageError) as e:
        Repo(repo.tmt_dir).config
    assert e.value.message == f"{pyproject}: max_file_size must be a byte count like 10485760 or '10MiB'"


def test_invalid_utf8_in_a_toml_is_a_usage_error(project: Path):
    repo = Repo.init(project)
    pyproject = project / "pyproject.toml"
    pyproject.write_bytes(b"[tool.tmt]\nname = '\xff'\n")
    with pytest.raises(UsageError) as e:
        Repo(repo.tmt_dir).config
    assert e.value.message.startswith(f"could not read {pyproject}: 'utf-8' codec can't decode byte 0xff")
    assert e.value.hint == "fix or delete the file"
    cfg = repo.tmt_dir / "config.toml"
    cfg.write_bytes(b"max_file_size = '\xff'\n")
    with pytest.raises(UsageError) as e:
        Repo(repo.tmt_dir)
    assert e.value.message.startswith(f"could not read {cfg}: ")


def _child(code: str, cwd: Path, env: dict[str, str]) -> str:
    import os

    full = {**{k: v for k, v in os.environ.items() if not k.startswith("TMT_")}, **env}
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=full, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_a_pyproject_without_tmt_settings_is_not_parsed(project: Path):
    Repo.init(project)
    (project / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    code = "import sys; from tmt.repo import Repo; r = Repo.find(); r.config; print('tomllib' in sys.modules)"
    assert _child(code, project, {}) == "False"


def test_finding_a_shared_store_runs_no_git(tmp_path: Path, project: Path):
    """With TMT_DIR elsewhere, every query ran `git rev-parse` to find a code root it never used."""
    shared = tmp_path / "shared"
    Repo.init(tmp_path, tmt_dir=shared)
    code = ("import sys; from tmt.repo import Repo; r = Repo.find(); tmt_dir = r.tmt_dir; "
            "print('subprocess' in sys.modules); print(r.root)")
    lines = _child(code, project, {"TMT_DIR": str(shared)}).splitlines()
    assert lines == ["False", str(project)]  # the root, when asked for, is still where tmt runs


def test_init_where_nothing_can_be_created_is_an_error_not_a_traceback(project: Path):
    (project / "afile").write_text("x")
    r = CliRunner().invoke(cli, ["init", "afile/sub"])
    assert r.exit_code == 1
    assert r.output == "Error: could not create the repository: afile/sub/.tmt/objects: Not a directory\n"


def test_tmt_init_creates_the_store_tmt_dir_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hint for a missing TMT_DIR says `tmt init`: that must create it, not ./.tmt."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "shared" / "store"
    monkeypatch.setenv("TMT_DIR", str(store))
    out = CliRunner().invoke(cli, ["ls"])
    assert out.exit_code == 1 and "`tmt init` (which creates the TMT_DIR store)" in out.output
    out = CliRunner().invoke(cli, ["init"])
    assert out.exit_code == 0, out.output
    assert (store / "objects").is_dir() and not (tmp_path / ".tmt").exists()
    assert CliRunner().invoke(cli, ["ls"]).exit_code == 0


def test_a_bad_max_file_size_says_how_to_fix_it(repo: Repo) -> None:
    (repo.tmt_dir / "config.toml").write_text('max_file_size = "bogus"\n')
    with pytest.raises(UsageError) as err:
        Repo(repo.tmt_dir).config
    assert "max_file_size must be a byte count" in err.value.message
    assert err.value.hint == "fix the value (or delete the line for the default, 10 MiB)"
