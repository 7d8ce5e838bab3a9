"""tmt.workspace: in-place checkout (backup first, exact restore, ignored files untouched) and run diffs."""
from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tmt.errors import CheckoutError
from tmt.records.io import read_record, record_files, write_record
from tmt.records.model import Record, new_run_id
from tmt.snapshot.build import snapshot_repo
from tmt.workspace import BACKUP_NAME, checkout, diff


def put(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        p = root / name
        if data is None:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file below root except .tmt, path -> bytes (symlinks as 'link:' + target)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".tmt"]
        for f in files:
            p = Path(dirpath, f)
            rel = p.relative_to(root).as_posix()
            out[rel] = b"link:" + os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
    return out


def record_run(repo, name: str = "train", **fields) -> Record:
    snap = snapshot_repo(repo, warn=lambda m: None)
    now = datetime.now(timezone.utc).isoformat()
    rec = Record(id=new_run_id(), name=name, status="completed", created_at=now, finished_at=now, duration_s=1.0,
                 code={"root": str(repo.root), "tree": snap.tree, "files": snap.files, "bytes": snap.bytes, "git": None},
                 **fields)
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return rec


def backups(repo) -> list[Record]:
    return [r for r in map(read_record, record_files(repo.experiments_dir)) if r.name == BACKUP_NAME]


def test_restores_byte_for_byte_and_backs_up_first(repo):
    root = repo.root
    put(root, {"train.py": b"lr = 0.1\n", "pkg/model.py": b"class M: ...\n", "pkg/util.py": b"u\n"})
    run = record_run(repo)
    expected = tree_bytes(root)
    # The user keeps working: edits, adds (in a new folder), deletes.
    put(root, {"train.py": b"lr = 0.5\n", "pkg/util.py": None, "new/extra.py": b"e\n", "notes.txt": b"n\n"})
    edited = tree_bytes(root)

    result = checkout(run, repo=repo)

    assert tree_bytes(root) == expected
    assert not (root / "new").exists()  # emptied by the deletions, so removed
    assert (result.written, result.removed, result.removed_dirs) == (2, 2, 1)
    [backup] = backups(repo)
    assert backup.id == result.backup_id and backup.tags == ["checkout-backup"] and backup.status == "completed"
    # The backup holds the edited working tree: checking it out returns there exactly.
    result2 = checkout(backup, repo=repo)
    assert tree_bytes(root) == edited
    assert result2.backup_id != backup.id  # the restored state is saved too (it differs from the backup)


def test_ignored_files_are_never_touched(repo):
    root = repo.root
    put(root, {".gitignore": b"data/\n*.ckpt\n", "train.py": b"v1\n"})
    run = record_run(repo)
    put(root, {"train.py": b"v2\n", "data/big.csv": b"1,2\n", "model.ckpt": b"weights", "data/sub/x": b"x"})
    checkout(run, repo=repo)
    assert (root / "train.py").read_bytes() == b"v1\n"
    assert (root / "data/big.csv").read_bytes() == b"1,2\n"
    assert (root / "data/sub/x").read_bytes() == b"x"
    assert (root / "model.ckpt").read_bytes() == b"weights"


def test_unchanged_files_are_not_rewritten(repo):
    root = repo.root
    put(root, {"a.py": b"a\n", "b.py": b"b\n"})
    run = record_run(repo)
    put(root, {"b.py": b"B\n"})
    ino = os.stat(root / "a.py").st_ino
    mtime = os.stat(root / "a.py").st_mtime_ns
    result = checkout(run, repo=repo)
    assert result.written == 1
    assert (os.stat(root / "a.py").st_ino, os.stat(root / "a.py").st_mtime_ns) == (ino, mtime)
    # Restored files are real, writable files, not links into the store.
    st = os.stat(root / "b.py")
    assert st.st_nlink == 1 and st.st_mode & 0o200


def test_nothing_to_do_makes_no_backup(repo):
    put(repo.root, {"a.py": b"a\n"})
    run = record_run(repo)
    result = checkout(run, repo=repo)
    assert result.unchanged and result.backup_id is None
    assert backups(repo) == []


def test_same_working_tree_reuses_the_backup(repo):
    put(repo.root, {"a.py": b"a\n"})
    run = record_run(repo)
    put(repo.root, {"a.py": b"edited\n"})
    first = checkout(run, repo=repo)
    put(repo.root, {"a.py": b"edited\n"})  # the same edit again
    second = checkout(run, repo=repo)
    assert second.backup_reused and second.backup_id == first.backup_id
    assert len(backups(repo)) == 1


def test_untracked_file_in_the_way_is_refused_before_any_change(repo):
    root = repo.root
    put(root, {"a.py": b"a\n", "data.bin": b"tracked once"})
    run = record_run(repo)
    (repo.tmt_dir / "config.toml").write_text("max_file_size = 20\n")  # now too large for a backup
    repo = type(repo)(repo.tmt_dir)
    put(root, {"data.bin": b"precious data, grown large", "a.py": b"edited\n"})
    with pytest.raises(CheckoutError) as e:
        checkout(run, repo=repo)
    assert "would overwrite files that are not part of the working-tree snapshot" in e.value.message
    assert e.value.message.endswith("\n  data.bin")
    assert e.value.hint == "move them away, or pass --force to overwrite them"
    assert (root / "a.py").read_bytes() == b"edited\n" and (root / "data.bin").read_bytes() == b"precious data, grown large"
    assert backups(repo) == []
    result = checkout(run, repo=repo, force=True)
    assert result.overwritten_untracked == ["data.bin"]
    assert (root / "data.bin").read_bytes() == b"tracked once"


def test_ignored_file_of_the_run_is_kept_not_overwritten(repo):
    root = repo.root
    put(root, {"a.py": b"a\n", "data.bin": b"tracked once"})
    run = record_run(repo)
    put(root, {".gitignore": b"data.bin\n", "data.bin": b"precious data", "a.py": b"edited\n"})
    result = checkout(run, repo=repo, force=True)  # not even with --force
    assert (root / "data.bin").read_bytes() == b"precious data"
    assert (root / "a.py").read_bytes() == b"a\n" and not (root / ".gitignore").exists()
    assert result.kept_ignored == ["data.bin"] and result.overwritten_untracked == []


def test_identical_untracked_file_is_not_in_the_way(repo):
    root = repo.root
    put(root, {"a.py": b"a\n", "data.bin": b"same"})
    run = record_run(repo)
    put(root, {".gitignore": b"data.bin\n", "a.py": b"edited\n"})
    checkout(run, repo=repo)
    assert (root / "a.py").read_bytes() == b"a\n" and (root / ".gitignore").exists() is False


def test_folder_with_ignored_files_where_run_has_a_file_is_refused(repo):
    root = repo.root
    put(root, {"out": b"a file\n"})
    run = record_run(repo)
    put(root, {"out": None, ".gitignore": b"*.log\n", "out/x.log": b"log", "out/t.py": b"t"})
    with pytest.raises(CheckoutError) as e:
        checkout(run, repo=repo)
    assert e.value.message.endswith("where run " + run.id[:8] + " (train) has a file:\n  out")
    assert (root / "out/x.log").read_bytes() == b"log"


def test_tracked_folder_replaced_by_file_and_back(repo):
    root = repo.root
    put(root, {"out/t.py": b"t\n", "out/deep/u.py": b"u\n"})
    run = record_run(repo)
    put(root, {"out": None})
    put(root, {"out": b"now a file\n"})
    checkout(run, repo=repo)
    assert tree_bytes(root) == {"out/t.py": b"t\n", "out/deep/u.py": b"u\n"}
    [backup] = backups(repo)
    checkout(backup, repo=repo)
    assert tree_bytes(root) == {"out": b"now a file\n"}


def test_executable_and_symlink_restored(repo):
    root = repo.root
    put(root, {"run.sh": b"#!/bin/sh\n"})
    os.chmod(root / "run.sh", 0o755)
    os.symlink("run.sh", root / "link")
    run = record_run(repo)
    os.chmod(root / "run.sh", 0o644)
    os.unlink(root / "link")
    checkout(run, repo=repo)
    assert os.stat(root / "run.sh").st_mode & 0o111
    assert os.readlink(root / "link") == "run.sh"


def test_checkout_to_folder_is_read_only_hard_links(repo, tmp_path):
    put(repo.root, {"a.py": b"a\n", "pkg/b.py": b"b\n"})
    run = record_run(repo)
    out = tmp_path / "view"
    result = checkout(run, out, repo=repo)
    assert result.written == 2
    # and the view's pointer to its store (docs/format.md, "Views")
    assert tree_bytes(out) == {"a.py": b"a\n", "pkg/b.py": b"b\n", ".tmt": f"tmtdir: {repo.tmt_dir}\n".encode()}
    assert not os.stat(out / "a.py").st_mode & 0o222
    with pytest.raises(CheckoutError) as e:
        checkout(run, out, repo=repo)
    assert e.value.message == f"{out} already exists and is not an empty directory"


def test_diff_runs_and_working_tree(repo):
    put(repo.root, {"a.py": b"1\n", "b.py": b"b\n"})
    r1 = record_run(repo, params={"lr": 0.1, "opt": {"name": "sgd"}}, metrics={"f1": 0.5, "loss": 2})
    put(repo.root, {"a.py": b"2\n"})
    r2 = record_run(repo, params={"lr": 0.2, "opt": {"name": "sgd"}}, metrics={"f1": 0.75, "acc": 0.9})
    d = diff(r1, r2, repo=repo)
    assert [c.name for c in d.changes] == ["a.py"]
    assert d.params == [("lr", 0.1, 0.2), ("opt.name", "sgd", "sgd")]
    assert d.metrics == [("acc", None, 0.9), ("f1", 0.5, 0.75), ("loss", 2, None)]
    put(repo.root, {"c.py": b"c\n"})
    w = diff(r2, repo=repo)
    assert w.b is None and [(c.name, c.status) for c in w.changes] == [("c.py", "added")]
    assert w.params == [] and w.metrics == []


def test_backup_record_is_laid_out_as_a_recorded_run_of_the_same_tree(repo, project):
    import tmt
    from tmt.records.io import record_path
    from tmt.workspace import save_backup

    (project / "train.py").write_text("x = 1\n")
    with tmt.start_run("exp"):
        pass
    run = tmt.get("exp").record
    backup, reused = save_backup(repo, snapshot_repo(repo), ref="exp")
    assert not reused
    assert backup.code == run.code and list(backup.code) == ["root", "tree", "files", "bytes", "git"]
    assert read_record(record_path(repo.experiments_dir, backup.id)) == backup
    assert (backup.name, backup.status, backup.tags, backup.duration_s) == (BACKUP_NAME, "completed", ["checkout-backup"], 0.0)
    assert backup.finished_at == backup.created_at and backup.params == {} and backup.parent is None
