"""Regression tests for the review findings on the query, records and workspace modules."""
from __future__ import annotations

import json
import subprocess

import pytest

from test_query import make_run

import tmt
from tmt.errors import CorruptRecord
from tmt.query import index as ix
from tmt.records.io import MAX_NESTING, read_record, record_path
from tmt.records.model import Record, encode, new_run_id


TMT_MAIN = "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; sys.exit(main())"


def write_raw(repo, name: str, params_json: str, **fields) -> str:
    """A record file whose params are the given JSON text (written byte for byte)."""
    rid = new_run_id()
    data = encode(Record(id=rid, name=name, status="completed", created_at="2024-03-01T12:00:00+00:00", **fields))
    del data["params"]
    text = json.dumps(data)[:-1] + f', "params": {params_json}}}'
    repo.experiments_dir.mkdir(parents=True, exist_ok=True)
    record_path(repo.experiments_dir, rid).write_text(text)
    return rid


# -- 1: deeply nested records are corrupt records, never a crash ----------------------------


@pytest.mark.parametrize("depth", [MAX_NESTING - 1, 900, 100_000])
def test_deeply_nested_record_is_corrupt_not_a_crash(repo, capfd, depth):
    ok = make_run(repo, "fine", at=0)
    rid = write_raw(repo, "deep", '{"x": ' + "[" * depth + "]" * depth + "}")
    with pytest.raises(CorruptRecord, match=f"nested deeper than {MAX_NESTING} levels"):
        read_record(record_path(repo.experiments_dir, rid))
    assert tmt.runs().ids == [ok.id]
    assert f"skipping corrupt record {record_path(repo.experiments_dir, rid)}" in capfd.readouterr().err
    assert ix.rebuild_index(repo) == 1


def test_nesting_at_the_limit_is_kept(repo):
    depth = MAX_NESTING - 2  # record object + params object + depth lists = MAX_NESTING levels
    rid = write_raw(repo, "edge", '{"x": ' + "[" * depth + "]" * depth + "}")
    assert tmt.runs().ids == [rid]


def test_nested_record_in_worker_processes(repo, monkeypatch):
    monkeypatch.setattr(ix, "PARALLEL_MIN", 1)
    monkeypatch.setattr(ix.os, "cpu_count", lambda: 2)
    good = [make_run(repo, f"r{i}", at=i).id for i in range(3)]
    write_raw(repo, "deep", "[" * 5000 + "]" * 5000)
    assert ix.rebuild_index(repo) == 3
    assert tmt.runs().ids == good


def test_cli_ls_and_show_survive_nested_record(repo, python):
    make_run(repo, "fine", at=0)
    write_raw(repo, "deep", '{"x": ' + "[" * 900 + "]" * 900 + "}")
    for args in (["ls"], ["show", "fine"]):
        p = subprocess.run([python, "-c", TMT_MAIN, *args], capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-2000:]
        assert "nested deeper than 100 levels" in p.stderr
    p = subprocess.run([python, "-c", TMT_MAIN, "show", "deep"], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "Error: no run matches 'deep'" in p.stderr


# -- 5: one index shared by threads ---------------------------------------------------------


def test_queries_from_many_threads(repo):
    import threading

    runs = [make_run(repo, f"t{i}", at=i) for i in range(20)]
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        try:
            start.wait()
            for i in range(60):
                if n == 0 and i % 3 == 0:
                    make_run(repo, f"new{i}", at=100 + i)  # forces syncs (write transactions)
                assert len(tmt.runs(where="f1 > 0" if i % 2 else None)) >= 0
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


# -- 6: a limit counts crashed and running runs after they are told apart --------------------


def test_limit_with_crashed_status(repo, python):
    import os

    from tmt._sys import hostname

    dead = int(subprocess.run([python, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    crashed = [make_run(repo, f"c{i}", at=i, status="running", env={"host": hostname(), "pid": dead}).id
               for i in range(3)]
    live = [make_run(repo, f"l{i}", at=10 + i, status="running", env={"host": hostname(), "pid": os.getpid()}).id
            for i in range(4)]
    from tmt.query.runs import select

    got = select(repo, status="crashed", newest_first=True, limit=2)
    assert got.ids == crashed[::-1][:2] and got.statuses == ["crashed", "crashed"]
    assert select(repo, status="running", limit=2).ids == live[:2]
    assert select(repo, status=["crashed", "failed"], newest_first=True, limit=5).ids == crashed[::-1]
    from cli_helpers import invoke

    res = invoke("ls", "--status", "crashed", "-n", "2", "--json")
    assert res.exit_code == 0, res.output
    assert [r["id"] for r in json.loads(res.stdout)] == crashed[::-1][:2]


# -- 9: hand-edited records with wrong field types are corrupt, not crashes -----------------


def write_fields(repo, name: str, **fields) -> str:
    rid = new_run_id()
    data = encode(Record(id=rid, name=name, status="completed", created_at="2024-03-01T12:00:00+00:00"))
    data.update(fields)
    repo.experiments_dir.mkdir(parents=True, exist_ok=True)
    record_path(repo.experiments_dir, rid).write_text(json.dumps(data))
    return rid


@pytest.mark.parametrize("fields, reason", [
    (dict(tags=[1, {"a": 1}]), "tags must be strings"),
    (dict(code={"tree": "a" * 64, "root": "/x", "git": "abc"}), "code.git must be an object or null"),
    (dict(artifacts=[{"name": "m", "object": 5}]), "malformed artifact entry 'm'"),
    (dict(artifacts=[{"name": "m", "object": "a" * 64, "size": "big"}]), "malformed artifact entry 'm'"),
    (dict(artifacts=[{"name": "m", "filename": ["x"]}]), "malformed artifact entry 'm'"),
    (dict(created_at="2024-03-01T12:00:00"), "invalid created_at '2024-03-01T12:00:00' (ISO 8601 with a UTC offset)"),
    (dict(finished_at=17), "invalid finished_at 17"),
    (dict(description=5), "description must be a string"),
    (dict(parent=7), "parent must be a run id or null"),
    (dict(duration_s="long"), "duration_s must be a number or null"),
    (dict(series={"loss": 5}), "series must map names to object ids"),
])
def test_wrong_field_types_are_corrupt_records(repo, fields, reason):
    good = make_run(repo, "good", at=0, tags=["x"])
    rid = write_fields(repo, "bad", **fields)
    with pytest.raises(CorruptRecord) as info:
        read_record(record_path(repo.experiments_dir, rid))
    assert info.value.reason.startswith(reason)
    from cli_helpers import invoke

    res = invoke("ls", "--json")
    assert res.exit_code == 0 and [r["id"] for r in json.loads(res.stdout)] == [good.id]
    assert reason in res.stderr
    res = invoke("show", "good")
    assert res.exit_code == 0 and "x" in res.output
    res = invoke("rm", "-y", "good")
    assert res.exit_code == 0 and tmt.runs().ids == []


def test_old_index_rows_are_revalidated(repo):
    """Rows indexed under laxer rules are re-read: the schema version changed with them."""
    rid = write_fields(repo, "naive", created_at="2024-03-01T12:00:00")
    conn = ix.index_for(repo).connection()
    conn.execute("PRAGMA user_version = 3")
    ix.index_for(repo).close()
    ix._OPEN.clear()
    assert rid not in tmt.runs().ids


def test_show_with_odd_git_values(repo):
    write_fields(repo, "odd", code={"tree": "a" * 64, "root": 5, "files": 1, "bytes": "x",
                                    "git": {"commit": 123, "branch": ["main"], "dirty": 1}})
    from cli_helpers import invoke

    res = invoke("show", "odd")
    assert res.exit_code == 0, res.output
    assert "123 (['main'], dirty)" in res.stdout


# -- 10: one validated accessor for the code tree ------------------------------------------


@pytest.mark.parametrize("tree", ["../../etc", 42, "A" * 64])
def test_bad_code_tree_is_reported_as_corrupt_record(repo, tmp_path, tree):
    from tmt.errors import RecordError
    from tmt.manager import TmtManager

    good = make_run(repo, "good", at=0)
    write_fields(repo, "bad", code={"tree": tree, "root": str(repo.root)})
    expected = f"is corrupt: its code tree {str(tree)!r} is not an object id"
    run = tmt.get("bad")
    calls = [
        lambda: tmt.diff("bad", "good", repo=repo),
        lambda: tmt.diff("good", "bad", repo=repo),
        lambda: tmt.diff("bad", repo=repo),
        lambda: run.checkout(tmp_path / "out"),
        lambda: run.code_path(),
        lambda: TmtManager("bad").code_snapshot_path(),
        lambda: tmt.checkout("bad", tmp_path / "out2", repo=repo),
    ]
    for call in calls:
        with pytest.raises(RecordError) as info:
            call()
        assert expected in info.value.message and info.value.hint == "run `tmt fsck` to list damaged records"
    assert good.code is None
    from cli_helpers import invoke

    res = invoke("diff", "bad", "good")
    assert res.exit_code != 0 and expected in res.stderr and "Traceback" not in res.output


# -- 16: the AS_SUB_ENTRY parent is one index lookup, not a scan of every record ------------


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


# -- 17: no fork from a process with other threads ------------------------------------------

FORK_SCRIPT = """
import os, sys, threading
from tmt.query import index as ix
from tmt.repo import Repo

forks = []
os.register_at_fork(before=lambda: forks.append(1))
ix.PARALLEL_MIN = 1
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


# -- 19, 20: nested params in where/sort; mixed-kind sort -----------------------------------


def test_where_and_sort_on_nested_params(repo):
    a = make_run(repo, "a", at=0, params={"opt": {"lr": 0.2, "name": "adam"}, "depth": 3})
    b = make_run(repo, "b", at=1, params={"opt": {"lr": 0.05, "name": "sgd"}})
    c = make_run(repo, "c", at=2, params={"opt.lr": 0.5})  # a dotted top-level key reads the same
    make_run(repo, "d", at=3, params={"opt": 1})
    assert tmt.runs(where="params.opt.lr > 0.1").ids == [a.id, c.id]
    assert tmt.runs(where=["params.opt.name == sgd"]).ids == [b.id]
    assert tmt.runs(where="params.depth == 3").ids == [a.id]
    assert tmt.runs().sort("params.opt.lr").ids[:3] == [b.id, a.id, c.id]
    from cli_helpers import invoke

    res = invoke("ls", "--where", "params.opt.lr < 0.3", "--sort", "params.opt.lr", "--json")
    assert res.exit_code == 0 and [r["id"] for r in json.loads(res.stdout)] == [a.id, b.id]


def test_sort_mixed_numbers_and_text(repo):
    ids = {v: make_run(repo, f"r{n}", at=n, params={"x": v}).id for n, v in enumerate([10, "b", 9, "a", 2.5])}
    assert tmt.runs().sort("params.x").ids == [ids[2.5], ids[9], ids[10], ids["a"], ids["b"]]


# -- 27: a query imports no difflib, random or shutil ---------------------------------------


def test_query_imports_stay_small(repo, python):
    a = make_run(repo, "a", at=0)
    code = (
        "import sys, tmt; r = tmt.runs(where='f1 > 0'); g = tmt.get('a'); "
        "print(g.id, sorted(m for m in ('difflib', 'random', 'shutil') if m in sys.modules))"
    )
    p = subprocess.run([python, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split(" ", 1) == [a.id, "[]\n"]


def test_artifact_path_and_code_path_still_work(repo, tmp_path):
    """link_or_copy / onexc paths of query.run: an artifact file and a removable checkout."""
    from tmt.snapshot.build import snapshot_repo

    (repo.root / "train.py").write_text("print(1)\n")
    snap = snapshot_repo(repo, warn=lambda m: None)
    oid = repo.store.put(b"payload")
    rec = make_run(repo, "art", at=0, code={"tree": snap.tree, "root": str(repo.root), "files": 1, "bytes": 9},
                   artifacts=[{"name": "m", "object": oid, "size": 7, "format": "txt", "filename": "m.txt"}])
    run = tmt.get("art")
    assert run.artifacts["m"].path.read_bytes() == b"payload" and run.artifacts["m"].path.name == "m.txt"
    view = run.code_path()
    assert (view / "train.py").read_text() == "print(1)\n"
    tmt.query.remove("art")
    assert not view.exists() and not (repo.cache_dir / "artifacts" / rec.id).exists()


def test_where_keeps_booleans_and_numbers_apart(repo):
    one = make_run(repo, "one", at=0, params={"x": 1})
    yes = make_run(repo, "yes", at=1, params={"x": True})
    assert tmt.runs(where="params.x == 1").ids == [one.id]
    assert tmt.runs(where="params.x == true").ids == [yes.id]
    assert tmt.runs(where="params.x != 0").ids == [one.id]


def test_loading_a_damaged_artifact_names_the_object_and_fsck(project) -> None:
    import os

    import tmt
    from tmt.errors import CorruptObject, RecordError

    with tmt.start_run(name="saver") as r:
        r.save([1, 2, 3], name="obj")
        r.save({"a": 1}, name="custom", extension=".json", custom_save=lambda o, p: open(p, "wb").write(b"{not json"))
    art = tmt.get("saver").artifacts["obj"]
    assert art.load() == [1, 2, 3]
    # Bytes that do not unpickle but are intact: a tmt error saying how to load them.
    with pytest.raises(RecordError) as err:
        tmt.get("saver").artifacts["custom"].load()
    assert "could not be loaded" in err.value.message and "loader=" in err.value.hint
    # Damaged bytes: the object is named and fsck suggested, not a raw unpickling error.
    path = art.run.repo.store.path(art.object)
    os.chmod(path, 0o644)
    path.write_bytes(b"garbage\n")
    with pytest.raises(CorruptObject) as err:
        tmt.get("saver").artifacts["obj"].load()
    assert art.object in err.value.message and "tmt fsck --repair" in err.value.hint
