"""The object store: ids, write-once objects, streaming puts, batches, real concurrent writers."""
from __future__ import annotations

import errno
import os
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
from blake3 import blake3

import tmt
from tmt._sys import host_label
from tmt.errors import CorruptObject, InvalidObjectId, ObjectNotFound, StoreError
from tmt.maintenance import gc
from tmt.repo import Repo
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
@pytest.mark.parametrize("method", ["has", "get", "open", "stat", "path", "remove"])
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
    assert store.stat(oid).st_size == len(data)
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
    assert store.stat(oid).st_size == 0


def test_missing_object_errors(store: ObjectStore) -> None:
    oid = hash_bytes(b"never stored")
    assert not store.has(oid)
    for call in (store.get, store.open, store.stat):
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


@pytest.mark.slow
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


def aged(path: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def dev_full() -> int:  # every write to it fails with ENOSPC
    return os.open("/dev/full", os.O_WRONLY)


# -- temp names carry the host and pid ---------------------------------------------------------


def test_temp_names_carry_host_and_pid(tmp_path: Path) -> None:
    name = os.path.basename(fsutil.tmp_name(tmp_path))
    assert name.startswith(f"{host_label()}_{os.getpid()}-")
    assert fsutil.tmp_owner(name) == (host_label(), os.getpid())
    assert fsutil.tmp_owner("1234-abcd") == (None, 1234)  # names written before hosts were added
    assert fsutil.tmp_owner("garbage") == (None, None)


def test_gc_leaves_another_hosts_temp_files_for_a_day(repo: Repo, dead_pid: int) -> None:
    tmp = repo.tmp_dir
    tmp.mkdir(exist_ok=True)
    dead = dead_pid
    files = {
        "other_host_3h": f"other-host_{dead}-aaaa",  # a long save on another host: its pid means nothing here
        "other_host_25h": f"other-host_{os.getpid()}-bbbb",
        "this_host_dead_10min": f"{host_label()}_{dead}-cccc",
        "this_host_live_10min": f"{host_label()}_{os.getpid()}-dddd",
    }
    ages = {"other_host_3h": 3 * 3600, "other_host_25h": 25 * 3600, "this_host_dead_10min": 600, "this_host_live_10min": 600}
    for key, name in files.items():
        (tmp / name).write_bytes(b"partial")
        aged(tmp / name, ages[key])
    r = gc(repo, grace=0)
    assert r.temp_files_removed == 2
    assert {k for k, n in files.items() if (tmp / n).exists()} == {"other_host_3h", "this_host_live_10min"}


def test_a_saved_objects_work_folder_is_named_with_the_host(repo: Repo) -> None:
    seen = []

    def saver(obj, path):
        seen.append(Path(path).parent.name)
        Path(path).write_bytes(obj)

    with tmt.start_run("save") as run:
        run.save(b"weights", "model", custom_save=saver)
    assert fsutil.tmp_owner(seen[0]) == (host_label(), os.getpid())
    assert list(repo.tmp_dir.iterdir()) == []


# -- pins of other hosts, deleted pins, short and failed pin writes ----------------------------


def test_another_hosts_expired_pin_is_ignored_but_never_deleted(repo: Repo) -> None:
    old = repo.store.put(b"pinned by a long run elsewhere")
    fresh = repo.store.put(b"pinned by a run elsewhere just now")
    for oid in (old, fresh):
        aged(repo.store.path(oid), 7200)
    pins = repo.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    expired = pins / "other-host_123_abcd.pin"
    expired.write_bytes(bytes.fromhex(old))
    aged(expired, 25 * 3600)
    recent = pins / "other-host_124_abcd.pin"
    recent.write_bytes(bytes.fromhex(fresh))

    assert live_pins(repo.tmt_dir, remove_dead=True) == {fresh}
    assert expired.exists()
    r = gc(repo, grace=0)
    assert r.pins_removed == 0
    assert expired.exists() and recent.exists()
    assert not repo.store.has(old) and repo.store.has(fresh)


def test_this_hosts_dead_pin_is_still_removed(repo: Repo, dead_pid: int) -> None:
    pins = repo.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    dead = pins / f"{host_label()}_{dead_pid}_abcd.pin"
    dead.write_bytes(bytes(32))
    assert live_pins(repo.tmt_dir, remove_dead=True) == set()
    assert not dead.exists()


def test_a_deleted_pin_file_is_opened_again(repo: Repo) -> None:
    a, b = hash_bytes(b"a"), hash_bytes(b"b")
    with PinFile(repo.tmt_dir) as pin:
        pin.add([a])
        pin.path.unlink()  # e.g. by an older gc on another host
        pin.add([b])
        assert pin.path.exists()
        assert live_pins(repo.tmt_dir) == {b}
    assert not pin.path.exists()


def test_short_pin_writes_keep_ids_aligned(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [hash_bytes(b"%d" % i) for i in range(3)]
    real = os.write
    with PinFile(repo.tmt_dir) as pin:
        with monkeypatch.context() as m:
            m.setattr(os, "write", lambda fd, data: real(fd, bytes(data[:5])))  # a write of 5 bytes at a time
            pin.add(ids)
        assert live_pins(repo.tmt_dir) == set(ids)


def test_a_pin_that_cannot_be_written_is_a_store_error(repo: Repo) -> None:
    pin = PinFile(repo.tmt_dir)
    pin.add([hash_bytes(b"a")])
    os.close(pin._fd)
    pin._fd = dev_full()
    with pytest.raises(StoreError, match=r"could not write the pin file .*pins.*\.pin: No space left on device") as e:
        pin.add([hash_bytes(b"b")])
    assert "disk is full" in e.value.hint
    pin.close()


def _break_pins(run) -> None:
    os.close(run._pin._fd)
    run._pin._fd = dev_full()


def test_a_run_whose_final_pins_fail_raises_a_store_error(repo: Repo) -> None:
    with pytest.raises(StoreError, match="could not write the pin file"):
        with tmt.start_run("full") as run:
            tmt.log({"loss": 1.0})
            _break_pins(run)
    assert not run._live and tmt.active_run() is None


def test_a_failed_run_keeps_its_own_exception_when_the_final_record_fails(
    repo: Repo, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match="boom"):
        with tmt.start_run("full") as run:
            tmt.log({"loss": 1.0})
            _break_pins(run)
            raise ValueError("boom")
    err = capsys.readouterr().err
    assert f"could not write the final record of run {run.id}: could not write the pin file" in err


def test_save_whose_pin_fails_names_the_pin_file(repo: Repo) -> None:
    with tmt.start_run("full") as run:
        _break_pins(run)
        with pytest.raises(StoreError, match="could not write the pin file"):
            run.save({"a": 1}, "obj")
        os.close(run._pin._fd)
        run._pin._fd = None  # a working pin again, so the run can end


@pytest.mark.parametrize("count", [1, 40])  # an fsync per file; one syncfs (objects.FSYNC_EACH_MAX)
def test_batch_commit_maps_a_sync_failure(repo: Repo, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    import tmt.store.objects as objects

    def broken(*args):
        raise OSError(errno.EIO, "Input/output error")

    batch = repo.store.batch()
    oids = [batch.add(b"never published unsynced %d" % i) for i in range(count)]
    monkeypatch.setattr(objects, "syncfs", broken)
    monkeypatch.setattr(objects.os, "fsync", broken)
    with pytest.raises(StoreError, match=r"could not write new objects to .*tmp: Input/output error"):
        batch.commit()
    assert not any(repo.store.has(oid) for oid in oids)
    assert list(repo.tmp_dir.iterdir()) == []


def test_a_small_batch_is_synced_file_by_file_without_loading_ctypes(repo: Repo) -> None:
    # syncfs flushes every dirty page of the file system (another program's too) and needs
    # ctypes: an edit-then-run, which writes a few objects, pays neither.
    code = (
        "import sys, tmt.repo, tmt.store.objects as o\n"
        "repo = tmt.repo.Repo.find(sys.argv[1])\n"
        "n = int(sys.argv[2])\n"
        "with repo.store.batch() as b:\n"
        "    ids = [b.add(b'object %d of %d' % (i, n)) for i in range(n)]\n"
        "assert all(repo.store.has(i) for i in ids)\n"
        "print('ctypes' in sys.modules)\n"
    )
    import sys

    from tmt.store.objects import FSYNC_EACH_MAX

    def loads_ctypes(n: int) -> bool:
        out = subprocess.run([sys.executable, "-c", code, str(repo.root), str(n)], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip() == "True"

    assert not loads_ctypes(FSYNC_EACH_MAX)
    assert loads_ctypes(FSYNC_EACH_MAX + 1) == sys.platform.startswith("linux")


# -- records are written by the same atomic write ---------------------------------------------


def test_atomic_write_creates_a_missing_folder_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "experiments" / "r.json"
    fsutil.atomic_write(target, b"{}", tmp_path / "tmp", sync_dir=False, make_dirs=True)
    assert target.read_bytes() == b"{}"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_run_recreates_a_removed_experiments_folder(repo: Repo) -> None:
    import shutil

    with tmt.start_run("x") as run:
        shutil.rmtree(repo.experiments_dir)
    assert (repo.experiments_dir / f"{run.id}.json").exists()
