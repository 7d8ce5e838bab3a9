"""The git state a run records ({commit, branch, dirty}), read from .git files, agrees with
`git status` (untracked files do not make a tree dirty) in every state a project goes through."""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import tmt
from tmt.recorder.env import GitProbe
from tmt.records.io import read_record, record_files

GIT = shutil.which("git")
pytestmark = pytest.mark.skipif(GIT is None, reason="needs the git executable")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def recorded_git(project: Path, monkeypatch: pytest.MonkeyPatch, *, no_git: bool = False) -> dict | None:
    """Record a run in `project` and return its code.git (with git off the PATH if `no_git`)."""
    before = set(record_files(project / ".tmt" / "experiments"))
    with monkeypatch.context() as m:
        if no_git:
            m.setenv("PATH", str(project / "no-git-here"))
        tmt.recorder(name="g")(lambda: None)()
    (new,) = set(record_files(project / ".tmt" / "experiments")) - before
    return read_record(new).code["git"]


@pytest.fixture
def committed(project: Path) -> Path:
    git(project, "init", "-q", "-b", "main")
    (project / ".gitignore").write_text(".tmt/\n__pycache__/\n")
    (project / "src").mkdir()
    (project / "src" / "model.py").write_text("width = 64\n")
    (project / "train.py").write_text("import src.model\n")
    (project / "run.sh").write_text("python train.py\n")
    (project / "web" / "node_modules").mkdir(parents=True)  # tracked, but a snapshot leaves it out
    (project / "web" / "node_modules" / "lib.js").write_text("let a = 1;\n")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "one")
    time.sleep(0.02)  # a file edited later gets a later mtime than the index
    return project


def write(rel: str, text: str):
    def go(p: Path) -> None:
        (p / rel).parent.mkdir(parents=True, exist_ok=True)
        (p / rel).write_text(text)
    return go


def run_git(*args: str):
    return lambda p: git(p, *args)


def touch_later(rel: str):
    def go(p: Path) -> None:
        ns = time.time_ns() + 5_000_000_000
        os.utime(p / rel, ns=(ns, ns))
    return go


# (what the user did, in order; the expected dirty); each is checked against `git status` too
STATES = {
    "clean": ((), False),
    "modified tracked file": ((write("src/model.py", "width = 65\n"),), True),
    "modified tracked file the snapshot leaves out": ((write("web/node_modules/lib.js", "let a = 2;\n"),), True),
    "untracked file": ((write("notes.txt", "todo\n"),), False),
    "untracked folder": ((write("data/x.csv", "1\n"),), False),
    "ignored file": ((write("src/__pycache__/model.pyc", "\0"),), False),
    "staged change": ((write("train.py", "import os\n"), run_git("add", "train.py")), True),
    "new file staged": ((write("new.py", "x = 1\n"), run_git("add", "new.py")), True),
    "deleted tracked file": ((lambda p: (p / "run.sh").unlink(),), True),
    "touched, same content": ((touch_later("train.py"),), False),
    "executable bit set": ((lambda p: os.chmod(p / "run.sh", 0o755),), True),
    "edited and committed": ((write("train.py", "import sys\n"), run_git("commit", "-q", "-am", "two")), False),
    "detached HEAD": ((run_git("checkout", "-q", "--detach"),), False),
    "packed refs and objects": ((run_git("gc", "-q"),), False),
    "packed, then modified": ((run_git("gc", "-q"), write("train.py", "import re\n")), True),
}


@pytest.mark.parametrize("state", list(STATES))
def test_recorded_git_state_agrees_with_git_status(committed: Path, monkeypatch: pytest.MonkeyPatch,
                                                   state: str) -> None:
    actions, dirty = STATES[state]
    for action in actions:
        action(committed)
    expected = {
        "commit": git(committed, "rev-parse", "HEAD"),
        "branch": None if state == "detached HEAD" else "main",
        "dirty": dirty,
    }
    assert GitProbe(committed).result() == expected  # the oracle says what we expect
    assert recorded_git(committed, monkeypatch) == expected


def test_clean_and_modified_trees_are_read_without_git(committed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No git process: with git off the PATH the state is still recorded, and still right."""
    head = git(committed, "rev-parse", "HEAD")
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}
    (committed / "notes.txt").write_text("untracked\n")
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}
    (committed / "src" / "model.py").write_text("width = 128\n")
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": True}
    (committed / "src" / "model.py").write_text("width = 64\n")  # back as committed: clean again
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}


def test_a_change_outside_the_code_root_makes_it_dirty(committed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The code root is a subfolder of the work tree: git's answer covers the whole tree."""
    sub = committed / "src"
    tmt.init(sub)
    monkeypatch.chdir(sub)
    head = git(committed, "rev-parse", "HEAD")
    assert recorded_git(sub, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}
    (committed / "train.py").write_text("import json\n")
    assert recorded_git(sub, monkeypatch) == {"commit": head, "branch": "main", "dirty": True}


def test_a_new_repository_before_its_first_commit(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    git(project, "init", "-q", "-b", "main")
    (project / "a.py").write_text("a = 1\n")
    assert recorded_git(project, monkeypatch) == {"commit": None, "branch": "main", "dirty": False}
    git(project, "add", "a.py")
    assert recorded_git(project, monkeypatch) == {"commit": None, "branch": "main", "dirty": True}


def test_a_linked_worktree(committed: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(committed, "worktree", "add", "-q", "-b", "side", str(other))
    monkeypatch.chdir(other)
    head = git(other, "rev-parse", "HEAD")
    assert recorded_git(other, monkeypatch, no_git=True) == {"commit": head, "branch": "side", "dirty": False}
    (other / "train.py").write_text("import abc\n")
    assert recorded_git(other, monkeypatch, no_git=True) == {"commit": head, "branch": "side", "dirty": True}


@pytest.mark.slow
def test_run_after_run_the_kept_answer_follows_every_change(committed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Between runs the answer is reused while nothing it depends on moved: each step here
    moves one thing (a kept file, a tracked file the snapshot leaves out, the index, HEAD)."""
    steps = [
        ((), False),
        ((), False),  # the same state again: answered from the cache
        ((write("notes.txt", "untracked\n"),), False),
        ((write("src/model.py", "width = 96\n"),), True),
        ((write("src/model.py", "width = 64\n"),), False),
        ((write("web/node_modules/lib.js", "let a = 3;\n"),), True),
        ((write("web/node_modules/lib.js", "let a = 1;\n"),), False),
        ((run_git("rm", "-q", "--cached", "run.sh"),), True),  # the index moved, the files did not
        ((run_git("add", "run.sh"),), False),
        ((write("train.py", "import csv\n"), run_git("commit", "-q", "-am", "two")), False),  # HEAD moved
        ((run_git("reset", "-q", "--soft", "HEAD~1"),), True),  # HEAD back, the change staged
        ((run_git("reset", "-q", "--hard"),), False),
    ]
    for i, (actions, dirty) in enumerate(steps):
        for action in actions:
            action(committed)
        time.sleep(0.12)  # past the racy window: what is cached may be kept
        got = recorded_git(committed, monkeypatch)
        assert got is not None and got["dirty"] is dirty, f"step {i}"
        assert got == GitProbe(committed).result(), f"step {i}"


def _base_file(project: Path) -> Path:
    from tmt.recorder.gitinfo import BASE_CACHE_NAME

    (found,) = (project / ".tmt" / "cache").glob(f"{BASE_CACHE_NAME}-*")
    return found


def _restore(rel: str, text: str):
    def go(p: Path) -> None:
        (p / rel).write_text(text)  # as the editor would put it back: the index is not touched
    return go


# Changes to the working tree only (index and HEAD as committed), each with how to undo it
# without git: judged against the last clean pass (the base), not a full pass over the index.
WORK_TREE_CHANGES = {
    "modified tracked file": (write("src/model.py", "width = 65\n"), _restore("src/model.py", "width = 64\n"), True),
    "modified tracked file the snapshot leaves out": (write("web/node_modules/lib.js", "let a = 2;\n"),
                                                      _restore("web/node_modules/lib.js", "let a = 1;\n"), True),
    "untracked file in a tracked folder": (write("src/notes.txt", "todo\n"),
                                           lambda p: (p / "src" / "notes.txt").unlink(), False),
    "ignored file": (write("src/__pycache__/model.pyc", "\0"),
                     lambda p: shutil.rmtree(p / "src" / "__pycache__"), False),
    "deleted tracked file": (lambda p: (p / "run.sh").unlink(), _restore("run.sh", "python train.py\n"), True),
    "touched, same content": (touch_later("src/model.py"), lambda p: None, False),
    "executable bit set": (lambda p: os.chmod(p / "run.sh", 0o755), lambda p: os.chmod(p / "run.sh", 0o644), True),
}


@pytest.mark.parametrize("change", list(WORK_TREE_CHANGES))
def test_after_a_clean_run_a_change_is_judged_from_the_folders_that_moved(
        committed: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    """With git off the PATH (so no fallback to `git status` could hide a wrong fast path):
    the change is seen, and undoing it without git makes the tree clean again."""
    do, undo, dirty = WORK_TREE_CHANGES[change]
    head = git(committed, "rev-parse", "HEAD")
    time.sleep(0.12)  # the files just committed are past the racy window: the base is kept
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}
    assert _base_file(committed).is_file()
    do(committed)
    assert GitProbe(committed).result()["dirty"] is dirty
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": dirty}
    undo(committed)
    assert GitProbe(committed).result()["dirty"] is False
    assert recorded_git(committed, monkeypatch, no_git=True) == {"commit": head, "branch": "main", "dirty": False}


def test_only_the_tracked_files_of_folders_that_moved_are_compared_again(committed: Path) -> None:
    from tmt.recorder import gitinfo
    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot_repo
    from tmt.store import codec

    for name in ("a", "b", "c"):
        for i in range(3):
            (committed / name / f"m{i}.py").parent.mkdir(exist_ok=True)
            (committed / name / f"m{i}.py").write_text(f"x = {i}\n")
    git(committed, "add", "-A")
    git(committed, "commit", "-q", "-m", "more")
    time.sleep(0.12)
    repo = Repo(committed / ".tmt")
    snap = snapshot_repo(repo)
    clean = gitinfo.git_state(committed, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
    assert clean is not None and clean["dirty"] is False
    (committed / "c" / "m1.py").write_text("x = 10\n")
    snap = snapshot_repo(repo)
    base = codec.unpackb(_base_file(committed).read_bytes())["base"]
    index = (committed / ".git" / "index").read_bytes()
    moved = sorted(gitinfo._entry(index, pos)[0] for pos in gitinfo._moved(base, snap.dirs))
    # c/ and the root (whose tree holds c's) are compared again; a/, b/, src/ are not; the
    # tracked file the snapshot leaves out is lstat-ed every time
    assert moved == sorted([b"c/m0.py", b"c/m1.py", b"c/m2.py", b".gitignore", b"train.py", b"run.sh",
                            b"web/node_modules/lib.js"])
    got = gitinfo.git_state(committed, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
    assert got == {**clean, "dirty": True}


@pytest.mark.parametrize("settled", [False, True], ids=["racily-clean", "settled"])
def test_a_file_rewritten_between_the_snapshot_and_the_git_state_is_not_cached(
        committed: Path, settled: bool) -> None:
    """A write landing after the snapshot read a file and before the git state reads it
    again (an editor's undo as the run starts): the answer is not the recorded tree's, so
    it must not be kept for a later run of that same tree."""
    from tmt.recorder import gitinfo
    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot_repo

    repo = Repo(committed / ".tmt")
    model = committed / "src" / "model.py"
    time.sleep(0.12)

    def state(between=None) -> tuple[str, bool]:
        snap = snapshot_repo(repo)
        if between is not None:
            between()
        got = gitinfo.git_state(committed, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
        assert got is not None
        return snap.tree, got["dirty"]

    state()
    model.write_text("width = 128\n")
    if settled:
        time.sleep(0.12)
    edited, _ = state(between=lambda: model.write_text("width = 64\n"))  # put back meanwhile
    time.sleep(0.12)
    model.write_text("width = 128\n")  # the bytes that run recorded, now on disk and settled
    time.sleep(0.12)
    tree, dirty = state()
    assert tree == edited
    assert git(committed, "status", "--porcelain", "-uno") == "M src/model.py"
    assert dirty is True
