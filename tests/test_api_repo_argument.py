"""`repo=` on every public API function: a project folder, its `.tmt` folder or a `tmt.Repo`,
from a working directory that holds no store, always names that store (Repo.resolve)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tmt
from tmt.errors import RepositoryNotFound, UsageError
from tmt.records.io import record_files
from tmt.repo import Repo

KINDS = ("str", "path", "store", "repo")


def as_kind(project: Path, kind: str):
    return {"str": str(project), "path": project, "store": project / ".tmt", "repo": Repo(project / ".tmt")}[kind]


@pytest.fixture
def two_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with runs `train` (lr 0.1, then 0.2, train.py changed between them), left
    for an empty folder that is the working directory (no store there or above it)."""
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.chdir(project)
    Repo.init(project)
    for lr, code in ((0.1, "print('one')\n"), (0.2, "print('two')\n")):
        (project / "train.py").write_text(code)
        with tmt.start_run("train", params={"lr": lr}) as run:
            run.log({"loss": 1.0 - lr}, step=0)
            run.log({"loss": 0.5 - lr}, step=1)
            run.metrics["f1"] = 2 * lr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return project


@pytest.mark.parametrize("kind", KINDS)
def test_get_runs_and_latest_id(two_runs: Path, kind: str) -> None:
    repo = as_kind(two_runs, kind)
    assert tmt.get("last", repo=repo).params == {"lr": 0.2}
    assert [r.params["lr"] for r in tmt.runs(repo=repo)] == [0.1, 0.2]
    assert tmt.query.latest_id("train", repo=repo) == tmt.get("last", repo=repo).id


@pytest.mark.parametrize("kind", KINDS)
def test_diff_of_two_runs_and_of_a_run_with_its_working_tree(two_runs: Path, kind: str) -> None:
    repo = as_kind(two_runs, kind)
    d = tmt.diff("last~1", "last", repo=repo)
    assert [c.path for c in d.changes] == [b"train.py"]
    assert d.params == [("lr", 0.1, 0.2)]
    (two_runs / "train.py").write_text("print('three')\n")
    # the working tree compared is the project's, not the working directory's
    assert [c.path for c in tmt.diff("last", repo=repo).changes] == [b"train.py"]
    (two_runs / "train.py").write_text("print('two')\n")
    assert tmt.diff("last", repo=repo).changes == []


@pytest.mark.parametrize("kind", KINDS)
def test_checkout_into_a_folder_and_in_place(two_runs: Path, kind: str, tmp_path: Path) -> None:
    repo = as_kind(two_runs, kind)
    tmt.checkout("last~1", tmp_path / "view", repo=repo)
    assert (tmp_path / "view" / "train.py").read_text() == "print('one')\n"
    tmt.checkout("last~1", repo=repo)
    assert (two_runs / "train.py").read_text() == "print('one')\n"


@pytest.mark.parametrize("kind", ("str", "repo"))
def test_plot_and_timeline(two_runs: Path, kind: str, tmp_path: Path) -> None:
    repo = as_kind(two_runs, kind)
    tmt.plot("loss", repo=repo, output=tmp_path / "loss.svg")
    assert (tmp_path / "loss.svg").read_bytes().lstrip().startswith(b"<")
    assert tmt.timeline("f1", repo=repo).values == [0.2, 0.4]


@pytest.mark.parametrize("kind", ("str", "repo"))
def test_gc_fsck_rebuild_index_and_remove(two_runs: Path, kind: str) -> None:
    repo = as_kind(two_runs, kind)
    assert tmt.fsck(repo=repo).ok
    assert tmt.gc(repo=repo, dry_run=True).objects_kept > 0
    assert tmt.query.rebuild_index(repo=repo) == 2
    removed = tmt.query.remove("last", repo=repo)
    assert [r.params for r in removed] == [{"lr": 0.2}]
    assert len(list(record_files(two_runs / ".tmt" / "experiments"))) == 1


def test_manager_takes_a_folder(two_runs: Path) -> None:
    assert tmt.TmtManager("last", config=str(two_runs)).get_metrics().as_dict() == {"f1": 0.4}


def test_a_run_started_with_a_repo_path_records_there(two_runs: Path) -> None:
    from tmt.recorder.run import LiveRun

    with LiveRun("eval", repo=str(two_runs)) as run:
        run.metrics["acc"] = 0.9
    assert tmt.get("last", repo=two_runs).metrics == {"acc": 0.9}
    assert not (Path.cwd() / ".tmt").exists()  # nothing created where the code ran


def test_remotes_push_pull_gc_fsck(two_runs: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    Repo.init(other)
    shared = tmp_path / "shared"
    shared.mkdir()
    for repo in (str(two_runs), other):
        tmt.remote.add("origin", str(shared), repo=repo)
    assert [s.name for s in tmt.remote.ls(repo=two_runs)] == ["origin"]
    assert tmt.remote.show("origin", repo=str(two_runs))["url"] == str(shared)
    assert len(tmt.push(repo=str(two_runs)).runs_pushed) == 2
    assert len(tmt.pull(repo=str(other)).runs_pulled) == 2
    assert [r.params["lr"] for r in tmt.runs(repo=other)] == [0.1, 0.2]
    checked = tmt.remote.fsck(repo=str(two_runs))
    assert (checked.runs, checked.problems) == (2, [])
    assert tmt.remote.gc(repo=str(two_runs), dry_run=True).objects_kept == checked.objects_checked
    tmt.remote.rm("origin", repo=str(other))
    assert tmt.remote.ls(repo=other) == []


@pytest.mark.slow  # a real `tmt run`, then a rerun: two processes
def test_rerun_takes_a_repo_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tmt.runner.rerun import rerun

    project = tmp_path / "project"
    project.mkdir()
    (project / "train.py").write_text("print('f1: 0.5')\n")
    subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "run", "--", sys.executable, "train.py"],
                   cwd=project, check=True, capture_output=True, timeout=120)
    (project / "train.py").write_text("print('f1: 99')\n")
    monkeypatch.chdir(tmp_path)
    result = rerun("last", repo=str(project))
    new = tmt.get("last", repo=project)
    assert (new.metrics, new.parent, new.id) == ({"f1": 0.5}, result.ref.id, result.new.id)
    assert result.folder.parent == project / ".tmt" / "cache" / "rerun"


def test_migrate_takes_a_project_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from legacy_helpers import extract_golden

    golden = extract_golden(tmp_path / "unpacked")
    monkeypatch.chdir(tmp_path)
    result = tmt.migrate(str(golden), dry_run=True)
    assert result.found == len(result.imported) > 0


def test_a_path_without_a_store_is_refused_never_created(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    for call in (lambda: tmt.diff("last", repo=empty), lambda: tmt.checkout("last", repo=str(empty)),
                 lambda: tmt.query.rebuild_index(repo=empty)):
        with pytest.raises(RepositoryNotFound) as e:
            call()
        assert e.value.message == f"no tmt repository at {empty}"
    assert os.listdir(empty) == []


def test_a_repo_that_is_neither_a_path_nor_a_repo_is_refused(two_runs: Path) -> None:
    with pytest.raises(UsageError) as e:
        tmt.diff("last", repo=42)
    assert e.value.message == "repo must be a path or a tmt.Repo, not int"
