"""tmt.snapshot.diff: tree-vs-tree changes and unified text diffs."""
from __future__ import annotations

import os
from pathlib import Path

from tmt.snapshot.build import snapshot_repo
from tmt.snapshot.diff import ADDED, MODIFIED, REMOVED, diff_trees, file_diff, is_binary


def _write(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        p = root / name
        if data is None:
            if p.is_dir():
                import shutil

                shutil.rmtree(p)
            else:
                p.unlink()
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def _snap(repo) -> str:
    return snapshot_repo(repo, warn=lambda m: None).tree


def test_identical_trees_have_no_changes(repo):
    _write(repo.root, {"a.py": b"x = 1\n", "pkg/b.py": b"y\n"})
    t = _snap(repo)
    assert diff_trees(repo.store, t, t) == []


def test_added_removed_modified_sorted_by_path(repo):
    _write(repo.root, {"a.py": b"x = 1\n", "pkg/b.py": b"y\n", "pkg/c.py": b"c\n", "same/s.py": b"s\n"})
    t1 = _snap(repo)
    _write(repo.root, {"a.py": b"x = 2\n", "pkg/b.py": None, "pkg/d.py": b"d\n", "z.txt": b"z\n"})
    t2 = _snap(repo)
    changes = diff_trees(repo.store, t1, t2)
    assert [(c.name, c.status) for c in changes] == [
        ("a.py", MODIFIED), ("pkg/b.py", REMOVED), ("pkg/d.py", ADDED), ("z.txt", ADDED),
    ]
    back = diff_trees(repo.store, t2, t1)
    assert [(c.name, c.status) for c in back] == [
        ("a.py", MODIFIED), ("pkg/b.py", ADDED), ("pkg/d.py", REMOVED), ("z.txt", REMOVED),
    ]


def test_file_replaced_by_folder(repo):
    _write(repo.root, {"thing": b"file\n"})
    t1 = _snap(repo)
    _write(repo.root, {"thing": None, "thing/inner.py": b"i\n"})
    t2 = _snap(repo)
    assert [(c.name, c.status) for c in diff_trees(repo.store, t1, t2)] == [
        ("thing", REMOVED), ("thing/inner.py", ADDED),
    ]


def test_empty_side_lists_every_file(repo):
    _write(repo.root, {"a": b"1\n", "d/b": b"2\n"})
    t = _snap(repo)
    assert [(c.name, c.status) for c in diff_trees(repo.store, None, t)] == [("a", ADDED), ("d/b", ADDED)]


def test_unified_diff_lines_and_counts(repo):
    _write(repo.root, {"m.py": b"a\nb\nc\n"})
    t1 = _snap(repo)
    _write(repo.root, {"m.py": b"a\nB\nc\nd\n"})
    t2 = _snap(repo)
    [change] = diff_trees(repo.store, t1, t2)
    fd = file_diff(repo.store, change)
    assert fd.lines == ["--- a/m.py", "+++ b/m.py", "@@ -1,3 +1,4 @@", " a", "-b", "+B", " c", "+d"]
    assert (fd.added, fd.removed, fd.binary, fd.note) == (2, 1, False, None)


def test_dash_lines_are_counted(repo):
    _write(repo.root, {"m.md": b"--- x\n"})
    t1 = _snap(repo)
    _write(repo.root, {"m.md": b"+++ y\n"})
    t2 = _snap(repo)
    fd = file_diff(repo.store, diff_trees(repo.store, t1, t2)[0])
    assert (fd.added, fd.removed) == (1, 1)
    assert fd.lines[3:] == ["---- x", "++++ y"]


def test_missing_final_newline_marker(repo):
    _write(repo.root, {"m.py": b"a\nb"})
    t1 = _snap(repo)
    _write(repo.root, {"m.py": b"a\nc"})
    t2 = _snap(repo)
    fd = file_diff(repo.store, diff_trees(repo.store, t1, t2)[0])
    assert fd.lines[2:] == ["@@ -1,2 +1,2 @@", " a", "-b", "\\ No newline at end of file", "+c",
                            "\\ No newline at end of file"]


def test_added_and_removed_files_diff_against_dev_null(repo):
    t0 = _snap(repo)
    _write(repo.root, {"n.py": b"new\n", "empty": b""})
    t1 = _snap(repo)
    changes = diff_trees(repo.store, t0, t1)
    by = {c.name: file_diff(repo.store, c) for c in changes}
    assert by["n.py"].lines == ["--- /dev/null", "+++ b/n.py", "@@ -0,0 +1 @@", "+new"]
    assert by["empty"].note == "new empty file"
    gone = file_diff(repo.store, diff_trees(repo.store, t1, t0)[1])
    assert gone.lines == ["--- a/n.py", "+++ /dev/null", "@@ -1 +0,0 @@", "-new"]


def test_binary_files_are_not_diffed(repo):
    _write(repo.root, {"w.bin": b"\x00\x01\x02"})
    t1 = _snap(repo)
    _write(repo.root, {"w.bin": b"\x00\x01\x03"})
    t2 = _snap(repo)
    fd = file_diff(repo.store, diff_trees(repo.store, t1, t2)[0])
    assert fd.binary and fd.lines == []
    assert fd.note == "Binary files a/w.bin and b/w.bin differ"
    assert is_binary(b"\xff\xfe latin") and not is_binary("héllo".encode())


def test_mode_change_only(repo):
    _write(repo.root, {"run.sh": b"echo\n"})
    t1 = _snap(repo)
    os.chmod(repo.root / "run.sh", 0o755)
    t2 = _snap(repo)
    [change] = diff_trees(repo.store, t1, t2)
    assert change.status == MODIFIED and change.mode_changed
    fd = file_diff(repo.store, change)
    assert fd.lines == [] and fd.note == "mode 100644 -> 100755"


def test_symlink_target_change(repo):
    os.symlink("a", repo.root / "link")
    t1 = _snap(repo)
    os.unlink(repo.root / "link")
    os.symlink("b", repo.root / "link")
    t2 = _snap(repo)
    fd = file_diff(repo.store, diff_trees(repo.store, t1, t2)[0])
    # the target is the link's content, without a newline, as git writes it
    assert fd.lines[2:] == ["@@ -1 +1 @@", "-a", "\\ No newline at end of file", "+b", "\\ No newline at end of file"]
    assert fd.header[0] == "diff --git a/link b/link"
