"""Review fixes in snapshot and checkout: umask, memory bound, stat cache per root, retries, progress."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tmt.snapshot.build import snapshot
from tmt.snapshot.checkout import restore
from tmt.store.objects import ObjectStore


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / ".tmt")


def write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    return root


def quiet(msg: str) -> None:
    pass


def settle() -> None:
    """Let files age past the racily-clean window (ctime cannot be set): no timing is asserted."""
    import time

    from tmt.snapshot.statcache import RACY_NS

    time.sleep(RACY_NS / 1e9 + 0.02)


# -- restore reads the umask without setting it (finding 23) ---------------------------------


def test_restore_follows_the_umask_in_force_at_each_call(store: ObjectStore, tmp_path: Path) -> None:
    code = write(tmp_path / "code", {"a.py": b"a\n"})
    tree = snapshot(code, store, warn=quiet).tree
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
    code = write(tmp_path / "code", {"a.py": b"a\n", "b/c.py": b"c\n"})
    tree = snapshot(code, store, warn=quiet).tree
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


# -- memory: a chunk of files read at once is bounded by bytes (finding 11) -------------------


def test_files_are_read_in_chunks_bounded_by_bytes(store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracemalloc

    import tmt.snapshot.build as build

    monkeypatch.setattr(build, "HASH_THREADS", 1)
    monkeypatch.setattr(build, "CHUNK_BYTES", 1 << 20, raising=False)
    code = write(tmp_path / "code", {f"data{i}.bin": os.urandom(256 * 1024) for i in range(40)})  # 10 MiB
    tracemalloc.start()
    try:
        result = snapshot(code, store, max_file_size=300_000, warn=quiet)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.files == 40 and result.hashed == 40
    assert peak < 4 << 20, f"peak {peak / 2**20:.1f} MiB while reading 10 MiB in 1 MiB chunks"
    for i in range(40):
        from tmt.store.ids import hash_bytes

        assert store.has(hash_bytes((code / f"data{i}.bin").read_bytes()))


# -- one stat cache per code root (finding 12) -------------------------------------------------


def test_projects_sharing_a_store_keep_their_stat_caches(store: ObjectStore, tmp_path: Path) -> None:
    a = write(tmp_path / "a", {f"a{i}.py": b"a%d" % i for i in range(5)})
    b = write(tmp_path / "b", {f"b{i}.py": b"b%d" % i for i in range(5)})
    cache = store.tmt_dir / "cache"
    store.bump_epoch()
    settle()
    assert snapshot(a, store, cache_dir=cache, warn=quiet).hashed == 5
    assert snapshot(b, store, cache_dir=cache, warn=quiet).hashed == 5
    # Each project in turn, as with a shared TMT_DIR: nothing is read again.
    assert snapshot(a, store, cache_dir=cache, warn=quiet).hashed == 0
    assert snapshot(b, store, cache_dir=cache, warn=quiet).hashed == 0
    assert len([p for p in cache.iterdir() if p.name.startswith("stat-v4-")]) == 2


# -- a gc epoch change seen mid-snapshot reads changed files once (finding 36) -------------------


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
    code = write(tmp_path / "code", {f"f{i}.py": b"%d" % i for i in range(5)})
    store = ObjectStore(tmp_path / ".tmt")
    store.bump_epoch()
    cache = store.tmt_dir / "cache"
    settle()
    snapshot(code, store, cache_dir=cache, warn=quiet)
    (code / "f0.py").write_bytes(b"changed, and longer")
    bumped = EpochBumpedDuringWalk(store.tmt_dir)
    result = snapshot(code, bumped, cache_dir=cache, warn=quiet)
    assert result.hashed == 1
    assert result.files == 5
    assert result.tree == snapshot(code, ObjectStore(tmp_path / "fresh"), warn=quiet).tree
