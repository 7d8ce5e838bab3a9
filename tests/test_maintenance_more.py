"""gc --keep-last as `tmt rm` deletes, stale journals, OS errors as messages, lazy imports."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_broken import FILES, record_run, write_files  # noqa: E402

import tmt  # noqa: E402
from tmt._sys import hostname  # noqa: E402
from tmt.errors import StoreError  # noqa: E402
from tmt.maintenance import fsck, gc  # noqa: E402
from tmt.records.io import write_record  # noqa: E402
from tmt.records.model import new_run_id  # noqa: E402
from tmt.store.pins import remove_dead_pins  # noqa: E402


@pytest.fixture
def proj(repo):
    write_files(repo.root, FILES)
    return repo


def cli(args, cwd):
    return subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True)


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def day(i: int) -> str:
    return f"2026-01-{i:02d}T00:00:00+00:00"


# -- --keep-last ------------------------------------------------------------------------------


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
    rec = dataclasses.replace(rec, env={"host": hostname(), "pid": pid})
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return rec


def test_keep_last_prunes_crashed_runs_but_never_running_ones(proj):
    """A crashed run (recorded `running`, its process gone) was never pruned."""
    crashed = _own(proj, record_run(proj, "a", status="running", created_at=day(1)), dead_pid())
    live = _own(proj, record_run(proj, "a", status="running", created_at=day(2)), os.getpid())
    done = record_run(proj, "a", created_at=day(3))
    r = gc(proj, grace=0, keep_last=0)
    assert r.records_deleted == sorted([crashed.id, done.id])
    assert {p.stem for p in proj.experiments_dir.iterdir()} == {live.id}


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

    out = cli(["gc", "--grace", "0", "--dry-run"], proj.root)
    assert "Would remove 2 stale step-metric journal(s) (their runs are deleted or already packed).\n" in out.stdout
    assert all(p.exists() for p in journals.values())
    out = cli(["gc", "--grace", "0", "--json"], proj.root)
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


# -- pins -------------------------------------------------------------------------------------


def test_one_dead_pin_removal_for_gc_and_live_pins(proj):
    pins = proj.tmt_dir / "pins"
    pins.mkdir(exist_ok=True)
    from tmt._sys import host_label

    dead = pins / f"{host_label()}_{dead_pid()}_abcd.pin"
    foreign = pins / f"elsewhere_{dead_pid()}_abcd.pin"
    for p in (dead, foreign):
        p.write_bytes(b"\0" * 32)
    assert remove_dead_pins(proj.tmt_dir) == 1
    assert not dead.exists() and foreign.exists()  # another host's pin is never deleted here


# -- OS errors are messages, not tracebacks ---------------------------------------------------


def test_gc_lock_that_cannot_be_opened_is_an_error_message(proj):
    (proj.tmt_dir / "gc.lock").mkdir()
    out = cli(["gc"], proj.root)
    assert out.returncode == 1
    assert out.stderr.startswith(f"Error: {proj.tmt_dir / 'gc.lock'} is a folder, where tmt keeps its own file; "
                                 "tmt never follows or writes through it\nhint: ")


def test_fsck_repair_moves_a_file_standing_where_quarantine_belongs_aside(proj):
    rec = record_run(proj)
    victim = proj.store.path(rec.code["tree"])
    os.chmod(victim, 0o644)
    victim.write_bytes(b"damaged")
    (proj.tmt_dir / "quarantine").write_text("a file where a folder should be")
    out = cli(["fsck", "--repair"], proj.root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"unsafe_path: {proj.tmt_dir / 'quarantine'} is a file, where tmt keeps its own folder")
    aside = [p for p in proj.tmt_dir.iterdir() if p.name.startswith("quarantine.unsafe-")]
    assert [p.read_text() for p in aside] == ["a file where a folder should be"]  # kept, not deleted
    assert (proj.tmt_dir / "quarantine" / rec.code["tree"]).read_bytes() == b"damaged"


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
