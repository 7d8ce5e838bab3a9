"""Snapshots of a code root: what is kept, what is left out and said so, the stat cache, gc."""
from __future__ import annotations

import os
import socket
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from tmt.errors import SnapshotError, UsageError
from tmt.repo import Repo
from tmt.snapshot import build
from tmt.snapshot.build import SnapshotResult, snapshot, snapshot_repo
from tmt.snapshot.checkout import read_tree, walk_tree
from tmt.snapshot.statcache import RACY_NS
from tmt.snapshot.tree import decode_tree
from tmt.store.ids import hash_bytes
from tmt.store.objects import ObjectStore

MiB = 1 << 20


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        p.write_bytes(content)
    return root


def settle() -> None:
    """Let every file written so far age past the racily-clean window (mtime and ctime).

    ctime cannot be set from user space, so this waits for real; no timing is asserted.
    """
    time.sleep(RACY_NS / 1e9 + 0.02)


def snap(repo: Repo, warnings: list[str] | None = None) -> SnapshotResult:
    return snapshot_repo(repo, warn=(warnings.append if warnings is not None else lambda m: None))


def listing(store: ObjectStore, tree: str) -> dict[str, tuple[str, bytes]]:
    """path -> (kind, content or link target) of every file and link below `tree`."""
    return {os.fsdecode(p): (e.kind, store.get(e.oid, verify=True)) for p, e in walk_tree(store, tree)}


def store_is_consistent(store: ObjectStore) -> None:
    """Every object hashes to its id; every tree decodes and references present objects."""
    for oid in store:
        data = store.get(oid, verify=True)
        try:
            entries = decode_tree(data, oid)
        except Exception:
            continue  # a blob
        for e in entries:
            assert store.has(e.oid), f"{oid} references missing {e.oid}"


# -- what a snapshot keeps ------------------------------------------------------------------------


def test_snapshot_keeps_files_modes_and_links(repo: Repo, project: Path) -> None:
    make(project, {"main.py": "print(1)\n", "pkg/__init__.py": "", "pkg/mod.py": "x = 1\n", "run.sh": "#!/bin/sh\n"})
    os.chmod(project / "run.sh", 0o755)
    os.symlink("pkg/mod.py", project / "link")
    res = snap(repo)
    assert listing(repo.store, res.tree) == {
        "link": ("l", b"pkg/mod.py"),
        "main.py": ("f", b"print(1)\n"),
        "pkg/__init__.py": ("f", b""),
        "pkg/mod.py": ("f", b"x = 1\n"),
        "run.sh": ("x", b"#!/bin/sh\n"),
    }
    assert (res.files, res.bytes) == (5, 9 + 0 + 6 + 10 + len("pkg/mod.py"))
    root = {e.name: e for e in read_tree(repo.store, res.tree)}
    assert set(root) == {b"link", b"main.py", b"pkg", b"run.sh"}  # .tmt is not there
    assert root[b"pkg"].kind == "d" and root[b"pkg"].size == 6  # bytes of the files below
    assert root[b"link"].size == len("pkg/mod.py")
    assert res.skipped == []
    store_is_consistent(repo.store)


def test_same_content_same_tree_whatever_the_creation_order(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    files = {f"d{i % 3}/sub{i % 2}/f{i}.py": f"content {i}\n" for i in range(30)}
    a, b = tmp_path / "a", tmp_path / "b"
    make(a, files)
    make(b, dict(reversed(list(files.items()))))
    os.utime(b / "d0" / "sub0" / "f0.py", (1, 1))  # times do not matter, only content
    assert snapshot(a, store).tree == snapshot(b, store).tree


def test_empty_dirs_are_left_out_and_empty_root_is_a_tree(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    root = tmp_path / "code"
    (root / "empty" / "deeper").mkdir(parents=True)
    res = snapshot(root, store)
    assert res.tree == hash_bytes(bytes.fromhex("920190"))
    assert (res.files, res.bytes) == (0, 0)
    make(root, {"x": "1"})
    assert [e.name for e in read_tree(store, snapshot(root, store).tree)] == [b"x"]


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError) as err:
        snapshot(tmp_path / "missing", ObjectStore(tmp_path / "s"))
    assert err.value.message == f"code root {tmp_path / 'missing'} is not a directory"


def test_tmt_and_git_folders_are_never_stored(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "", ".git/HEAD": "ref", "sub/.git/HEAD": "x", "sub/b.py": "", "sub/.tmt/x": ""})
    paths = set(listing(repo.store, snap(repo).tree))
    assert paths == {"a.py", "sub/b.py"}


def test_names_with_spaces_unicode_and_non_utf8(repo: Repo, project: Path) -> None:
    names = [b"with space.py", "café.py".encode(), b"latin1-\xe9.txt", b"new\nline", b"-dash", b"tab\tx"]
    for i, n in enumerate(names):
        with open(os.path.join(os.fsencode(project), n), "wb") as f:
            f.write(b"%d" % i)
    res = snap(repo)
    got = {p: repo.store.get(e.oid) for p, e in walk_tree(repo.store, res.tree)}
    assert got == {n: b"%d" % i for i, n in enumerate(names)}


def test_special_files_are_skipped(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "x"})
    os.mkfifo(project / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(project / "sock"))
    try:
        warnings: list[str] = []
        res = snap(repo, warnings)  # a FIFO would block a reader forever: it must not be opened
    finally:
        sock.close()
    assert set(listing(repo.store, res.tree)) == {"a.py"}
    assert warnings == []


def test_symlinks_are_stored_never_followed(repo: Repo, project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, {"secret.txt": "do not take me"})
    make(project, {"real/x.py": "x"})
    os.symlink(outside, project / "out_dir")
    os.symlink(outside / "secret.txt", project / "out_file")
    os.symlink("nowhere/at/all", project / "broken")
    os.symlink("real", project / "in_dir")
    os.symlink("../../../../etc/passwd", project / "climb")
    res = snap(repo)
    assert listing(repo.store, res.tree) == {
        "broken": ("l", b"nowhere/at/all"),
        "climb": ("l", b"../../../../etc/passwd"),
        "in_dir": ("l", b"real"),
        "out_dir": ("l", os.fsencode(outside)),
        "out_file": ("l", os.fsencode(outside / "secret.txt")),
        "real/x.py": ("f", b"x"),
    }
    assert not any(repo.store.get(o) == b"do not take me" for o in repo.store)


# -- size limit ---------------------------------------------------------------------------------


def test_files_over_default_limit_one_warning(repo: Repo, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make(project, {"code.py": "x", "ok.bin": b"\0" * (10 * MiB), "data/big.bin": b"\0" * (10 * MiB + 1), "ckpt.pt": b"\1" * (11 * MiB)})
    res = snapshot_repo(repo)  # the default warn: stderr
    assert set(listing(repo.store, res.tree)) == {"code.py", "ok.bin"}
    err = capsys.readouterr().err
    assert err == (
        "tmt: warning: left out 2 file(s) over 10.0 MiB (data and checkpoints are not code): "
        "ckpt.pt (11.0 MiB), data/big.bin (10.0 MiB); raise max_file_size in .tmt/config.toml to keep them\n"
    )
    assert res.skipped == []


def test_size_limit_from_config_toml(project: Path) -> None:
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text('max_file_size = "1KiB"\n')
    repo = Repo(repo.tmt_dir)
    assert repo.config.max_file_size == 1024
    make(project, {"small": b"a" * 1024, "big": b"a" * 1025})
    warnings: list[str] = []
    assert set(listing(repo.store, snap(repo, warnings).tree)) == {"small"}
    assert len(warnings) == 1 and "big (1.0 KiB)" in warnings[0] and "over 1.0 KiB" in warnings[0]


def test_size_limit_from_pyproject_and_config_toml_wins(project: Path) -> None:
    make(project, {"pyproject.toml": "[project]\nname='x'\n[tool.tmt]\nmax-file-size = 2048\n", "f3k": b"a" * 3000, "f1k": b"a" * 1500})
    repo = Repo.init(project)
    assert repo.config.max_file_size == 2048
    assert set(listing(repo.store, snap(repo).tree)) == {"pyproject.toml", "f1k"}
    (repo.tmt_dir / "config.toml").write_text("max_file_size = 1000\n")
    repo = Repo(repo.tmt_dir)
    assert repo.config.max_file_size == 1000
    assert set(listing(repo.store, snap(repo).tree)) == {"pyproject.toml"}


@pytest.mark.parametrize(
    ("toml", "size"),
    [("4096", 4096), ('"10MiB"', 10 * MiB), ('"10MB"', 10 * MiB), ('"1.5k"', 1536), ('" 2 GiB "', 2 << 30), ('"123"', 123)],
)
def test_max_file_size_values(project: Path, toml: str, size: int) -> None:
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text(f"max_file_size = {toml}\n")
    assert Repo(repo.tmt_dir).config.max_file_size == size


@pytest.mark.parametrize("toml", ['"-5"', '"0"', '"inf"', '"nan"', '"abc"', '""', "0", "-1", "true", "1.5"])
def test_bad_max_file_size_is_a_usage_error(project: Path, toml: str) -> None:
    # Regression: "inf" raised OverflowError; "-5" and "0" were accepted (every file left out).
    repo = Repo.init(project)
    cfg = repo.tmt_dir / "config.toml"
    cfg.write_text(f"max_file_size = {toml}\n")
    with pytest.raises(UsageError) as err:
        Repo(repo.tmt_dir)
    assert err.value.message == f"{cfg}: max_file_size must be a byte count like 10485760 or '10MiB'"
    assert err.value.exit_code == 2


# -- files that vanish or cannot be read -----------------------------------------------------------


def test_vanished_and_unreadable_files_are_skipped_with_warnings(repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests run as root, and root reads a chmod-000 file anyway, so the failures are injected
    # at the open() the snapshot makes after its walk (where a real race would hit).
    make(project, {"keep.py": "k", "gone.py": "g", "locked.py": "l", "sub/only.py": "o"})
    real_open = open

    def fake_open(path, *args, **kwargs):
        name = os.path.basename(os.fsdecode(path))
        if name in ("gone.py", "only.py"):
            raise FileNotFoundError(2, "No such file or directory")
        if name == "locked.py":
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(build, "open", fake_open, raising=False)
    warnings: list[str] = []
    res = snap(repo, warnings)
    assert listing(repo.store, res.tree) == {"keep.py": ("f", b"k")}  # sub/ lost its only file
    assert sorted(res.skipped) == [
        ("gone.py", "vanished during the snapshot"),
        ("locked.py", "cannot read: Permission denied"),
        ("sub/only.py", "vanished during the snapshot"),
    ]
    assert sorted(warnings) == [
        "skipped gone.py: vanished during the snapshot",
        "skipped locked.py: cannot read: Permission denied",
        "skipped sub/only.py: vanished during the snapshot",
    ]
    monkeypatch.undo()
    # Once readable again they come back (the failed files were not cached).
    assert set(listing(repo.store, snap(repo).tree)) == {"keep.py", "gone.py", "locked.py", "sub/only.py"}


def test_unlistable_directory_is_skipped(repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(project, {"a.py": "a", "private/b.py": "b"})
    real_scandir = os.scandir

    def fake_scandir(path):
        if os.fsdecode(path).endswith("private"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(build.os, "scandir", fake_scandir)
    warnings: list[str] = []
    res = snap(repo, warnings)
    assert set(listing(repo.store, res.tree)) == {"a.py"}
    assert warnings == ["skipped private/: cannot list directory: Permission denied"]


def test_file_replaced_by_directory_and_back(repo: Repo, project: Path) -> None:
    make(project, {"thing": "a file", "other.py": "o"})
    first = snap(repo).tree
    settle()
    snap(repo)
    (project / "thing").unlink()
    make(project, {"thing/inner.py": "now a folder"})
    second = snap(repo).tree
    assert listing(repo.store, second) == {"thing/inner.py": ("f", b"now a folder"), "other.py": ("f", b"o")}
    settle()
    assert snap(repo).tree == second
    (project / "thing" / "inner.py").unlink()
    (project / "thing").rmdir()
    make(project, {"thing": "a file"})
    assert snap(repo).tree == first


# -- stat cache -----------------------------------------------------------------------------------


def test_unchanged_tree_reads_nothing(repo: Repo, project: Path) -> None:
    make(project, {f"pkg{i % 4}/m{i}.py": f"v = {i}\n" for i in range(40)})
    os.symlink("pkg0", project / "ln")
    first = snap(repo)
    assert first.hashed == 40 and first.new_objects > 40
    settle()
    second = snap(repo)  # racily clean files of the first run are read once more
    assert second.tree == first.tree and second.new_objects == 0
    third = snap(repo)
    assert third.tree == first.tree
    assert (third.hashed, third.new_objects, third.new_bytes) == (0, 0, 0)
    assert (third.files, third.bytes) == (first.files, first.bytes)


def test_one_changed_file_is_the_only_one_read(repo: Repo, project: Path) -> None:
    make(project, {f"d{i % 5}/m{i}.py": f"v = {i}\n" for i in range(50)})
    snap(repo)
    settle()
    base = snap(repo)
    (project / "d3" / "m8.py").write_text("v = 'changed'\n")
    res = snap(repo)
    assert res.hashed == 1
    assert res.tree != base.tree
    assert listing(repo.store, res.tree)["d3/m8.py"] == ("f", b"v = 'changed'\n")
    assert res.new_objects == 3  # the blob, d3's tree, the root tree


def test_change_with_size_and_mtime_preserved_is_seen(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "AAAA", "b.py": "BBBB"})
    settle()
    snap(repo)
    base = snap(repo)
    assert base.hashed == 0
    st = os.stat(project / "a.py")
    (project / "a.py").write_text("XXXX")  # same size
    os.utime(project / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: ctime differs
    # b.py: a new file (new inode) with the same size and mtime, moved over the old one
    st_b = os.stat(project / "b.py")
    (project / "b.new").write_text("YYYY")
    os.utime(project / "b.new", ns=(st_b.st_atime_ns, st_b.st_mtime_ns))
    os.replace(project / "b.new", project / "b.py")
    res = snap(repo)
    assert res.hashed == 2
    assert listing(repo.store, res.tree) == {"a.py": ("f", b"XXXX"), "b.py": ("f", b"YYYY")}


def test_racily_clean_file_rewritten_in_the_same_timestamp(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "v1", "old.py": "o"})
    os.utime(project / "old.py", ns=(10**18, 10**18))
    first = snap(repo)
    st = os.stat(project / "a.py")
    # Rewritten within the same timestamp: same size, same mtime (forced, as a coarse clock would).
    (project / "a.py").write_text("v2")
    os.utime(project / "a.py", ns=(st.st_atime_ns, st.st_mtime_ns))
    res = snap(repo)
    assert listing(repo.store, res.tree)["a.py"] == ("f", b"v2")
    assert res.tree != first.tree


def test_fresh_ctime_is_racy_even_with_an_old_mtime(repo: Repo, project: Path) -> None:
    # cp -p / tar / os.utime: old mtime, fresh ctime. Caching it would let a second rewrite
    # within the ctime clock's granularity (a jiffy on older kernels) go unseen.
    make(project, {"a.py": "v1"})
    os.utime(project / "a.py", ns=(10**18, 10**18))
    assert snap(repo).hashed == 1
    assert snap(repo).hashed == 1  # not trusted from the cache yet
    settle()
    snap(repo)
    assert snap(repo).hashed == 0


def test_deleting_the_cache_costs_only_speed(repo: Repo, project: Path) -> None:
    make(project, {f"m{i}.py": str(i) for i in range(10)})
    settle()
    first = snap(repo)
    cache_files = list(repo.cache_dir.iterdir())
    assert cache_files
    for f in cache_files:
        f.unlink()
    again = snap(repo)
    assert again.tree == first.tree
    assert again.hashed == 10 and again.new_objects == 0
    # A garbled cache is the same as none.
    for f in repo.cache_dir.iterdir():
        f.write_bytes(b"\xc1garbage")
    assert snap(repo).tree == first.tree


def test_cache_of_another_root_is_not_used(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "store")
    cache = tmp_path / "cache"
    make(tmp_path / "a", {"x.py": "1"})
    make(tmp_path / "b", {"x.py": "2"})
    settle()
    ta = snapshot(tmp_path / "a", store, cache_dir=cache).tree
    tb = snapshot(tmp_path / "b", store, cache_dir=cache).tree
    assert listing(store, tb) == {"x.py": ("f", b"2")} and ta != tb


def test_gc_epoch_change_restores_a_deleted_blob(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "precious", "sub/b.py": "also precious"})
    settle()
    snap(repo)
    base = snap(repo)
    blob = hash_bytes(b"precious")
    sub_tree = next(e.oid for e in read_tree(repo.store, base.tree) if e.name == b"sub")
    repo.store.remove(blob)
    repo.store.remove(sub_tree)
    # Without an epoch change the cache is trusted: only gc deletes objects, and gc bumps it.
    assert snap(repo).hashed == 0
    assert not repo.store.has(blob)
    repo.store.bump_epoch()
    res = snap(repo)
    assert res.tree == base.tree
    assert repo.store.get(blob, verify=True) == b"precious"
    assert repo.store.has(sub_tree)
    store_is_consistent(repo.store)
    assert snap(repo).hashed == 0  # and the cache is trusted again


def test_progress_is_reported(repo: Repo, project: Path) -> None:
    make(project, {f"f{i}": str(i) for i in range(100)})
    seen: list[tuple[str, int, int]] = []
    snapshot_repo(repo, progress=lambda phase, done, total: seen.append((phase, done, total)))
    assert seen and seen[-1] == ("snapshot", 100, 100)  # gc's and fsck's (phase, done, total)


def test_snapshot_leaves_no_temp_files_or_pins(repo: Repo, project: Path) -> None:
    make(project, {f"f{i}": str(i) for i in range(50)})
    snap(repo)
    assert os.listdir(repo.tmp_dir) == []
    assert not (repo.tmt_dir / "pins").exists() or os.listdir(repo.tmt_dir / "pins") == []


# -- real processes -------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_processes_snapshot_the_same_root_at_once(repo: Repo, project: Path, python: str) -> None:
    make(project, {f"pkg{i % 7}/sub{i % 3}/m{i}.py": f"value = {i}\n" * (i % 50 + 1) for i in range(400)})
    os.chmod(project / "pkg0" / "sub0" / "m0.py", 0o755)
    code = textwrap.dedent(
        """
        import sys
        from tmt.repo import Repo
        from tmt.snapshot.build import snapshot_repo
        print(snapshot_repo(Repo(sys.argv[1])).tree)
        """
    )
    procs = [
        subprocess.Popen([python, "-c", code, str(repo.tmt_dir)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate()[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    assert outs[0] == outs[1]
    assert snapshot(project, ObjectStore(project / "elsewhere"), exclude=[project / "elsewhere", repo.tmt_dir]).tree == outs[0]
    store_is_consistent(repo.store)
    assert len(listing(repo.store, outs[0])) == 400
    assert os.listdir(repo.tmp_dir) == []
    assert os.listdir(repo.tmt_dir / "pins") == []


def test_objects_are_read_only(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "a", "b/c.py": "c"})
    snap(repo)
    for oid in repo.store:
        assert stat.S_IMODE(repo.store.path(oid).stat().st_mode) == 0o444


# -- memory: a chunk of files read at once is bounded by bytes ---------------------------------


def test_files_are_read_in_chunks_bounded_by_bytes(store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    monkeypatch.setattr(build, "HASH_THREADS", 1)
    monkeypatch.setattr(build, "CHUNK_BYTES", 1 << 20, raising=False)
    code = make(tmp_path / "code", {f"data{i}.bin": os.urandom(256 * 1024) for i in range(40)})  # 10 MiB
    tracemalloc.start()
    try:
        result = snapshot(code, store, max_file_size=300_000, warn=lambda m: None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.files == 40 and result.hashed == 40
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while reading 10 MiB in 1 MiB chunks"
    for i in range(40):
        assert store.has(hash_bytes((code / f"data{i}.bin").read_bytes()))


# -- one stat cache per code root -------------------------------------------------------------


def test_projects_sharing_a_store_keep_their_stat_caches(store: ObjectStore, tmp_path: Path) -> None:
    a = make(tmp_path / "a", {f"a{i}.py": b"a%d" % i for i in range(5)})
    b = make(tmp_path / "b", {f"b{i}.py": b"b%d" % i for i in range(5)})
    cache = store.tmt_dir / "cache"
    store.bump_epoch()
    settle()
    assert snapshot(a, store, cache_dir=cache, warn=lambda m: None).hashed == 5
    assert snapshot(b, store, cache_dir=cache, warn=lambda m: None).hashed == 5
    # Each project in turn, as with a shared TMT_DIR: nothing is read again.
    assert snapshot(a, store, cache_dir=cache, warn=lambda m: None).hashed == 0
    assert snapshot(b, store, cache_dir=cache, warn=lambda m: None).hashed == 0
    assert len([p for p in cache.iterdir() if p.name.startswith("stat-v6-")]) == 2


# -- a gc epoch change seen mid-snapshot reads changed files once -------------------------------


class EpochBumpedDuringWalk(ObjectStore):
    """gc runs (bumps the epoch) after the snapshot's first look at the epoch."""

    def __init__(self, tmt_dir: Path) -> None:
        super().__init__(tmt_dir)
        self.calls = 0

    def epoch(self):
        self.calls += 1
        if self.calls == 2:
            self.bump_epoch()
        return super().epoch()


def test_an_epoch_change_during_the_snapshot_reads_changed_files_once(tmp_path: Path) -> None:
    code = make(tmp_path / "code", {f"f{i}.py": b"%d" % i for i in range(5)})
    store = ObjectStore(tmp_path / ".tmt")
    store.bump_epoch()
    cache = store.tmt_dir / "cache"
    settle()
    snapshot(code, store, cache_dir=cache, warn=lambda m: None)
    (code / "f0.py").write_bytes(b"changed, and longer")
    bumped = EpochBumpedDuringWalk(store.tmt_dir)
    result = snapshot(code, bumped, cache_dir=cache, warn=lambda m: None)
    assert result.hashed == 1
    assert result.files == 5
    assert result.tree == snapshot(code, ObjectStore(tmp_path / "fresh"), warn=lambda m: None).tree


# -- an unchanged folder is not listed again ------------------------------------------------------


def warm(repo: Repo) -> SnapshotResult:
    """Snapshots until the cache vouches for every folder (past the racily-clean window)."""
    snap(repo)
    settle()
    snap(repo)
    return snap(repo)


def test_an_unchanged_tree_is_not_listed_again(repo: Repo, project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make(project, {".gitignore": "*.log\nbuild/\n", "a.py": "a", "pkg/b.py": "b", "pkg/deep/c.py": "c",
                   "pkg/x.log": "x", "build/out.o": "o"})
    base = warm(repo)
    listed: list[bytes] = []
    real = os.scandir
    monkeypatch.setattr(build.os, "scandir", lambda p: listed.append(p) or real(p))
    again = snap(repo)
    assert (again.tree, again.hashed, listed) == (base.tree, 0, [])
    (project / "pkg" / "deep" / "new.py").write_text("new")  # moves deep/'s mtime only
    changed = snap(repo)
    assert listing(repo.store, changed.tree)["pkg/deep/new.py"] == ("f", b"new")
    # The changed folder, then (to encode their trees again) its parents; nothing beside them.
    assert listed == [os.fsencode(project / p) for p in ("pkg/deep", "pkg", "")]


def test_an_ignored_folder_replaced_by_a_file_of_its_name_is_kept(repo: Repo, project: Path) -> None:
    make(project, {".gitignore": "build/\n", "a.py": "a", "build/out.o": "o"})
    warm(repo)
    (project / "build" / "out.o").unlink()
    (project / "build").rmdir()
    make(project, {"build": "a file: `build/` ignores folders only"})
    assert "build" in listing(repo.store, snap(repo).tree)


def test_a_file_changed_in_a_folder_the_cache_vouches_for_is_read(repo: Repo, project: Path) -> None:
    make(project, {"pkg/a.py": "a = 1\n", "pkg/b.py": "b = 1\n"})
    warm(repo)
    (project / "pkg" / "b.py").write_text("b = 22\n")  # the folder's own key does not move
    res = snap(repo)
    assert res.hashed == 1 and listing(repo.store, res.tree)["pkg/b.py"] == ("f", b"b = 22\n")


def test_a_lower_size_limit_leaves_out_a_file_the_cache_kept(project: Path) -> None:
    make(project, {"a.py": "a", "pkg/big.bin": b"x" * 3000})
    repo = Repo.init(project)
    warm(repo)
    (project / ".tmt" / "config.toml").write_text("max_file_size = 2000\n")
    warnings: list[str] = []
    res = snap(Repo(project / ".tmt"), warnings)
    assert "pkg/big.bin" not in listing(repo.store, res.tree)
    assert any("pkg/big.bin" in w for w in warnings)


def test_an_environment_appearing_in_a_folder_the_cache_vouches_for_is_left_out(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "a", "tools/env/lib.py": "l"})
    warm(repo)
    make(project, {"tools/env/pyvenv.cfg": "home = /usr\n"})
    assert sorted(listing(repo.store, snap(repo).tree)) == ["a.py"]


def test_an_earlier_versions_cache_file_is_replaced(repo: Repo, project: Path) -> None:
    make(project, {"a.py": "a"})
    snap(repo)
    (new,) = (repo.tmt_dir / "cache").glob("stat-v6-*")
    old = new.with_name(new.name.replace("stat-v6-", "stat-v5-"))
    old.write_bytes(b"tmt-stat-cache-5\n" + bytes(40))
    (project / "b.py").write_text("b")
    snap(repo)
    assert new.exists() and not old.exists()


def test_a_file_added_to_a_folder_of_ignored_files_is_kept(repo: Repo, project: Path) -> None:
    """The folder was walked but kept nothing (no tree id): once it changes, its parent's
    replay must not take it for the empty folder it was."""
    make(project, {"x.py": "", ".gitignore": "*.log\n"})
    settle()
    snap(repo)
    make(project, {"a/z.log": "log"})
    settle()
    snap(repo)
    snap(repo)  # every folder with a plan, a/ holding nothing kept
    make(project, {"a/x.py": "new"})
    settle()
    assert sorted(listing(repo.store, snap(repo).tree)) == [".gitignore", "a/x.py", "x.py"]
