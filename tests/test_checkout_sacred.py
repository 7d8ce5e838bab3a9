"""In-place checkout never loses a byte (DESIGN section 11): ignored means untouched by either
side's rules, environments and caches are never recorded nor deleted, a file written after
the backup is never silently overwritten, every stop names the backup."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tmt
import tmt.workspace as ws
from tmt.errors import CheckoutError, CheckoutInterrupted
from tmt.records.io import read_record, record_files
from tmt.snapshot.build import snapshot_repo
from tmt.snapshot.checkout import walk_tree
from tmt.store.pins import live_pins
from tmt.workspace import checkout

from cli_helpers import files_of, invoke


def put(root: Path, files: dict[str, bytes | None]) -> None:
    for name, data in files.items():
        p = root / name
        if data is None:
            p.unlink()
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)


def record(name: str = "train") -> str:
    with tmt.start_run(name=name) as run:
        pass
    return run.id


def tracked(repo, tree: str) -> list[str]:
    return sorted(os.fsdecode(p) for p, _ in walk_tree(repo.store, tree))


def backups(repo) -> list:
    return [r for r in map(read_record, record_files(repo.experiments_dir)) if "checkout-backup" in r.tags]


# -- ignored means untouched, by either side's rules -----------------------------------------


def test_round_trip_across_a_gitignore_change_keeps_ignored_outputs(repo, project):
    put(project, {"train.py": b"v1\n"})
    old = record()
    # Later the project starts ignoring results/, and writes results there.
    put(project, {"train.py": b"v2\n", ".gitignore": b"results/\n", "results/metrics.json": b"{}",
                  "results/model.bin": b"weights"})
    before = files_of(project)
    first = checkout(old[:8], repo=repo)
    # The old run has no .gitignore: results/ is now tracked by the working tree's rules.
    assert files_of(project) == {"train.py": b"v1\n", "results/metrics.json": b"{}", "results/model.bin": b"weights"}
    inodes = {p: (project / p).stat().st_ino for p in ("results/metrics.json", "results/model.bin")}
    back = checkout(first.backup_id, repo=repo)
    assert files_of(project) == before  # results/ still there: the backup's rules ignore it
    assert back.removed == 0 and sorted(back.kept_ignored) == ["results/metrics.json", "results/model.bin"]
    assert {p: (project / p).stat().st_ino for p in inodes} == inodes  # not rewritten either


def test_ignored_file_the_run_has_is_neither_rewritten_nor_deleted(repo, project):
    put(project, {"train.py": b"v1\n", "config.yaml": b"lr: 1\n"})
    old = record()
    put(project, {"train.py": b"v2\n", ".gitignore": b"config.yaml\n", "config.yaml": b"lr: 2 (mine)\n"})
    r = invoke("checkout", old[:8])
    assert r.exit_code == 0
    assert "Left 1 ignored file(s) as they are (ignored here or by the run): config.yaml\n" in r.stderr
    assert (project / "config.yaml").read_bytes() == b"lr: 2 (mine)\n"
    assert (project / "train.py").read_bytes() == b"v1\n"
    r = invoke("checkout", backups(repo)[0].id[:8])
    assert r.exit_code == 0 and (project / "train.py").read_bytes() == b"v2\n"


def test_identical_ignored_file_is_not_rewritten_on_the_way_back(repo, project):
    put(project, {"train.py": b"v1\n", "data.csv": b"a,b\n"})
    old = record()
    put(project, {"train.py": b"v2\n", ".gitignore": b"data.csv\n"})
    st = (project / "data.csv").stat()
    first = checkout(old[:8], repo=repo)
    checkout(first.backup_id, repo=repo)
    now = (project / "data.csv").stat()
    assert (now.st_ino, now.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)


def test_a_venv_made_after_the_run_survives_and_is_never_recorded(repo, project):
    put(project, {"train.py": b"v1\n"})
    old = record()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True)
    put(project, {"train.py": b"v2\n", "env2/conda-meta/history": b"conda", "env2/lib/x.py": b"x"})
    venv = files_of(project / ".venv")
    snap = snapshot_repo(repo, warn=lambda m: None)
    assert tracked(repo, snap.tree) == ["train.py"]
    result = checkout(old[:8], repo=repo)
    assert files_of(project / ".venv") == venv and (project / "env2/lib/x.py").exists()
    assert result.removed == 0


def test_builtin_excludes_and_a_reinclude_that_wins(repo, project):
    names = ["__pycache__", "node_modules", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache", ".ruff_cache",
             "mlruns", "wandb"]
    put(project, {"train.py": b"x", **{f"{n}/f": b"y" for n in names}, **{f"sub/{n}/g": b"z" for n in names}})
    assert tracked(repo, snapshot_repo(repo).tree) == ["train.py"]
    put(project, {".tmtignore": b"!wandb/\n", "venv/pyvenv.cfg": b"home = /usr\n"})
    assert tracked(repo, snapshot_repo(repo).tree) == [".tmtignore", "sub/wandb/g", "train.py", "wandb/f"]
    put(project, {".tmtignore": b"!wandb/\n!venv/\n"})
    assert "venv/pyvenv.cfg" in tracked(repo, snapshot_repo(repo).tree)


def test_the_running_interpreter_is_never_deleted(repo, project, monkeypatch):
    put(project, {"train.py": b"v1\n"})
    old = record()
    # A venv the user chose to record (re-included), made after the old run: it is what runs us.
    put(project, {".tmtignore": b"!pyenv/\n", "pyenv/pyvenv.cfg": b"home = /usr\n", "pyenv/bin/python": b"ELF"})
    monkeypatch.setattr(sys, "prefix", str(project / "pyenv"))
    result = checkout(old[:8], repo=repo)
    assert (project / "pyenv/bin/python").read_bytes() == b"ELF"
    assert not (project / ".tmtignore").exists()  # the rest of the checkout went ahead
    assert sorted(result.kept_ignored) == ["pyenv/bin/python", "pyenv/pyvenv.cfg"]


def test_first_big_snapshot_says_so_once_with_the_biggest_folders(repo, project, monkeypatch):
    monkeypatch.setattr("tmt.snapshot.build.BIG_FILES", 50)  # 5,000 in use: the same check, faster
    for d, n in (("data", 40), ("src", 11)):
        (project / d).mkdir()
        for i in range(n):
            (project / d / f"{i}.txt").write_bytes(b"")
    seen: list[str] = []
    snapshot_repo(repo, warn=seen.append)
    assert seen == [
        f"this first snapshot of {project} holds 51 files (0 B); the biggest folders: data/ (40 files, 0 B), "
        "src/ (11 files, 0 B). If some are data, outputs or an environment, add them to .tmtignore (git's syntax)"
    ]
    seen.clear()
    (project / "data" / "new.txt").write_bytes(b"")
    snapshot_repo(repo, warn=seen.append)
    assert seen == []


# -- a file written after the backup ---------------------------------------------------------


def test_a_file_changed_after_the_backup_stops_the_checkout_and_is_kept(repo, project, monkeypatch):
    put(project, {"a.py": b"a1\n", "b.py": b"b1\n", "log.txt": b"1\n"})
    old = record()
    put(project, {"a.py": b"a2\n", "b.py": b"b2\n", "log.txt": b"1\n2\n"})
    real = ws.save_backup

    def then_write(*args, **kw):
        out = real(*args, **kw)
        with open(project / "log.txt", "ab") as f:  # a writer appends after the backup was taken
            f.write(b"3\n")
        return out

    monkeypatch.setattr(ws, "save_backup", then_write)
    with pytest.raises(CheckoutError) as e:
        checkout(old[:8], repo=repo)
    backup = backups(repo)[0].id[:8]
    assert e.value.message == (
        "checkout stopped half-way: log.txt changed after the backup was taken, so it was left as it is "
        "(something is writing into the working tree)"
    )
    assert e.value.hint == f"your working tree was saved as run {backup}; return with: tmt checkout {backup}"
    assert (project / "log.txt").read_bytes() == b"1\n2\n3\n"


def test_a_write_landing_during_the_replace_is_put_back(repo, project, monkeypatch):
    put(project, {"log.txt": b"1\n"})
    old = record()
    put(project, {"log.txt": b"1\n2\n"})
    real_guard = ws._Guard.__call__

    def racing(self, dirfd, name, path):
        after = real_guard(self, dirfd, name, path)
        with open(project / "log.txt", "ab") as f:  # between the check and the rename
            f.write(b"3\n")
        return after

    monkeypatch.setattr(ws._Guard, "__call__", racing)
    with pytest.raises(CheckoutError, match="log.txt was written to after the backup was taken"):
        checkout(old[:8], repo=repo)
    assert (project / "log.txt").read_bytes() == b"1\n2\n3\n"
    assert [n for n in os.listdir(project) if n.startswith(".tmt-")] == []


def test_files_changing_before_any_change_are_snapshotted_again(repo, project, monkeypatch):
    put(project, {"a.py": b"a1\n"})
    old = record()
    put(project, {"a.py": b"a2\n"})
    real = ws.plan_restore
    calls = []

    def edit_once(*args):
        calls.append(1)
        if len(calls) == 1:
            (project / "a.py").write_bytes(b"a3\n")  # between the snapshot and the check
        return real(*args)

    monkeypatch.setattr(ws, "plan_restore", edit_once)
    result = checkout(old[:8], repo=repo)
    assert len(calls) == 2 and (project / "a.py").read_bytes() == b"a1\n"
    checkout(result.backup_id, repo=repo)
    assert (project / "a.py").read_bytes() == b"a3\n"  # the backup holds the last edit


# -- interruptions, locks, pins ---------------------------------------------------------------


def test_ctrl_c_half_way_names_the_backup(repo, project, monkeypatch):
    put(project, {"a.py": b"a1\n"})
    old = record()
    put(project, {"a.py": b"a2\n"})

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("tmt.snapshot.checkout.restore_entries", interrupted)
    r = invoke("checkout", old[:8])
    backup = backups(repo)[0].id[:8]
    assert r.exit_code == 130
    assert r.stderr.endswith(
        "Error: checkout interrupted half-way (Ctrl-C); 0 file(s) removed and 0 written so far\n"
        f"hint: your working tree was saved as run {backup}; return with: tmt checkout {backup}\n"
    )
    with pytest.raises(CheckoutInterrupted):
        checkout(old[:8], repo=repo)


def test_one_checkout_at_a_time_and_no_run_starts_during_one(repo, project, python, monkeypatch):
    put(project, {"a.py": b"a1\n"})
    old = record()
    holder = subprocess.Popen(
        [python, "-c", "import sys, time; from tmt.snapshot.rootlock import RootLock; "
         "RootLock(sys.argv[1], sys.argv[2], exclusive=True, what='run 1234abcd (train)').acquire(); "
         "print('held', flush=True); time.sleep(60)", str(repo.tmt_dir), str(project)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        monkeypatch.setattr("tmt.snapshot.rootlock.WAIT_S", 0.2)
        with pytest.raises(tmt.errors.CheckoutInProgress) as e:
            checkout(old[:8], repo=repo)
        assert e.value.message.startswith(f"`tmt checkout` of run 1234abcd (train) (pid {holder.pid} on ")
        assert e.value.message.endswith(f" is rewriting {project}; one checkout at a time")
        with pytest.raises(tmt.errors.CheckoutInProgress) as e:
            record()
        assert e.value.message.endswith(
            f" is rewriting {project}; waited 0 s, and a run started now would record a half-restored tree")
        assert e.value.hint == "wait for the checkout to finish, then start the run again"
    finally:
        holder.kill()
        holder.wait()
    record()  # the lock died with its holder


def test_a_checkout_pins_every_object_it_reads(repo, project, monkeypatch):
    put(project, {"a.py": b"a1\n", "pkg/b.py": b"b\n", "pkg/deep/c.py": b"c\n"})
    old = record()
    tree = tmt.get(old).code["tree"]
    want = {tree} | {e.oid for _, e in walk_tree(repo.store, tree)}
    seen = {}
    real = ws.apply_restore

    def look(*args, **kw):
        seen["pins"] = live_pins(repo.tmt_dir)
        return real(*args, **kw)

    monkeypatch.setattr(ws, "apply_restore", look)
    put(project, {"a.py": b"a2\n"})
    checkout(old[:8], repo=repo)
    assert want <= seen["pins"]


# -- backups and refs --------------------------------------------------------------------------


def test_backups_never_become_last_and_ls_hides_them(repo, project):
    put(project, {"a.py": b"1\n"})
    first = record("train")
    put(project, {"a.py": b"2\n"})
    second = record("train")
    put(project, {"a.py": b"3\n"})
    backup = checkout("last~1", repo=repo).backup_id
    assert tmt.get("last").id == second and tmt.get("last~1").id == first and tmt.get("train~1").id == first
    assert tmt.get(backup[:8]).tags == ["checkout-backup"]
    assert [r.id for r in tmt.runs()] == [first, second]
    assert [r.id for r in tmt.runs(tags=["checkout-backup"])] == [backup]
    assert backup[:8] not in invoke("ls").stdout
    assert backup[:8] in invoke("ls", "--all").stdout and backup[:8] in invoke("ls", "--tag", "checkout-backup").stdout
    r = invoke("show", "checkout-backup")
    assert r.exit_code == 2
    assert "hint: checkout backups are reached by id only: list them with `tmt ls --tag checkout-backup`" in r.stderr


# -- the store and git ------------------------------------------------------------------------


def test_git_add_never_commits_the_store(project):
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    put(project, {"train.py": b"x"})
    record()
    assert (project / ".tmt" / ".gitignore").read_text().splitlines()[-1] == "*"
    subprocess.run(["git", "add", "-A"], cwd=project, check=True)
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=project, capture_output=True,
                            text=True, check=True).stdout.split()
    assert staged == ["train.py"]


def test_an_existing_store_gets_its_gitignore_on_the_next_run(repo, project):
    (repo.tmt_dir / ".gitignore").unlink()
    record()
    assert (repo.tmt_dir / ".gitignore").read_text().endswith("\n*\n")


def test_an_ignored_file_where_the_run_has_a_folder_stays_even_with_force(repo, project):
    put(project, {"train.py": b"v1\n", "data/x.csv": b"1\n"})
    old = record()
    put(project, {"data/x.csv": None})
    (project / "data").rmdir()
    put(project, {"train.py": b"v2\n", ".gitignore": b"data\n", "data": b"a file of mine"})
    result = checkout(old[:8], repo=repo, force=True)
    assert (project / "data").read_bytes() == b"a file of mine"
    assert result.kept_ignored == ["data/x.csv"] and (project / "train.py").read_bytes() == b"v1\n"
