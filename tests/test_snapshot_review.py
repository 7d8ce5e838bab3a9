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
