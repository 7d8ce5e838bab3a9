"""gc: keeps exactly what records and live runs need, deletes the rest after the grace period."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_broken import FILES, record_run, remove_object, tree_entry, write_files  # noqa: E402

import tmt  # noqa: E402
from tmt._sys import hostname  # noqa: E402
from tmt.errors import LockedError, StoreError, UsageError  # noqa: E402
from tmt.maintenance import GcRefused, fsck, gc, parse_duration  # noqa: E402
import importlib  # noqa: E402

gcmod = importlib.import_module("tmt.maintenance.gc")
from tmt.maintenance.lock import GcLock  # noqa: E402
from tmt.records.io import record_path, write_record  # noqa: E402
from tmt.records.model import Record, new_run_id  # noqa: E402
from tmt.snapshot.checkout import walk_tree  # noqa: E402
from tmt.store.pins import PinFile, remove_dead_pins  # noqa: E402


def age(repo, oid: str, seconds: float = 7200) -> None:
    t = time.time() - seconds
    os.utime(repo.store.path(oid), (t, t))


def reachable(repo, rec) -> set[str]:
    out = {rec.code["tree"], *rec.series.values(), *(a["object"] for a in rec.artifacts)}
    stack = [rec.code["tree"]]
    from tmt.snapshot.checkout import read_tree

    while stack:
        for e in read_tree(repo.store, stack.pop()):
            out.add(e.oid)
            if e.kind == "d":
                stack.append(e.oid)
    return out


@pytest.fixture
def proj(repo):
    write_files(repo.root, FILES)
    return repo


def test_grace_zero_deletes_exactly_the_unreferenced(proj):
    rec = record_run(proj, series={"loss": [1.0, 0.5]}, artifacts={"m.bin": b"model"})
    junk = [proj.store.put(b"junk %d" % i) for i in range(3)]
    before = set(proj.store)
    r = gc(proj, grace=0)
    assert set(proj.store) == reachable(proj, rec) == before - set(junk)
    assert r.objects_deleted == 3
    assert r.bytes_freed == sum(len(b"junk %d" % i) for i in range(3))
    assert r.objects_kept == len(before) - 3
    assert fsck(proj).ok


def test_grace_keeps_young_objects(proj):
    record_run(proj)
    old, young = proj.store.put(b"old"), proj.store.put(b"young")
    age(proj, old)
    r = gc(proj)  # default grace: 1 hour
    assert not proj.store.has(old) and proj.store.has(young)
    assert (r.objects_deleted, r.objects_young) == (1, 1)


def test_dry_run_deletes_nothing_and_reports_what_would_go(proj):
    record_run(proj)
    oid = proj.store.put(b"x" * 100)
    before = set(proj.store)
    r = gc(proj, grace=0, dry_run=True)
    assert set(proj.store) == before
    assert (r.objects_deleted, r.bytes_freed, r.dry_run) == (1, 100, True)
    assert proj.store.has(oid)


def test_running_runs_are_roots(proj):
    rec = record_run(proj, status="running", series={"a": [1.0]})
    gc(proj, grace=0)
    assert reachable(proj, rec) <= set(proj.store)


def test_live_pins_protect_blobs_and_whole_trees(proj):
    rec = record_run(proj)
    tree = rec.code["tree"]
    os.unlink(record_path(proj.experiments_dir, rec.id))  # only the pin holds it now
    blob = proj.store.put(b"pinned blob")
    with PinFile(proj.tmt_dir) as pin:
        pin.add([tree, blob])
        gc(proj, grace=0)
        assert proj.store.has(blob)
        assert all(proj.store.has(e.oid) for _, e in walk_tree(proj.store, tree))
    r = gc(proj, grace=0)  # the pin is gone: everything goes
    assert list(proj.store) == [] and r.objects_deleted > 3


def test_dead_pins_are_removed_and_protect_nothing(proj, dead_pid: int):
    oid = proj.store.put(b"was pinned by a dead process")
    pins = proj.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    from tmt._sys import host_label

    dead = pins / f"{host_label()}_{dead_pid}_abcd.pin"
    dead.write_bytes(bytes.fromhex(oid))
    r = gc(proj, grace=0)
    assert r.pins_removed == 1 and not dead.exists()
    assert not proj.store.has(oid)


def test_object_pinned_while_gc_runs_is_put_back(proj, monkeypatch):
    """A writer re-adding an old unreferenced object (dedup) after the first mark keeps it."""
    oid = proj.store.put(b"old object a new run re-adds")
    age(proj, oid)
    pin = PinFile(proj.tmt_dir)
    real = gcmod._Gc._live_pins

    def pins(self, first):
        if not first:  # between "move aside" and "mark again": the writer pins and re-adds
            assert not proj.store.has(oid)
            pin.add([oid])
        return real(self, first)

    monkeypatch.setattr(gcmod._Gc, "_live_pins", pins)
    r = gc(proj, grace=0)
    pin.close()
    assert proj.store.has(oid)
    assert proj.store.get(oid, verify=True) == b"old object a new run re-adds"
    assert (r.objects_restored, r.objects_deleted) == (1, 0)
    assert not list(proj.tmt_dir.glob("trash-*"))


def test_writer_that_unpins_during_the_second_mark_keeps_its_object(proj, monkeypatch):
    """The second mark reads pins before records: a writer that pins after the first mark,
    then writes its record and unpins while gc re-reads the records, is seen by one of them
    (read the other way round, the object was deleted under a record referencing it)."""
    oid = proj.store.put(b"old object a finishing run re-adds")
    age(proj, oid)
    pin = PinFile(proj.tmt_dir)
    real_scan, real_load = gcmod._Gc._scan, gcmod._Gc._load_records
    made = {}

    def scan(self, marker):
        out = real_scan(self, marker)
        pin.add([oid])  # after the first mark: the object is a candidate
        return out

    def load(self, first):
        records = real_load(self, first)
        if not first:  # just after the records were read: the record appears, the pin goes
            made["rec"] = Record(id=new_run_id(), name="late", status="completed",
                                 created_at="2026-01-01T00:00:00+00:00", artifacts=[{"name": "a", "object": oid}])
            write_record(proj.experiments_dir, proj.tmp_dir, made["rec"])
            pin.close()
        return records

    monkeypatch.setattr(gcmod._Gc, "_scan", scan)
    monkeypatch.setattr(gcmod._Gc, "_load_records", load)
    gc(proj, grace=0)
    assert made["rec"].artifacts[0]["object"] == oid
    assert proj.store.get(oid, verify=True) == b"old object a finishing run re-adds"
    assert fsck(proj).ok


def test_record_written_while_gc_runs_keeps_its_objects(proj, monkeypatch):
    snap_pin = PinFile(proj.tmt_dir)
    real = gcmod._Gc._load_records
    made = {}

    def load(self, first):
        if not first:
            made["rec"] = record_run(proj, pin=snap_pin)  # blobs exist already -> in the trash
        return real(self, first)

    rec0 = record_run(proj)
    os.unlink(record_path(proj.experiments_dir, rec0.id))
    for oid in list(proj.store):
        age(proj, oid)
    monkeypatch.setattr(gcmod._Gc, "_load_records", load)
    gc(proj, grace=0)
    snap_pin.close()
    assert reachable(proj, made["rec"]) <= set(proj.store)
    assert fsck(proj).ok


def test_unreadable_record_stops_gc(proj):
    rec = record_run(proj)
    junk = proj.store.put(b"junk")
    p = record_path(proj.experiments_dir, rec.id)
    p.write_bytes(p.read_bytes()[:40])
    with pytest.raises(GcRefused) as e:
        gc(proj, grace=0)
    assert f"record {p} cannot be read" in e.value.message
    assert "gc deletes nothing" in e.value.message
    assert "tmt fsck" in e.value.hint and "--force" in e.value.hint
    assert proj.store.has(junk)
    r = gc(proj, grace=0, force=True)
    assert r.unreadable_records == [str(p)]
    assert not proj.store.has(junk)


def test_missing_tree_stops_gc(proj):
    rec = record_run(proj)
    lib = tree_entry(proj, rec.code["tree"], "lib").oid
    remove_object(proj, lib)
    with pytest.raises(GcRefused, match=f"tree {lib} needed by a record is missing"):
        gc(proj, grace=0)
    assert len(list(proj.store)) > 3


def test_leftover_trash_is_restored_then_judged(proj):
    rec = record_run(proj)
    keep = rec.code["tree"]
    junk = proj.store.put(b"junk")
    trash = proj.tmt_dir / "trash-deadhost-1-0000"
    trash.mkdir()
    for oid in (keep, junk):
        os.rename(proj.store.path(oid), trash / oid)
    assert not fsck(proj).ok  # tree missing, trash reported
    r = gc(proj, grace=0)
    assert r.trash_restored == 2
    assert proj.store.has(keep) and not proj.store.has(junk)
    assert not trash.exists()
    assert fsck(proj).ok


def test_stale_temp_files(proj, dead_pid: int):
    tmp = proj.tmp_dir
    old = time.time() - 3 * 3600
    dead = dead_pid
    files = {
        "dead_old": tmp / f"{dead}-aaaa",
        "dead_young": tmp / f"{dead}-bbbb",
        "live_old": tmp / f"{os.getpid()}-cccc",
        "live_ancient": tmp / f"{os.getpid()}-dddd",
        "noname_old": tmp / "garbage",
    }
    for p in files.values():
        p.write_bytes(b"partial")
    for k in ("dead_old", "live_old", "noname_old"):
        os.utime(files[k], (old, old))
    os.utime(files["live_ancient"], (old - 86400, old - 86400))
    r = gc(proj, grace=4 * 3600)  # dead: 5 minutes old is enough; live: never, whatever the age
    assert r.temp_files_removed == 2
    assert {k for k, p in files.items() if p.exists()} == {"dead_young", "live_old", "live_ancient"}
    r = gc(proj, grace=0)  # a clock hours ahead cannot make a live writer's file stale either
    assert {k for k, p in files.items() if p.exists()} == {"dead_young", "live_old", "live_ancient"}


def test_keep_last_per_name(proj):
    a = [record_run(proj, "a", created_at=f"2026-01-0{i}T00:00:00+00:00", artifacts={"m": b"a%d" % i}) for i in range(1, 5)]
    live = record_run(proj, "a", status="running", created_at="2026-01-09T00:00:00+00:00")
    b = record_run(proj, "b", status="failed")
    r = gc(proj, grace=0, keep_last=2)
    assert r.records_deleted == sorted([a[0].id, a[1].id])
    left = {p.stem for p in proj.experiments_dir.iterdir()}
    assert left == {a[2].id, a[3].id, live.id, b.id}
    assert not proj.store.has(a[0].artifacts[0]["object"])
    assert proj.store.has(a[3].artifacts[0]["object"])


def test_keep_last_dry_run_deletes_no_record(proj):
    recs = [record_run(proj, "a", created_at=f"2026-01-0{i}T00:00:00+00:00", artifacts={"m": b"a%d" % i}) for i in (1, 2)]
    r = gc(proj, grace=0, keep_last=1, dry_run=True)
    assert r.records_deleted == [recs[0].id] and r.objects_deleted == 1
    assert len(list(proj.experiments_dir.iterdir())) == 2


def day(i: int) -> str:
    return f"2026-01-{i:02d}T00:00:00+00:00"


def test_keep_last_deletes_a_run_like_rm_cached_views_included(proj):
    """keep-last left .tmt/cache/artifacts/<id> and cache/checkouts/<id> (hard links): the
    space was not freed although bytes_freed said so."""
    old = record_run(proj, "a", created_at=day(1), artifacts={"m": b"old weights"})
    new = record_run(proj, "a", created_at=day(2), artifacts={"m": b"new weights"})
    run = tmt.get(old.id, repo=proj)
    art = run.artifacts["m"].path
    view = run.code_path()
    assert art.exists() and view.is_dir()
    r = gc(proj, grace=0, keep_last=1)
    assert r.records_deleted == [old.id]
    assert not art.exists() and not (proj.cache_dir / "artifacts" / old.id).exists()
    assert not (proj.cache_dir / "checkouts" / old.id).exists()
    assert not proj.store.has(old.artifacts[0]["object"])
    assert [x.id for x in tmt.runs(repo=proj)] == [new.id]
    assert fsck(proj).ok


def _own(repo, rec, pid: int):
    """The record as if `pid` on this host had recorded it."""
    rec.env = {"host": hostname(), "pid": pid}
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return rec


def test_keep_last_prunes_crashed_runs_but_never_running_ones(proj, dead_pid: int):
    """A crashed run (recorded `running`, its process gone) was never pruned."""
    crashed = _own(proj, record_run(proj, "a", status="running", created_at=day(1)), dead_pid)
    live = _own(proj, record_run(proj, "a", status="running", created_at=day(2)), os.getpid())
    done = record_run(proj, "a", created_at=day(3))
    r = gc(proj, grace=0, keep_last=0)
    assert r.records_deleted == sorted([crashed.id, done.id])
    assert {p.stem for p in proj.experiments_dir.iterdir()} == {live.id}


def test_one_dead_pin_removal_for_gc_and_live_pins(proj, dead_pid: int):
    pins = proj.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    from tmt._sys import host_label

    dead = pins / f"{host_label()}_{dead_pid}_abcd.pin"
    foreign = pins / f"elsewhere_{dead_pid}_abcd.pin"
    for p in (dead, foreign):
        p.write_bytes(b"\0" * 32)
    assert remove_dead_pins(proj.tmt_dir) == 1
    assert not dead.exists() and foreign.exists()  # another host's pin is never deleted here


def test_lock_held_by_live_process(proj, python):
    code = (
        "import sys, time\nfrom tmt.maintenance.lock import GcLock\n"
        f"l = GcLock({str(proj.tmt_dir)!r}); l.acquire(); print('locked', flush=True); time.sleep(60)\n"
    )
    p = subprocess.Popen([python, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "locked"
        with pytest.raises(LockedError) as e:
            gc(proj, grace=0)
        assert e.value.message.startswith(f"another gc is running on this store (gc, pid {p.pid} on ")
        assert "taken over automatically" in e.value.hint
    finally:
        p.kill()
        p.wait()
    gc(proj, grace=0)  # its process is gone: the lock is stale


def test_stale_lock_file_is_taken_over(proj, dead_pid: int):
    (proj.tmt_dir / "gc.lock").write_text(json.dumps({"host": "h", "pid": dead_pid, "time": 0}))
    gc(proj, grace=0)
    assert not (proj.tmt_dir / "gc.lock").exists()
    with GcLock(proj.tmt_dir):
        with pytest.raises(LockedError):
            GcLock(proj.tmt_dir).acquire()


@pytest.mark.parametrize("text,seconds", [("0", 0), ("90s", 90), ("30m", 1800), ("1h", 3600), ("1.5h", 5400), ("2d", 172800), ("3600", 3600)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_duration_rejects_garbage():
    with pytest.raises(UsageError) as e:
        parse_duration("soon")
    assert e.value.message == "invalid duration 'soon'"
    assert e.value.hint == "use a number of seconds or a number with a unit: 90s, 30m, 1h, 2d, 0"


def run_cli(args, cwd):
    return subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True)


@pytest.mark.slow
def test_cli_gc(proj):
    record_run(proj)
    proj.store.put(b"1234567890")
    r = run_cli(["gc", "--dry-run", "--grace", "0"], proj.root)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Would delete 1 object(s), 10 B; kept ")
    r = run_cli(["gc", "--grace", "0", "--json"], proj.root)
    doc = json.loads(r.stdout)
    assert (doc["objects_deleted"], doc["bytes_freed"], doc["dry_run"]) == (1, 10, False)
    assert {"objects_kept", "temp_files_removed", "objects_young", "records_deleted"} <= set(doc)
    r = run_cli(["gc", "--grace", "soon"], proj.root)
    assert r.returncode == 2
    assert r.stderr == ("Error: invalid duration 'soon'\n"
                        "hint: use a number of seconds or a number with a unit: 90s, 30m, 1h, 2d, 0\n")


@pytest.mark.slow
def test_cli_gc_refuses_on_corrupt_record(proj):
    rec = record_run(proj)
    p = record_path(proj.experiments_dir, rec.id)
    p.write_text("{")
    r = run_cli(["gc", "--grace", "0"], proj.root)
    assert r.returncode == 1
    assert r.stderr.startswith(f"Error: record {p} cannot be read (not valid JSON")
    assert "hint: run `tmt fsck`" in r.stderr
    r = run_cli(["gc", "--grace", "0", "--force"], proj.root)
    assert r.returncode == 0 and "Ignored 1 unreadable record(s) (--force)" in r.stdout


def test_error_after_moving_aside_puts_everything_back(proj, monkeypatch):
    record_run(proj)
    junk = [proj.store.put(b"junk %d" % i) for i in range(5)]
    before = set(proj.store)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(gcmod._Gc, "_delete", boom)
    with pytest.raises(KeyboardInterrupt):
        gc(proj, grace=0)
    assert set(proj.store) == before and all(proj.store.has(j) for j in junk)
    assert not list(proj.tmt_dir.glob("trash-*"))
    assert not (proj.tmt_dir / "gc.lock").exists()


class _Tty:
    def __init__(self):
        import io

        self.buf = io.StringIO()

    def isatty(self):
        return True

    def write(self, s):
        return self.buf.write(s)

    def flush(self):
        pass


def test_progress_only_on_a_terminal_and_only_when_slow(proj):
    import io

    from tmt.progress import StderrProgress

    record_run(proj)
    proj.store.put(b"junk")
    piped = io.StringIO()
    with StderrProgress(delay_s=0, stream=piped) as p:
        gc(proj, grace=0, progress=p)
    assert piped.getvalue() == ""  # not a terminal: nothing
    tty = _Tty()
    with StderrProgress(delay_s=3600, stream=tty) as p:
        gc(proj, grace=0, progress=p)
    assert tty.buf.getvalue() == ""  # fast work: nothing
    tty = _Tty()
    with StderrProgress(delay_s=0, stream=tty) as p:
        fsck(proj, progress=p)
        assert p._bar is not None  # slow enough (delay 0): a rich bar was started


# -- journals ---------------------------------------------------------------------------------


def test_gc_removes_journals_no_reader_needs_and_fsck_names_them(proj):
    packed = record_run(proj, "packed", series={"loss": [1.0, 0.5]})  # final, with series
    running = record_run(proj, "running", status="running")  # its journal is its data
    unpacked = record_run(proj, "plain")  # final without series: its journal is left alone
    gone = new_run_id()  # record deleted
    jdir = proj.tmt_dir / "journal"
    jdir.mkdir()
    journals = {rid: jdir / f"{rid}.log" for rid in (packed.id, running.id, unpacked.id, gone)}
    for p in journals.values():
        p.write_bytes(b"frames")
    (jdir / "notes.txt").write_text("not a journal")

    r = fsck(proj)
    stale = sorted(p.path for p in r.problems if p.kind == "stale_journal")
    assert stale == sorted([str(journals[packed.id]), str(journals[gone])])
    assert r.ok  # informational: nothing is lost
    problem = next(p for p in r.problems if p.path == str(journals[gone]))
    assert problem.message == (f"{journals[gone]} is not needed: its run is deleted or its series are packed; "
                               "`tmt gc` removes it")

    out = run_cli(["gc", "--grace", "0", "--dry-run"], proj.root)
    assert "Would remove 2 stale step-metric journal(s) (their runs are deleted or already packed).\n" in out.stdout
    assert all(p.exists() for p in journals.values())
    out = run_cli(["gc", "--grace", "0", "--json"], proj.root)
    assert json.loads(out.stdout)["journals_removed"] == 2
    assert {p.name for p in jdir.iterdir()} == {f"{running.id}.log", f"{unpacked.id}.log", "notes.txt"}


def test_an_orphan_journal_within_the_grace_is_kept(proj):
    """A live run whose record was deleted (rm --force) may still be appending."""
    jdir = proj.tmt_dir / "journal"
    jdir.mkdir()
    orphan = jdir / f"{new_run_id()}.log"
    orphan.write_bytes(b"frames")
    assert gc(proj).journals_removed == 0  # default grace: an hour
    assert orphan.exists()


# -- OS errors are messages, not tracebacks ---------------------------------------------------


def test_gc_lock_that_cannot_be_opened_is_an_error_message(proj):
    (proj.tmt_dir / "gc.lock").mkdir()
    out = run_cli(["gc"], proj.root)
    assert out.returncode == 1
    assert out.stderr.startswith(f"Error: {proj.tmt_dir / 'gc.lock'} is a folder, where tmt keeps its own file; "
                                 "tmt never follows or writes through it\nhint: ")


def test_gc_that_cannot_make_its_trash_folder_says_so(proj, monkeypatch):
    record_run(proj)
    proj.store.put(b"junk")
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):
        if self.name.startswith("trash-"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(StoreError) as e:
        gc(proj, grace=0)
    assert e.value.message.startswith(f"gc failed: {proj.tmt_dir}/trash-")
    assert e.value.message.endswith(": Permission denied")
    assert e.value.hint == ("gc and fsck --repair change files all over the .tmt folder: "
                            "run them as its owner, on a writable mount")
    assert fsck(proj).ok


# -- imports ----------------------------------------------------------------------------------


def test_imports_stay_lazy():
    code = (
        "import sys, importlib\n"
        "import tmt\n"
        "print('typing' in sys.modules)\n"
        "import tmt.maintenance.reach\n"
        "print('concurrent.futures' in sys.modules)\n"
        "from tmt.maintenance.gc import gc as f\n"
        "print('tmt.maintenance.fsck' in sys.modules)\n"
        "from tmt.maintenance import gc, fsck\n"
        "print(gc is f is tmt.gc, fsck is tmt.fsck, callable(fsck))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.split("\n") == ["False", "False", "False", "True True True", ""], out.stderr
