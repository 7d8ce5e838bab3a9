"""A decorated run loads only what it needs (docs/recording.md, "What a decorated run loads
and does"), and the plain classes of its path behave as the dataclasses they replaced."""
from __future__ import annotations

import copy
import os
import pickle
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tmt.records.model import Record
from tmt.records.series import Series
from tmt.recorder.artifacts import Stored
from tmt.recorder.duplicates import DuplicatePolicy, DuplicateStrategy
from tmt.repo import Config
from tmt.snapshot.tree import TreeBounds, TreeEntry

#: Modules an unchanged decorated no-op run must not import: `dataclasses` pulls in
#: `inspect`, which pulls in `ast`, `dis` and `tokenize` (~20 ms of every run's start).
NEVER_LOADED = ("dataclasses", "inspect", "ast", "dis", "tokenize", "typing", "pathspec", "threading",
                "tmt.recorder.duplicates", "tmt.recorder.parent", "signal")

TRAIN = """\
import sys

import tmt


@tmt.recorder(name="noop")
def run(lr=0.1, *, epochs=3):
    return {}


run()
print("\\n".join(sorted(sys.modules)))
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def _committed_project(project: Path, python: str) -> Callable[[], set[str]]:
    """A git work tree (20 source files, an ignored data/) with TRAIN; returns a function that
    runs it in a real process and gives the modules that process had loaded."""
    (project / ".gitignore").write_text(".venv/\ndata/\n")
    (project / "train.py").write_text(TRAIN)
    (project / "src").mkdir()
    for i in range(20):
        (project / "src" / f"m{i}.py").write_text(f"X = {i}\n")
    (project / "data").mkdir()
    (project / "data" / "big.bin").write_bytes(b"\0" * 1000)
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMT_")}
    time.sleep(0.15)  # past the racily-clean window: the first run's cache vouches for every file

    def run() -> set[str]:
        out = subprocess.run([python, "train.py"], cwd=project, env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return set(out.stdout.split())

    return run


def test_an_unchanged_decorated_run_never_imports_what_it_does_not_need(project: Path, python: str) -> None:
    run = _committed_project(project, python)
    run()
    loaded = run()
    assert "tmt.recorder.run" in loaded  # the run did happen in this process
    assert [m for m in NEVER_LOADED if m in loaded] == []
    import tmt

    runs = tmt.runs(repo=project)
    assert len(runs) == 2 and runs[0].params == {"lr": 0.1, "epochs": 3}
    assert runs[0].code["tree"] == runs[1].code["tree"]  # the tree was unchanged


def test_a_file_edited_just_before_a_run_is_read_again_without_the_ignore_rules(project: Path, python: str) -> None:
    # Edited within the racily-clean window: the run hashes it but cannot trust its stat key.
    # The next run reads it once more, and still asks no ignore rule (pathspec stays unloaded).
    run = _committed_project(project, python)
    run()
    with open(project / "src" / "m3.py", "a") as f:
        f.write("Y = 1\n")
    edited = run()  # within 100 ms of the edit
    after = run()
    assert "pathspec" not in edited and "pathspec" not in after
    import tmt

    runs = tmt.runs(repo=project)  # oldest first
    assert runs[0].code["tree"] != runs[1].code["tree"] == runs[2].code["tree"]
    assert [r.code["git"]["dirty"] for r in runs] == [False, True, True]


def test_records_compare_and_show_by_their_fields() -> None:
    a = Record(id="a" * 32, name="x", params={"lr": 0.1})
    assert a == Record("a" * 32, "x", params={"lr": 0.1})
    assert a != Record(id="a" * 32, name="y", params={"lr": 0.1})
    assert a.tags == [] and a.tags is not Record(id="b" * 32, name="x").tags  # a fresh list each
    assert repr(a).startswith("Record(id='" + "a" * 32 + "', name='x', status='running', ")
    with pytest.raises(TypeError):
        hash(a)  # mutable, like the dataclass it was
    assert DuplicateStrategy() == DuplicateStrategy(DuplicatePolicy.DONT_ALLOW, "")
    assert repr(DuplicateStrategy(parent_id="p")) == (
        "DuplicateStrategy(policy=<DuplicatePolicy.DONT_ALLOW: 1>, parent_id='p')")


@pytest.mark.parametrize("value", [
    TreeEntry(b"a.py", "f", "0" * 64, 3),
    TreeBounds(),
    TreeBounds(5, 6),
    Config(),
    Config(code_root="src", max_tree_paths=9),
    Stored("0" * 64, 3, "model.pkl", "pickle"),
])
def test_frozen_values_refuse_changes_and_copy_hash_and_pickle_by_their_fields(value) -> None:
    name = type(value).__slots__[0]
    with pytest.raises(AttributeError):
        setattr(value, name, getattr(value, name))
    with pytest.raises(AttributeError):
        delattr(value, name)
    for twin in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert twin == value and hash(twin) == hash(value) and twin is not value
    assert repr(value).startswith(f"{type(value).__name__}({name}=")


def test_a_series_is_a_frozen_sequence() -> None:
    s = Series("loss", [1, 2], [0.5, 0.25], [10.0, 11.0])
    assert list(s) == [(1, 0.5), (2, 0.25)] and s[-1] == (2, 0.25) and len(s) == 2
    assert s == Series("loss", [1, 2], [0.5, 0.25], [10.0, 11.0]) and s.last == 0.25
    with pytest.raises(AttributeError):
        s.values = []  # type: ignore[misc]
    assert repr(s) == "Series('loss', 2 points, last=0.25)"


def test_the_background_syncer_does_every_job_and_flush_waits_for_them(tmp_path: Path) -> None:
    import threading

    from tmt.recorder.publish import _Syncer

    syncer = _Syncer()
    files = [tmp_path / f"j{i}.log" for i in range(40)]
    for f in files:
        f.write_bytes(b"x")

    def submit(part: list[Path]) -> None:
        for f in part:
            syncer.submit(("fsync_dir", str(tmp_path)), ("unlink", str(f)))

    workers = [threading.Thread(target=submit, args=(files[i::4],)) for i in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    syncer.drain()
    assert [f for f in files if f.exists()] == []
    again = tmp_path / "later.log"  # the worker has ended: the next job starts another
    again.write_bytes(b"x")
    syncer.submit(("unlink", str(again)))
    syncer.drain()
    assert not again.exists()


def test_without_a_thread_to_be_had_the_syncer_does_the_work_itself(tmp_path: Path, monkeypatch) -> None:
    import tmt.recorder.publish as publish

    def refuse(*args: object) -> None:
        raise RuntimeError("can't start new thread")  # what a process at its thread limit gets

    monkeypatch.setattr(publish._thread, "start_new_thread", refuse)
    syncer = publish._Syncer()
    journal = tmp_path / "run.log"
    journal.write_bytes(b"x")
    syncer.submit(("fsync_dir", str(tmp_path)), ("unlink", str(journal)))
    assert not journal.exists()  # done before submit returned
    syncer.drain(timeout=1.0)
