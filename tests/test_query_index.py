"""The index is a cache: it follows the records, survives deletion and corruption, and many
processes use it at once without "database is locked"."""
from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import textwrap

import pytest

from test_query import make_run

import tmt
from tmt.query import index as ix
from tmt.query import reading
from tmt.query.index import rebuild_index
from tmt.records.io import record_path, write_record
from tmt.repo import Repo


def test_index_follows_records_written_behind_its_back(repo):
    a = make_run(repo, "a", at=0)
    assert tmt.runs().ids == [a.id]
    assert (repo.tmt_dir / "index.sqlite").exists()
    b = make_run(repo, "b", at=1)  # written without touching the index
    assert tmt.runs().ids == [a.id, b.id]
    rec = tmt.get("a").record
    rec.status, rec.metrics = "failed", {"f1": 0.25}
    write_record(repo.experiments_dir, repo.tmp_dir, rec)  # rewritten by rename
    assert tmt.get("a").status == "failed" and tmt.get("a").metrics == {"f1": 0.25}
    record_path(repo.experiments_dir, b.id).unlink()
    assert tmt.runs().ids == [a.id]


def test_record_copied_in_with_old_mtime_is_found(repo, tmp_path):
    other = Repo.init(tmp_path / "other")
    c = make_run(other, "copied", at=3)
    make_run(repo, "here", at=0)
    assert len(tmt.runs()) == 1
    shutil.copy2(record_path(other.experiments_dir, c.id), repo.experiments_dir)
    assert tmt.get("copied").id == c.id


def test_fresh_index_is_trusted_without_rescan(repo, monkeypatch):
    make_run(repo, "a")
    idx = ix.index_for(repo)
    idx.sync()
    # Pretend the last scan was long after the folder's mtime: no rescan needed.
    conn = idx.connection()
    conn.execute("UPDATE meta SET value = value + 10000000000 WHERE key = 'scanned'")
    calls = []
    monkeypatch.setattr(reading, "read_record_bytes", lambda p: calls.append(p))
    monkeypatch.setattr(reading, "read_record", lambda p: calls.append(p))
    monkeypatch.setattr(ix.os, "scandir", lambda p: calls.append(p))
    assert idx.is_fresh()
    assert len(tmt.runs()) == 1 and calls == []


def test_deleted_index_is_rebuilt_silently(repo, capfd):
    a = make_run(repo, "a")
    assert tmt.get("a").id == a.id
    ix.index_for(repo).close()
    for suffix in ("", "-wal", "-shm"):
        (repo.tmt_dir / f"index.sqlite{suffix}").unlink(missing_ok=True)
    assert tmt.get("a").id == a.id
    assert capfd.readouterr().err == ""


def test_corrupt_index_is_rebuilt_silently(repo, capfd):
    a = make_run(repo, "a")
    assert tmt.get("a").id == a.id
    ix.index_for(repo).close()
    for suffix in ("-wal", "-shm"):
        (repo.tmt_dir / f"index.sqlite{suffix}").unlink(missing_ok=True)
    (repo.tmt_dir / "index.sqlite").write_bytes(b"this is not a database" * 100)
    assert tmt.get("a").id == a.id
    assert capfd.readouterr().err == ""
    with sqlite3.connect(repo.tmt_dir / "index.sqlite") as c:
        assert c.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1


def test_index_of_another_schema_is_rebuilt(repo):
    a = make_run(repo, "a")
    with sqlite3.connect(repo.tmt_dir / "index.sqlite") as c:
        c.execute("CREATE TABLE runs (x)")
        c.execute("PRAGMA user_version = 99")
    assert tmt.get("a").id == a.id


def test_rebuild_index(repo):
    for i in range(5):
        make_run(repo, f"r{i}", at=i)
    assert len(tmt.runs()) == 5
    assert rebuild_index(repo) == 5
    assert rebuild_index() == 5  # found from the working directory
    assert tmt.get("last").name == "r4"


def test_corrupt_record_is_skipped_with_a_warning(repo, capfd):
    good = make_run(repo, "good")
    bad = repo.experiments_dir / ("e" * 32 + ".json")
    bad.write_text("{ not json")
    wrong = make_run(repo, "wrong", at=1)
    path = record_path(repo.experiments_dir, wrong.id)
    data = json.loads(path.read_text())
    data["status"] = "exploded"
    path.write_text(json.dumps(data))
    assert tmt.runs().ids == [good.id]
    err = capfd.readouterr().err
    assert f"tmt: warning: skipping corrupt record {bad}: not valid JSON" in err
    assert f"tmt: warning: skipping corrupt record {path}: invalid status 'exploded'" in err
    assert tmt.runs().ids == [good.id]
    assert capfd.readouterr().err == ""  # once per process
    bad.write_text(path.read_text().replace("exploded", "completed").replace(wrong.id, "e" * 32))
    path.unlink()
    assert sorted(tmt.runs().ids) == sorted([good.id, "e" * 32])


def test_read_only_store_uses_a_memory_index(repo, monkeypatch):
    a = make_run(repo, "a")
    real_access = ix.os.access
    monkeypatch.setattr(ix.os, "access", lambda p, mode: False if mode == ix.os.W_OK else real_access(p, mode))
    ix._OPEN.clear()
    assert tmt.get("a").id == a.id
    assert ix.index_for(repo).memory
    assert not (repo.tmt_dir / "index.sqlite").exists()
    b = make_run(repo, "b", at=1)
    assert tmt.runs().ids == [a.id, b.id]


def test_after_fork_a_new_connection(repo, python):
    make_run(repo, "a")
    assert len(tmt.runs()) == 1
    idx = ix.index_for(repo)
    idx.pid = -1  # as if inherited from a parent process
    assert ix.index_for(repo) is not idx
    assert len(tmt.runs()) == 1


WORKER = textwrap.dedent("""
    import sys
    from datetime import datetime, timezone
    import tmt
    from tmt.repo import Repo
    from tmt.records.io import write_record
    from tmt.records.model import Record, new_run_id
    repo = Repo(sys.argv[1])
    w = int(sys.argv[2])
    for i in range(int(sys.argv[3])):
        rec = Record(id=new_run_id(), name=f"w{w}", status="completed",
                     created_at=datetime.now(timezone.utc).isoformat(), metrics={"i": i})
        write_record(repo.experiments_dir, repo.tmp_dir, rec)
        assert tmt.get(f"w{w}").metrics == {"i": i}
        assert len(tmt.runs(name=f"^w{w}$", where="i >= 0")) == i + 1
        if i % 10 == 0:
            tmt.query.rebuild_index(repo)
    print("ok")
""")


@pytest.mark.slow
def test_many_processes_at_once_never_see_locked(repo, python, tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    procs = [
        subprocess.Popen([python, str(script), str(repo.tmt_dir), str(w), "40"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for w in range(4)
    ]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        assert out == "ok\n" and "locked" not in err
    assert len(tmt.runs()) == 160
    assert {r.name for r in tmt.runs()} == {"w0", "w1", "w2", "w3"}


def test_where_after_records_change(repo):
    a = make_run(repo, "a", at=0, metrics={"f1": 0.9}, params={"opt": "adam"})
    assert tmt.runs(where="f1 > 0.5").ids == [a.id]  # fills the f1 values of the index
    b = make_run(repo, "b", at=1, metrics={"f1": 0.95}, params={"opt": "adam"})
    assert tmt.runs(where="f1 > 0.5").ids == [a.id, b.id]
    assert tmt.runs(where=["f1 > 0.5", "params.opt == adam"]).ids == [a.id, b.id]
    rec = tmt.get("a").record
    rec.metrics = {"f1": 0.1}
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    assert tmt.runs(where="f1 > 0.5").ids == [b.id]
    assert tmt.runs(where="f1 < 0.5").ids == [a.id]
    record_path(repo.experiments_dir, b.id).unlink()
    assert tmt.runs(where="f1 > 0").ids == [a.id]
    assert rebuild_index(repo) == 1
    assert tmt.runs(where="f1 < 0.5").ids == [a.id]


# -- one index shared by threads ---------------------------------------------------------


def test_queries_from_many_threads(repo):
    import threading

    runs = [make_run(repo, f"t{i}", at=i, metrics={"f1": (i + 1) / 20}) for i in range(20)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(60):
                if n == 0 and i % 3 == 0:
                    make_run(repo, f"new{i}", at=100 + i)  # forces syncs (write transactions)
                if i % 2:
                    assert tmt.runs(where="f1 > 0").ids == [r.id for r in runs]  # the new runs have no f1
                else:
                    assert 20 <= len(tmt.runs()) <= 40
                assert tmt.get(runs[i % 20].id[:8]).id == runs[i % 20].id
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(tmt.runs()) == 40


# -- the AS_SUB_ENTRY parent is one index lookup, not a scan of every record ---------------


def test_latest_id(repo):
    from tmt.query import latest_id

    assert latest_id("a", repo=repo) is None
    a1 = make_run(repo, "a", at=0)
    a2 = make_run(repo, "a", at=5)
    make_run(repo, "b", at=9)
    make_run(repo, "a~1", at=10)
    assert latest_id("a", repo=repo) == a2.id
    assert latest_id("a") == a2.id and a1.id != a2.id


def test_sub_entry_parent_reads_no_record(repo, monkeypatch):
    from pathlib import Path

    from tmt.recorder import DuplicatePolicy, DuplicateStrategy, tmt_recorder

    runs = [make_run(repo, "exp" if i % 5 == 0 else f"other{i}", at=i) for i in range(30)]
    idx = ix.index_for(repo)
    idx.sync()
    idx.connection().execute("UPDATE meta SET value = value + 10000000000 WHERE key = 'scanned'")  # trusted
    reads: list[str] = []
    real = Path.read_bytes

    def counting(self):
        if self.parent == repo.experiments_dir:
            reads.append(self.name)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", counting)

    @tmt_recorder(name="exp", duplicate_strategy=DuplicateStrategy(DuplicatePolicy.AS_SUB_ENTRY))
    def train():
        return {"f1": 1.0}

    train()
    assert reads == []
    monkeypatch.setattr(Path, "read_bytes", real)
    assert tmt.get("exp").parent == runs[25].id


def test_sub_entry_parent_without_the_index_reads_records_as_every_reader_does(repo, monkeypatch, tmp_path):
    """When the index cannot answer, the records are scanned: a link planted as a record (to
    a file naming a later run of the same name) is not followed, a damaged record is skipped."""
    import tmt.query
    from tmt.recorder import DuplicatePolicy, DuplicateStrategy, tmt_recorder

    real = make_run(repo, "exp", at=1)
    make_run(repo, "exp", at=0)
    outside = tmp_path / "outside.json"
    planted = json.loads(record_path(repo.experiments_dir, real.id).read_text())
    planted_id = "f" * 32
    planted.update(id=planted_id, created_at="2999-01-01T00:00:00+00:00")
    outside.write_text(json.dumps(planted))
    link = record_path(repo.experiments_dir, planted_id)
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(outside)
    damaged = record_path(repo.experiments_dir, "e" * 32)
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b'{"name": "exp", "created_at": "3000-01-01T00:00:00+00:00", "id": "' + b"e" * 32 + b'"')

    def no_index(*a, **k):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(tmt.query, "latest_id", no_index)

    @tmt_recorder(name="exp", duplicate_strategy=DuplicateStrategy(DuplicatePolicy.AS_SUB_ENTRY))
    def train():
        return {}

    train()
    monkeypatch.undo()
    child = max((r for r in tmt.query.runs(repo=repo) if r.name == "exp"), key=lambda r: r.created_at)
    assert child.parent == real.id


# -- no fork from a process with other threads ---------------------------------------------

FORK_SCRIPT = """
import os, sys, threading
from tmt.query import index as ix, reading
from tmt.repo import Repo

forks = []
os.register_at_fork(before=lambda: forks.append(1))
reading.PARALLEL_MIN = 1
ix.os.cpu_count = lambda: 2
repo = Repo.find()
stop = threading.Event()
busy = threading.Thread(target=stop.wait)  # a training loop, the recorder's fsync thread...
busy.start()
n1 = ix.rebuild_index(repo)
with_thread = len(forks)
stop.set()
busy.join()
n2 = ix.rebuild_index(repo)
print(n1, n2, with_thread, len(forks) - with_thread)
"""


def test_rebuild_forks_workers_only_without_other_threads(repo, python):
    ids = [make_run(repo, f"r{i}", at=i).id for i in range(4)]
    p = subprocess.run([python, "-c", FORK_SCRIPT], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    n1, n2, with_thread, alone = map(int, p.stdout.split())
    assert (n1, n2, with_thread) == (4, 4, 0) and alone > 0
    assert tmt.runs().ids == ids


# The runs table as every index since SCHEMA_VERSION 5 has it: changing it needs a version bump.
GOLDEN_RUNS_TABLE = """CREATE TABLE runs (
    rid INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_iso TEXT NOT NULL,
    finished_at REAL,
    finished_iso TEXT,
    duration REAL,
    pid INTEGER,
    host TEXT,
    tags TEXT NOT NULL,
    parent TEXT,
    params BLOB NOT NULL,
    metrics BLOB NOT NULL,
    series BLOB,
    f_mtime INTEGER NOT NULL,
    f_size INTEGER NOT NULL,
    f_ino INTEGER NOT NULL
)"""


def test_runs_table_on_disk_is_the_version_5_layout(repo):
    make_run(repo, "a")
    assert len(tmt.runs()) == 1
    with sqlite3.connect(repo.tmt_dir / "index.sqlite") as c:
        (sql,) = c.execute("SELECT sql FROM sqlite_master WHERE name = 'runs'").fetchone()
        assert c.execute("PRAGMA user_version").fetchone()[0] == ix.SCHEMA_VERSION == 5
    assert sql == GOLDEN_RUNS_TABLE


def test_row_read_back_from_the_index_is_the_prepared_record(repo):
    rec = make_run(repo, "a", params={"lr": 0.1}, metrics={"f1": 0.5}, tags=["paper"], parent=None)
    prepared = ix.prepare(rec, str(repo.tmt_dir))
    idx = ix.index_for(repo)
    (row,) = idx.run(lambda c: c.execute(f"SELECT {ix.ROW_SQL} FROM runs").fetchall())
    assert row == prepared
    assert (row[ix.C_ID], row[ix.C_NAME], row[ix.C_TAGS], row[ix.C_DURATION], row[ix.C_HOST], row[ix.C_PID]) == (
        rec.id, "a", '["paper"]', 30.0, "elsewhere", 1)
    assert row[ix.C_FINISHED_ISO] == rec.finished_at and row[ix.C_CREATED_ISO] == rec.created_at
