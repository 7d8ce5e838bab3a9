"""Views (`checkout -o`, run.code_path(), Artifact.path) and root: root writes through mode
0444, so it gets reflinks or copies, never hard links to the store's objects; a user who is
not root keeps hard-linked views. Both sides run for real: we run as root (containers, CI),
so the other side is a child that drops to an unprivileged uid."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tmt
from tmt.snapshot.checkout import materialize, walk_tree
from tmt.store import fsutil

needs_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")


def record_code(project: Path):
    (project / "train.py").write_text("lr = 0.1\n")
    with tmt.start_run(name="code") as run:
        run.save({"w": 1}, name="weights", format="json")
    return tmt.get(run.id)


@pytest.fixture
def as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root's side of the check, also where the tests do not run as root."""
    monkeypatch.setattr(fsutil, "ignores_file_modes", lambda: True)


def test_a_root_view_is_copies_and_writing_into_it_leaves_the_store_intact(repo, project, tmp_path, as_root):
    run = record_code(project)
    view = tmp_path / "view"
    materialize(repo.store, run.code["tree"], view)
    blob = repo.store.path(next(e.oid for _, e in walk_tree(repo.store, run.code["tree"])))
    assert not os.path.samefile(view / "train.py", blob)
    assert oct(os.stat(view / "train.py").st_mode & 0o777) == "0o444"  # still a read-only view
    os.chmod(view / "train.py", 0o644)  # what root's write does without asking
    with open(view / "train.py", "w") as f:
        f.write("edited")
    assert blob.read_text() == "lr = 0.1\n"


@needs_root
def test_tmt_checkout_o_as_root_then_a_write_into_the_view_leaves_fsck_clean(repo, project, tmp_path):
    from cli_helpers import invoke

    run = record_code(project)
    view = tmp_path / "view"
    assert invoke("checkout", run.id[:8], "-o", str(view)).exit_code == 0
    with open(view / "train.py", "a") as f:  # root ignores the 0444 mode
        f.write("# edited in the view\n")
    check = invoke("fsck")
    assert check.exit_code == 0, check.stdout
    assert tmt.get(run.id).code_path().joinpath("train.py").read_text() == "lr = 0.1\n"


def test_root_artifact_path_is_never_the_object(repo, project, as_root):
    run = record_code(project)
    art = run.artifacts["weights"]
    assert not os.path.samefile(art.path, repo.store.path(art.object))
    assert art.load() == {"w": 1}


def test_root_artifact_path_after_a_user_linked_it_is_a_copy(repo, project, monkeypatch):
    run = record_code(project)
    monkeypatch.setattr(fsutil, "ignores_file_modes", lambda: False)
    art = run.artifacts["weights"]
    assert os.path.samefile(art.path, repo.store.path(art.object))  # the user's hard link
    monkeypatch.setattr(fsutil, "ignores_file_modes", lambda: True)
    again = tmt.get(run.id).artifacts["weights"]
    assert not os.path.samefile(again.path, repo.store.path(art.object))


UNPRIVILEGED = """
import os, sys
from tmt.store.objects import ObjectStore  # imported first: the interpreter may live in /root
from tmt.snapshot.checkout import materialize
os.setgid(65534); os.setuid(65534)
materialize(ObjectStore(sys.argv[1]), sys.argv[2], sys.argv[3])
"""


@needs_root
def test_a_real_unprivileged_user_gets_hard_links_and_real_root_gets_copies(project, tmp_path):
    import shutil

    from tmt.snapshot.build import snapshot
    from tmt.store.objects import ObjectStore

    (project / "train.py").write_text("lr = 0.1\n")
    # A store the unprivileged user can read (pytest's own folders are root's only).
    shared = Path("/tmp") / f"tmt-views-{os.getpid()}"
    shared.mkdir()
    try:
        os.chmod(shared, 0o777)
        store = ObjectStore(shared / "store")
        tree = snapshot(project, store, warn=lambda m: None).tree
        blob = store.path(next(e.oid for _, e in walk_tree(store, tree)))
        for dirpath, dirs, files in os.walk(shared / "store"):  # the user's own store, as in real life
            for n in [dirpath, *(os.path.join(dirpath, f) for f in files)]:
                os.chown(n, 65534, 65534)
        user_view = shared / "user"
        r = subprocess.run([sys.executable, "-c", UNPRIVILEGED, str(shared / "store"), tree, str(user_view)],
                           capture_output=True, text=True)
        if r.returncode != 0 and "Operation not permitted" in r.stderr:
            pytest.skip("cannot drop privileges here")
        assert r.returncode == 0, r.stderr
        if not os.path.samefile(user_view / "train.py", blob):
            pytest.skip("hard links impossible here")
        root_view = tmp_path / "root-view"
        materialize(store, tree, root_view)  # the real euid 0
        assert not os.path.samefile(root_view / "train.py", blob)
        assert (root_view / "train.py").read_text() == "lr = 0.1\n"
    finally:
        shutil.rmtree(shared, ignore_errors=True)
