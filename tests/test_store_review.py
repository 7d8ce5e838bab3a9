"""Review fixes in the store: temp names with the host, foreign pins, pin writes, write errors."""
from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tmt
from tmt._sys import host_label
from tmt.errors import StoreError
from tmt.maintenance import gc
from tmt.repo import Repo
from tmt.store import fsutil
from tmt.store.ids import hash_bytes
from tmt.store.pins import PinFile, live_pins


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def aged(path: Path, seconds: float) -> Path:
    t = time.time() - seconds
    os.utime(path, (t, t))
    return path


def dev_full() -> int:
    return os.open("/dev/full", os.O_WRONLY)


# -- temp names carry the host (finding 13) -------------------------------------------------


def test_temp_names_carry_host_and_pid(tmp_path: Path) -> None:
    name = os.path.basename(fsutil.tmp_name(tmp_path))
    assert name.startswith(f"{host_label()}_{os.getpid()}-")
    assert fsutil.tmp_owner(name) == (host_label(), os.getpid())
    assert fsutil.tmp_owner("1234-abcd") == (None, 1234)  # names written before hosts were added
    assert fsutil.tmp_owner("garbage") == (None, None)


def test_gc_leaves_another_hosts_temp_files_for_a_day(repo: Repo) -> None:
    tmp = repo.tmp_dir
    tmp.mkdir(exist_ok=True)
    dead = dead_pid()
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


# -- pins: foreign pins, deleted pins, short writes, errors (findings 4, 21, 2) ----------------


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


def test_this_hosts_dead_pin_is_still_removed(repo: Repo) -> None:
    pins = repo.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    dead = pins / f"{host_label()}_{dead_pid()}_abcd.pin"
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


def test_batch_commit_maps_a_sync_failure(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    import tmt.store.objects as objects

    def broken(path):
        raise OSError(errno.EIO, "Input/output error")

    batch = repo.store.batch()
    oid = batch.add(b"never published unsynced")
    monkeypatch.setattr(objects, "syncfs", broken)
    with pytest.raises(StoreError, match=r"could not write new objects to .*tmp: Input/output error"):
        batch.commit()
    assert not repo.store.has(oid)
    assert list(repo.tmp_dir.iterdir()) == []


# -- one atomic write for records too (finding 34) --------------------------------------------


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
