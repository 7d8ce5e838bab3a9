"""Materialize (read-only, hard-linked views) and restore (real copies), and hostile trees."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import msgpack
import pytest

from tree_helpers import raw_tree

from tmt.errors import CheckoutError, InvalidTree
from tmt.snapshot.build import snapshot
from tmt.snapshot.checkout import materialize, restore, walk_tree
from tmt.store import fsutil
from tmt.store.ids import hash_bytes
from tmt.store.objects import ObjectStore


def make(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)


def tree_of(store: ObjectStore, root: Path) -> str:
    return snapshot(root, store, warn=lambda m: None).tree


def everything(base: Path) -> dict[str, tuple]:
    """Every path below `base` with what it is: for comparing before and after."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for n in dirnames + filenames:
            p = Path(dirpath) / n
            st = p.lstat()
            if stat.S_ISLNK(st.st_mode):
                out[str(p.relative_to(base))] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[str(p.relative_to(base))] = ("d",)
            else:
                out[str(p.relative_to(base))] = ("f", p.read_bytes(), stat.S_IMODE(st.st_mode))
    return out


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "store")


@pytest.fixture
def code(tmp_path: Path) -> Path:
    root = tmp_path / "code"
    make(root, {"main.py": "print('hi')\n", "pkg/__init__.py": "", "pkg/deep/er/mod.py": "x = 1\n", "run.sh": "#!/bin/sh\necho\n", "name with space.txt": "s"})
    os.chmod(root / "run.sh", 0o755)
    os.symlink("pkg/deep", root / "shortcut")
    os.symlink("/nonexistent/target", root / "broken")
    return root


# -- materialize -----------------------------------------------------------------------------------


def test_materialize_identical_bytes_modes_links(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    out = tmp_path / "out" / "nested"
    stats = materialize(store, tree, out)
    assert stats.files == 7
    got = everything(out)
    assert got == {
        "main.py": ("f", b"print('hi')\n", 0o444),
        "pkg": ("d",),
        "pkg/__init__.py": ("f", b"", 0o444),
        "pkg/deep": ("d",),
        "pkg/deep/er": ("d",),
        "pkg/deep/er/mod.py": ("f", b"x = 1\n", 0o444),
        "run.sh": ("f", b"#!/bin/sh\necho\n", 0o555),
        "name with space.txt": ("f", b"s", 0o444),
        "shortcut": ("l", "pkg/deep"),
        "broken": ("l", "/nonexistent/target"),
    }
    # The view snapshots to the same tree.
    assert tree_of(store, out) == tree


def test_materialize_hard_links_share_inodes_with_objects(store: ObjectStore, code: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil, "ignores_file_modes", lambda: False)  # as a user who is not root
    tree = tree_of(store, code)
    out = tmp_path / "out"
    stats = materialize(store, tree, out)
    obj = store.path(hash_bytes(b"print('hi')\n"))
    assert (out / "main.py").stat().st_ino == obj.stat().st_ino
    assert obj.stat().st_nlink >= 2
    # Executables are copies: a shared object cannot carry the exec bit for every user.
    assert (out / "run.sh").stat().st_ino != store.path(hash_bytes(b"#!/bin/sh\necho\n")).stat().st_ino
    assert stats.linked == 4 and stats.copied == 1
    assert stats.bytes == sum(e.size for _, e in walk_tree(store, tree) if e.kind != "l")


def test_materialize_copies_when_asked(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    out = tmp_path / "out"
    stats = materialize(store, tree, out, link=False)
    assert stats.linked == 0 and stats.copied == 5
    assert (out / "main.py").stat().st_ino != store.path(hash_bytes(b"print('hi')\n")).stat().st_ino
    assert tree_of(store, out) == tree


def test_materialize_target_must_be_new_or_empty(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    full = tmp_path / "full"
    make(full, {"x": "mine"})
    with pytest.raises(CheckoutError) as err:
        materialize(store, tree, full)
    assert str(err.value) == f"{full} already exists and is not an empty directory\nhint: choose a new folder for -o, or remove this one"
    assert everything(full) == {"x": ("f", b"mine", 0o644)}
    afile = tmp_path / "afile"
    afile.write_text("f")
    with pytest.raises(CheckoutError, match="already exists and is not an empty directory"):
        materialize(store, tree, afile)
    empty = tmp_path / "empty"
    empty.mkdir()
    link = tmp_path / "link_to_empty"
    link.symlink_to(empty)
    with pytest.raises(CheckoutError, match="already exists and is not an empty directory"):
        materialize(store, tree, link)
    assert list(empty.iterdir()) == []
    materialize(store, tree, empty)  # an empty folder is fine
    assert (empty / "main.py").read_text() == "print('hi')\n"


def test_materialize_missing_object(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    gone = hash_bytes(b"x = 1\n")
    store.remove(gone)
    with pytest.raises(CheckoutError) as err:
        materialize(store, tree, tmp_path / "out")
    assert str(err.value) == (
        f"cannot check out pkg/deep/er/mod.py: object {gone} is missing from the store\n"
        "hint: run `tmt fsck` to check the store"
    )


def test_materialize_missing_root_tree(store: ObjectStore, tmp_path: Path) -> None:
    oid = hash_bytes(b"no such tree")
    with pytest.raises(CheckoutError, match=f"cannot check out .: object {oid} is missing"):
        materialize(store, oid, tmp_path / "out")


# -- restore ----------------------------------------------------------------------------------------


def test_restore_writes_real_writable_copies(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    work = tmp_path / "work"
    old_umask = os.umask(0o022)
    try:
        stats = restore(store, tree, work)
    finally:
        os.umask(old_umask)
    assert stats.linked == 0 and stats.copied == 5
    got = everything(work)
    assert got["main.py"] == ("f", b"print('hi')\n", 0o644)
    assert got["run.sh"] == ("f", b"#!/bin/sh\necho\n", 0o755)
    assert got["shortcut"] == ("l", "pkg/deep")
    assert (work / "main.py").stat().st_ino != store.path(hash_bytes(b"print('hi')\n")).stat().st_ino
    (work / "main.py").write_text("edited")  # writable, and the store is not affected
    assert store.get(hash_bytes(b"print('hi')\n"), verify=True) == b"print('hi')\n"


def test_restore_replaces_tree_files_and_leaves_untracked_alone(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    work = tmp_path / "work"
    make(work, {"main.py": "local edit", "pkg/deep/er/mod.py": "changed", "untracked.txt": "keep me", "pkg/notes.md": "mine", "data/big.bin": "ignored data"})
    os.symlink("elsewhere", work / "run.sh")  # a link where the tree has a file
    restore(store, tree, work)
    got = everything(work)
    assert got["main.py"][1] == b"print('hi')\n"
    assert got["pkg/deep/er/mod.py"][1] == b"x = 1\n"
    assert got["run.sh"][:2] == ("f", b"#!/bin/sh\necho\n")
    assert got["untracked.txt"][1] == b"keep me"
    assert got["pkg/notes.md"][1] == b"mine"
    assert got["data/big.bin"][1] == b"ignored data"
    assert not any(".tmt-" in p for p in got)  # no temp names left


def test_restore_over_a_read_only_view(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    view = tmp_path / "view"
    materialize(store, tree, view)
    restore(store, tree, view)
    assert (view / "main.py").stat().st_ino != store.path(hash_bytes(b"print('hi')\n")).stat().st_ino
    assert stat.S_IMODE(store.path(hash_bytes(b"print('hi')\n")).stat().st_mode) == 0o444


def test_restore_follows_the_umask_in_force_at_each_call(store: ObjectStore, tmp_path: Path) -> None:
    code = tmp_path / "code"
    make(code, {"a.py": "a\n"})
    tree = snapshot(code, store, warn=lambda m: None).tree
    old = os.umask(0o022)
    try:
        restore(store, tree, tmp_path / "w1")
        os.umask(0o077)  # changed between two restores of one process
        restore(store, tree, tmp_path / "w2")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w1" / "a.py").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "w2" / "a.py").stat().st_mode) == 0o600


def test_restore_never_sets_the_process_umask(store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.umask() can only be read by setting it; meanwhile other threads' files get wrong modes."""
    code = tmp_path / "code"
    make(code, {"a.py": "a\n", "b/c.py": "c\n"})
    tree = snapshot(code, store, warn=lambda m: None).tree
    calls = []
    real = os.umask
    old = real(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda m: calls.append(m) or real(m))
        restore(store, tree, tmp_path / "w")
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert calls == []
    assert stat.S_IMODE((tmp_path / "w" / "b" / "c.py").stat().st_mode) == 0o640


def test_restore_refuses_a_folder_where_a_file_goes(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    work = tmp_path / "work"
    make(work, {"main.py/precious.txt": "not code but mine"})
    with pytest.raises(CheckoutError) as err:
        restore(store, tree, work)
    assert str(err.value) == (
        "main.py is a folder in the working tree but a file in the run\n"
        "hint: move that folder away and check out again"
    )
    assert (work / "main.py" / "precious.txt").read_text() == "not code but mine"
    assert not any(".tmt-" in p for p in everything(work))


def test_restore_replaces_a_file_where_a_folder_goes(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    work = tmp_path / "work"
    make(work, {"pkg": "a file named like the package"})
    restore(store, tree, work)
    assert (work / "pkg" / "deep" / "er" / "mod.py").read_text() == "x = 1\n"


def test_restore_never_writes_through_a_symlinked_folder(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    outside = tmp_path / "outside"
    make(outside, {"__init__.py": "outside's own", "deep/er/mod.py": "outside's own"})
    before = everything(outside)
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(outside, work / "pkg")  # where the tree has the folder pkg/
    os.symlink(outside / "__init__.py", work / "main.py")  # where the tree has a file
    restore(store, tree, work)
    assert everything(outside) == before
    assert not (work / "pkg").is_symlink() and (work / "pkg" / "deep" / "er" / "mod.py").read_text() == "x = 1\n"
    assert not (work / "main.py").is_symlink()


def test_restore_into_a_symlinked_target_and_into_a_file(store: ObjectStore, code: Path, tmp_path: Path) -> None:
    tree = tree_of(store, code)
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    restore(store, tree, tmp_path / "alias")  # the target itself is the caller's choice
    assert (real / "main.py").read_text() == "print('hi')\n"
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(CheckoutError) as err:
        restore(store, tree, afile)
    assert err.value.message == f"cannot restore into {afile}: File exists"


# -- hostile trees ---------------------------------------------------------------------------------


def hostile_cases(store: ObjectStore) -> dict[str, tuple[str, str]]:
    blob = bytes.fromhex(store.put(b"evil"))
    good = raw_tree(store, [[b"ok.txt", "f", blob, 4]])
    nul_link = bytes.fromhex(store.put(b"a\0b"))
    return {
        "dotdot": (raw_tree(store, [[b"..", "f", blob, 4]]), "invalid entry name b'..'"),
        "dotdot_dir": (raw_tree(store, [[b"..", "d", bytes.fromhex(good), 4]]), "invalid entry name b'..'"),
        "slash": (raw_tree(store, [[b"a/b", "f", blob, 4]]), "invalid entry name b'a/b': contains '/' or NUL"),
        "absolute": (raw_tree(store, [[b"/etc", "d", bytes.fromhex(good), 4]]), "contains '/' or NUL"),
        "nul": (raw_tree(store, [[b"a\0", "f", blob, 4]]), "contains '/' or NUL"),
        "negative_size": (raw_tree(store, [[b"a", "f", blob, -1]]), "has an invalid size -1"),
        "huge_size": (raw_tree(store, [[b"a", "f", blob, (1 << 64) - 1]]), "has an invalid size"),
        "kind": (raw_tree(store, [[b"a", "c", blob, 4]]), "has unknown kind 'c'"),
        "dupe": (raw_tree(store, [[b"a", "f", blob, 4], [b"a", "d", bytes.fromhex(good), 4]]), "not sorted and unique"),
        "blob_as_tree": (raw_tree(store, [[b"sub", "d", blob, 4]]), "does not decode"),
        "nul_link": (raw_tree(store, [[b"ln", "l", nul_link, 3]]), "is a symlink to an invalid target"),
    }


@pytest.mark.parametrize("case", ["dotdot", "dotdot_dir", "slash", "absolute", "nul", "negative_size", "huge_size", "kind", "dupe", "blob_as_tree", "nul_link"])
@pytest.mark.parametrize("how", ["materialize", "restore"])
def test_hostile_tree_is_refused(store: ObjectStore, tmp_path: Path, case: str, how: str) -> None:
    oid, message = hostile_cases(store)[case]
    arena = tmp_path / "arena"
    target = arena / "target"
    make(arena, {"neighbour.txt": "n", "target/.keep": ""} if how == "restore" else {"neighbour.txt": "n"})
    before = everything(arena)
    before_store = set(store)
    call = materialize if how == "materialize" else restore
    with pytest.raises(InvalidTree) as err:
        call(store, oid, target)
    assert message in err.value.message
    assert err.value.message.startswith("tree ")  # names the object
    after = everything(arena)
    outside = {k: v for k, v in after.items() if not k.startswith("target")}
    assert outside == {k: v for k, v in before.items() if not k.startswith("target")}
    assert set(store) == before_store
    assert not Path("/etc/ok.txt").exists()


def test_deeply_nested_tree_is_refused(store: ObjectStore, tmp_path: Path) -> None:
    blob = bytes.fromhex(store.put(b"bottom"))
    oid = raw_tree(store, [[b"f", "f", blob, 6]])
    with store.batch() as batch:  # one sync, not 600 fsyncs
        for _ in range(600):
            oid = batch.add(msgpack.packb([1, [[b"d", "d", bytes.fromhex(oid), 6]]], use_bin_type=True))
    arena = tmp_path / "arena"
    arena.mkdir()
    with pytest.raises(InvalidTree) as err:
        materialize(store, oid, arena / "target")
    assert err.value.message.endswith("nests deeper than 512 levels")
    assert err.value.hint == "no project nests that deep: the store is damaged or hostile (`tmt fsck` names the tree)"
    assert os.listdir(arena) == []  # refused before anything is written
    with pytest.raises(InvalidTree, match="nests deeper than 512 levels"):
        list(walk_tree(store, oid))


def test_symlink_entries_pointing_outside_are_links_not_writes(store: ObjectStore, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target_blob = bytes.fromhex(store.put(os.fsencode(outside)))
    file_blob = bytes.fromhex(store.put(b"payload"))
    sub = raw_tree(store, [[b"x.txt", "f", file_blob, 7]])
    # "escape" is a link to the outside folder; "escape2" a real folder: the names differ, so
    # the file goes into the real folder, never through the link.
    oid = raw_tree(store, [[b"escape", "l", target_blob, len(os.fsencode(outside))], [b"escape2", "d", bytes.fromhex(sub), 7]])
    out = tmp_path / "out"
    materialize(store, oid, out)
    assert os.readlink(out / "escape") == str(outside)
    assert (out / "escape2" / "x.txt").read_bytes() == b"payload"
    assert list(outside.iterdir()) == []


def test_walk_tree_lists_files_and_links(store: ObjectStore, code: Path) -> None:
    tree = tree_of(store, code)
    assert sorted(p for p, _ in walk_tree(store, tree)) == [
        b"broken", b"main.py", b"name with space.txt", b"pkg/__init__.py", b"pkg/deep/er/mod.py", b"run.sh", b"shortcut",
    ]
