"""The object store: ids, write-once objects, streaming puts, batches, real concurrent writers."""
from __future__ import annotations

import os
import stat
import subprocess
import textwrap
from pathlib import Path

import pytest
from blake3 import blake3

from tmt.errors import CorruptObject, InvalidObjectId, ObjectNotFound, StoreError
from tmt.store import fsutil
from tmt.store.ids import hash_bytes, validate_oid
from tmt.store.objects import ObjectStore
from tmt.store.pins import PinFile, live_pins

BAD_IDS = [
    "",
    "..",
    "../../etc/passwd",
    "a" * 63,
    "a" * 65,
    "A" * 64,  # uppercase is not an id: ids are lowercase so each content has one path
    "g" * 64,
    "a" * 63 + "\n",
    None,
    b"a" * 64,
    12,
]


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / ".tmt")


def tmp_files(store: ObjectStore) -> list[str]:
    try:
        return sorted(os.listdir(store.tmp_dir))
    except FileNotFoundError:
        return []


# -- ids ---------------------------------------------------------------------------------------


def test_hash_bytes_is_blake3_256_hex() -> None:
    assert hash_bytes(b"") == "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert hash_bytes(b"abc") == blake3(b"abc").hexdigest()
    assert validate_oid(hash_bytes(b"x")) == hash_bytes(b"x")


@pytest.mark.parametrize("bad", BAD_IDS)
def test_validate_oid_rejects(bad: object) -> None:
    with pytest.raises(InvalidObjectId) as err:
        validate_oid(bad)
    assert err.value.message == f"{bad!r} is not an object id (64 lowercase hex characters)"
    assert "not an object id" in err.value.hint


@pytest.mark.parametrize("bad", ["", "../../etc/passwd", "a" * 63, "A" * 64])
@pytest.mark.parametrize("method", ["has", "get", "open", "size", "path", "remove"])
def test_store_methods_validate_ids(store: ObjectStore, bad: str, method: str) -> None:
    store.put(b"something")
    with pytest.raises(InvalidObjectId):
        getattr(store, method)(bad)


def test_put_with_malformed_oid_is_refused(store: ObjectStore) -> None:
    with pytest.raises(InvalidObjectId):
        store.put(b"x", oid="../x")
    assert list(store) == []


# -- put / get / has / path / iter ---------------------------------------------------------------


def test_put_get_has_path(store: ObjectStore) -> None:
    data = b"hello\n"
    oid = store.put(data)
    assert oid == hash_bytes(data)
    assert store.has(oid)
    assert store.get(oid) == data
    assert store.get(oid, verify=True) == data
    assert store.size(oid) == len(data)
    with store.open(oid) as f:
        assert f.read() == data
    path = store.path(oid)
    assert path == store.tmt_dir / "objects" / oid[:2] / oid[2:]
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert tmp_files(store) == []


def test_empty_object(store: ObjectStore) -> None:
    oid = store.put(b"")
    assert store.get(oid) == b""
    assert store.size(oid) == 0


def test_missing_object_errors(store: ObjectStore) -> None:
    oid = hash_bytes(b"never stored")
    assert not store.has(oid)
    for call in (store.get, store.open, store.size):
        with pytest.raises(ObjectNotFound) as err:
            call(oid)
        assert err.value.oid == oid
        assert str(err.value) == f"object {oid} is missing from the store\nhint: run `tmt fsck` to check the store"
    store.remove(oid)  # removing a missing object is not an error


def test_get_verify_detects_corruption(store: ObjectStore) -> None:
    oid = store.put(b"original")
    path = store.path(oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"tampered")
    assert store.get(oid) == b"tampered"  # unverified reads trust the id
    with pytest.raises(CorruptObject) as err:
        store.get(oid, verify=True)
    assert err.value.message == f"object {oid} is corrupt: its content does not match its id"
    assert err.value.hint == "run `tmt fsck --repair`"


def test_iter_lists_every_object_and_skips_junk(store: ObjectStore) -> None:
    ids = {store.put(str(i).encode()) for i in range(50)}
    objects = store.tmt_dir / "objects"
    (objects / "zz").mkdir()
    (objects / "zz" / ("0" * 62)).write_bytes(b"")  # fan-out not hex
    (objects / "abc").mkdir()  # fan-out of the wrong length
    (objects / "ab").mkdir(exist_ok=True)
    (objects / "ab" / "short").write_bytes(b"")
    (objects / "ab" / ("G" * 62)).write_bytes(b"")
    (objects / "cd").write_bytes(b"a file where a fan-out folder should be")
    listed = list(store)
    assert set(listed) == ids
    assert len(listed) == len(ids)
    assert listed == sorted(listed)


def test_iter_of_a_store_without_objects(store: ObjectStore) -> None:
    assert list(store) == []


def test_remove(store: ObjectStore) -> None:
    oid = store.put(b"gone soon")
    store.remove(oid)
    assert not store.has(oid)


# -- write once --------------------------------------------------------------------------------


def test_second_put_refreshes_mtime_not_content(store: ObjectStore) -> None:
    oid = store.put(b"same")
    path = store.path(oid)
    old = 1_000_000_000 * 10**9
    os.utime(path, ns=(old, old))
    ino = path.stat().st_ino
    assert store.put(b"same") == oid
    st = path.stat()
    assert st.st_mtime_ns > old  # a gc with a grace period now sees it as new
    assert st.st_ino == ino  # not rewritten
    assert path.read_bytes() == b"same"
    assert tmp_files(store) == []


def test_existing_object_is_never_overwritten(store: ObjectStore) -> None:
    # Write-once: a damaged object is fsck's business, a put must not race to rewrite it.
    oid = store.put(b"content")
    path = store.path(oid)
    os.chmod(path, 0o644)
    path.write_bytes(b"damaged")
    os.chmod(path, 0o444)
    store.put(b"content")
    assert path.read_bytes() == b"damaged"


def test_put_file_streams_large_files(store: ObjectStore, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(3 * (1 << 20) + 5)  # several read chunks and a partial one
    src.write_bytes(data)
    oid, size = store.put_file(src)
    assert oid == hash_bytes(data)
    assert size == len(data)
    assert store.get(oid, verify=True) == data
    assert stat.S_IMODE(store.path(oid).stat().st_mode) == 0o444
    assert tmp_files(store) == []
    # Again: already present, same id, no temp file left behind.
    assert store.put_file(src) == (oid, size)
    assert tmp_files(store) == []


def test_put_file_missing_source(store: ObjectStore, tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(StoreError) as err:
        store.put_file(missing)
    assert err.value.message == f"could not store {missing}: No such file or directory"
    assert tmp_files(store) == []
    assert list(store) == []


# -- batches -----------------------------------------------------------------------------------


def test_batch_publishes_only_at_commit(store: ObjectStore) -> None:
    batch = store.batch()
    ids = [batch.add(f"obj {i}".encode()) for i in range(20)]
    assert batch.add(b"obj 0") == ids[0]  # deduplicated
    assert not any(store.has(o) for o in ids)
    assert list(store) == []
    assert len(tmp_files(store)) == 20
    batch.commit()
    assert set(store) == set(ids)
    for i, oid in enumerate(ids):
        assert store.get(oid, verify=True) == f"obj {i}".encode()
        assert stat.S_IMODE(store.path(oid).stat().st_mode) == 0o444
    assert tmp_files(store) == []


def test_batch_abort_leaves_nothing(store: ObjectStore) -> None:
    with pytest.raises(RuntimeError):
        with store.batch() as batch:
            for i in range(10):
                batch.add(f"x{i}".encode())
            raise RuntimeError("boom")
    assert list(store) == []
    assert tmp_files(store) == []


def test_batch_with_existing_object_refreshes_it(store: ObjectStore) -> None:
    oid = store.put(b"old")
    os.utime(store.path(oid), ns=(10**9, 10**9))
    with store.batch() as batch:
        assert batch.add(b"old") == oid
    assert store.path(oid).stat().st_mtime_ns > 10**9
    assert tmp_files(store) == []


def test_killed_batch_writer_publishes_nothing(store: ObjectStore, python: str) -> None:
    # A process that dies before commit leaves only temp files (named "<pid>-…") for gc.
    code = textwrap.dedent(
        f"""
        import os
        from tmt.store.objects import ObjectStore
        b = ObjectStore({str(store.tmt_dir)!r}).batch()
        for i in range(30):
            b.add(b"half %d" % i)
        os._exit(0)
        """
    )
    subprocess.run([python, "-c", code], check=True)
    assert list(store) == []
    leftovers = tmp_files(store)
    assert len(leftovers) == 30
    assert len({name.split("-")[0] for name in leftovers}) == 1


def test_concurrent_puts_from_processes(store: ObjectStore, python: str) -> None:
    """Four processes put the same and their own objects at once: one whole object per id."""
    code = textwrap.dedent(
        f"""
        import sys
        from tmt.store.objects import ObjectStore
        s = ObjectStore({str(store.tmt_dir)!r})
        me = sys.argv[1]
        shared = bytes(range(256)) * 4096  # 1 MiB, the same in every process
        for i in range(40):
            s.put(shared + str(i % 5).encode())
            s.put(("own %s %d" % (me, i)).encode())
            with s.batch() as b:
                b.add(("batch %d" % i).encode())
        """
    )
    procs = [subprocess.Popen([python, "-c", code, str(n)]) for n in range(4)]
    assert [p.wait() for p in procs] == [0, 0, 0, 0]
    shared = bytes(range(256)) * 4096
    expected = {hash_bytes(shared + str(k).encode()) for k in range(5)}
    expected |= {hash_bytes(f"own {n} {i}".encode()) for n in range(4) for i in range(40)}
    expected |= {hash_bytes(f"batch {i}".encode()) for i in range(40)}
    assert set(store) == expected
    for oid in expected:
        store.get(oid, verify=True)
    assert tmp_files(store) == []


# -- gc epoch and pins ---------------------------------------------------------------------------


def test_epoch(store: ObjectStore) -> None:
    assert store.epoch() is None
    first = store.bump_epoch()
    assert store.epoch() == first
    assert (store.tmt_dir / "gc.epoch").read_text() == first
    second = store.bump_epoch()
    assert second != first and store.epoch() == second
    assert len(second) == 32


def test_pins_live_and_dead(store: ObjectStore, python: str) -> None:
    a, b = hash_bytes(b"a"), hash_bytes(b"b")
    with PinFile(store.tmt_dir) as pin:
        pin.add([])
        assert not pin.path.exists()  # nothing pinned, no file
        pin.add([a])
        pin.add(iter([b]))
        assert pin.path.read_bytes() == bytes.fromhex(a) + bytes.fromhex(b)
        assert live_pins(store.tmt_dir) == {a, b}
    assert not pin.path.exists()
    # A pin left by a dead process does not count, and can be cleaned.
    code = (
        "import os,sys\nfrom tmt.store.pins import PinFile\n"
        f"PinFile({str(store.tmt_dir)!r}).add([{a!r}])\nos._exit(0)\n"
    )
    subprocess.run([python, "-c", code], check=True)
    pins = list((store.tmt_dir / "pins").iterdir())
    assert len(pins) == 1
    assert live_pins(store.tmt_dir) == set()
    assert pins[0].exists()
    assert live_pins(store.tmt_dir, remove_dead=True) == set()
    assert not pins[0].exists()


# -- atomic writes -------------------------------------------------------------------------------


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_bytes(b"old")
    fsutil.atomic_write(target, b"new", tmp_path / "tmp")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path / "tmp") == []


def test_atomic_write_error_names_the_path(tmp_path: Path) -> None:
    target = tmp_path / "no" / "such" / "dir" / "f.json"
    with pytest.raises(StoreError) as err:
        fsutil.atomic_write(target, b"x", tmp_path / "tmp")
    assert err.value.message == f"could not write {target}: No such file or directory"
    assert not (tmp_path / "tmp").exists() or os.listdir(tmp_path / "tmp") == []  # no temp file left


def test_tmt_dir_store_is_created_and_snapshots_the_working_project(tmp_path, monkeypatch):
    """TMT_DIR names a shared store elsewhere; the code root stays the project being run."""
    from tmt.repo import Repo

    project = tmp_path / "proj"
    project.mkdir()
    (project / "a.py").write_text("print(1)\n")
    (tmp_path / "outside.py").write_text("not code of this project\n")
    monkeypatch.chdir(project)
    monkeypatch.setenv("TMT_DIR", str(tmp_path / "shared" / "store"))
    repo = Repo.find_or_create()
    assert repo.tmt_dir == (tmp_path / "shared" / "store").absolute()
    assert repo.root == project.absolute()
    assert (repo.tmt_dir / "objects").is_dir()
    # and once it exists, find() agrees
    assert Repo.find().root == project.absolute()
