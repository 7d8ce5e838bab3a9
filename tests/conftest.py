"""Shared fixtures: every test runs in its own folder with a clean environment."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tmt.repo import Repo
from tmt.store.objects import ObjectStore

# Bytecode is written during the suite even where PYTHONDONTWRITEBYTECODE is set: without it
# every test module is assertion-rewritten again (7 s) and every `tmt` process the tests start
# compiles tmt from source (the suite ran 86 s instead of 64 s on the quick default run).
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ.setdefault("HYPOTHESIS_PROFILE", "ci")
try:
    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci", derandomize=True, max_examples=60, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    settings.register_profile("dev", max_examples=300, deadline=None)
    settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])
except ImportError:  # pragma: no cover
    pass


#: lines of figures a test measured (recall of the change-point detector, ...), printed at the end
FIGURES = pytest.StashKey[list]()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    for line in config.stash.get(FIGURES, []):
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def figures(request: pytest.FixtureRequest) -> list[str]:
    """Lines a test appends here are printed in pytest's summary (a fixture, not an import:
    `from conftest import …` can pick up another folder's conftest.py)."""
    return request.config.stash.setdefault(FIGURES, [])


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TMT_* setting, colour setting, git identity or HOME leaks in from the machine."""
    for key in list(os.environ):
        if key.startswith(("TMT_", "GIT_")) or key in ("NO_COLOR", "FORCE_COLOR", "SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID"):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "_home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "t")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "t@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "t")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "t@example.com")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder, made the working directory."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def repo(project: Path) -> Repo:
    """A fresh repository in `project`."""
    return Repo.init(project)


@pytest.fixture
def python() -> str:
    """The interpreter running the tests, for real child processes."""
    return sys.executable


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    """An empty object store of its own (a test module may define a `store` of another kind)."""
    return ObjectStore(tmp_path / ".tmt")


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited: what a crashed writer leaves in pins, locks and temp names."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
