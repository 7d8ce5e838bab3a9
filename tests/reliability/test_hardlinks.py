"""The read-only contract of `tmt checkout -o`: for a user who is not root, its files are
hard links to the store's objects (root gets copies: see test_root_views.py). Editing one in place (after chmod u+w) edits the shared object; `tmt fsck` catches
it and `tmt fsck --repair` restores the object from any intact copy (the code root's file,
or a --search folder). Editors that save by writing a new file and renaming it do no harm.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

import tmt
import workload
from access_helpers import writable_by_a_user
from tmt.snapshot.checkout import read_tree


def record(project: Path) -> str:
    with tmt.start_run(name="code") as run:
        pass
    return run.id


def edit_in_place(path: Path, data: bytes) -> None:
    os.chmod(path, os.stat(path).st_mode | stat.S_IWUSR)
    with open(path, "r+b") as f:  # same inode: the store's object changes too
        f.write(data)


@pytest.mark.slow
def test_in_place_edit_is_caught_and_repaired_from_the_code_root(repo, project: Path, tmp_path: Path) -> None:
    (project / "train.py").write_text("lr = 0.1\n" * 20)
    run_id = record(project)
    out = tmp_path / "view"
    assert workload.run_tmt_as_non_root(["checkout", "-o", str(out), run_id[:8]], project).returncode == 0
    oid = tmt.get(run_id, repo=project).record.code["tree"]
    blob = repo.store.path(next(e.oid for e in read_tree(repo.store, oid)))
    assert os.path.samefile(out / "train.py", blob)
    assert not writable_by_a_user(out / "train.py")  # as root too: asked of a user who is not
    assert stat.S_IMODE(os.stat(out / "train.py").st_mode) == 0o444

    edit_in_place(out / "train.py", b"lr = 9.9")
    check = workload.run_tmt(["fsck"], project)
    assert check.returncode == 1
    assert f"corrupt_object: object {blob.parent.name}{blob.name} is corrupt: its content hashes to " in check.stdout
    assert f"(needed by record {run_id} code: train.py)" in check.stdout

    rep = workload.run_tmt(["fsck", "--repair"], project)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    assert workload.run_tmt(["fsck"], project).returncode == 0
    assert blob.read_text() == "lr = 0.1\n" * 20  # a new, intact object
    assert not os.path.samefile(out / "train.py", blob)  # the edited inode went to quarantine
    quarantined = list((repo.tmt_dir / "quarantine").iterdir())
    assert [q.name for q in quarantined] == [blob.parent.name + blob.name]
    fresh = tmp_path / "fresh"
    assert workload.run_tmt_as_non_root(["checkout", "-o", str(fresh), run_id[:8]], project).returncode == 0
    assert (fresh / "train.py").read_text() == "lr = 0.1\n" * 20


@pytest.mark.slow
def test_no_intact_copy_in_the_code_root_then_search(repo, project: Path, tmp_path: Path) -> None:
    (project / "model.py").write_text("layers = 3\n")
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(project / "model.py", backup / "model-old.py")
    run_id = record(project)
    out = tmp_path / "view"
    assert workload.run_tmt_as_non_root(["checkout", "-o", str(out), run_id[:8]], project).returncode == 0
    edit_in_place(out / "model.py", b"layers = 9\n")
    (project / "model.py").write_text("layers = 4\n")  # the code root moved on too

    rep = workload.run_tmt(["fsck", "--repair"], project)
    assert rep.returncode == 1
    assert "no file of 11 bytes with this hash was found; pass --search DIR to look elsewhere" in rep.stdout
    rep = workload.run_tmt(["fsck", "--repair", "--search", str(backup)], project)
    assert rep.returncode == 0, rep.stdout
    assert workload.run_tmt(["fsck"], project).returncode == 0
    assert tmt.get(run_id, repo=project).code_path().joinpath("model.py").read_text() == "layers = 3\n"


@pytest.mark.slow
def test_editors_that_replace_files_do_no_harm(repo, project: Path, tmp_path: Path) -> None:
    (project / "a.py").write_text("a = 1\n")
    run_id = record(project)
    out = tmp_path / "view"
    assert workload.run_tmt_as_non_root(["checkout", "-o", str(out), run_id[:8]], project).returncode == 0
    tmp = out / ".a.py.swp"
    tmp.write_text("a = 2\n")
    os.replace(tmp, out / "a.py")  # what vim, VS Code and most editors do
    assert workload.run_tmt(["fsck"], project).returncode == 0
