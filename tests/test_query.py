"""tmt.runs / Runs / Run: filters, tables, artifacts, series, checkout, remove."""
from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from access_helpers import writable_by_a_user

import tmt
from tmt.errors import CheckoutError, MissingDependency, UsageError
from tmt.query import MissingItem, remove
from tmt.records.io import record_path, write_record
from tmt.records.model import Record, new_run_id
from tmt.records.series import Series, encode_series, encode_frame, journal_path
from tmt.repo import Repo

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


def make_run(repo: Repo, name: str = "exp", *, at: int = 0, status: str = "completed", params=None,
             metrics=None, tags=(), run_id: str | None = None, **kw) -> Record:
    """Write a record directly (no recorder): created `at` minutes after T0."""
    created = T0 + timedelta(minutes=at)
    rec = Record(
        id=run_id or new_run_id(), name=name, status=status, created_at=created.isoformat(),
        finished_at=None if status == "running" else (created + timedelta(seconds=30)).isoformat(),
        duration_s=None if status == "running" else 30.0, params=dict(params or {}),
        metrics=dict(metrics or {}), tags=list(tags), env=kw.pop("env", {"host": "elsewhere", "pid": 1}), **kw,
    )
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return rec


@pytest.fixture
def sweep(repo: Repo) -> list[Record]:
    out = []
    for i in range(12):
        out.append(make_run(
            repo, f"lr_{i % 3}", at=i,
            params={"lr": 10.0 ** -(i % 4), "opt": "adam" if i % 2 else "sgd", "bn": i % 3 == 0, "layers": i},
            metrics={"f1": i / 12, "loss": 1 - i / 12},
            tags=["paper"] if i % 4 == 0 else [],
        ))
    return out


def test_runs_all_oldest_first(sweep):
    runs = tmt.runs()
    assert len(runs) == 12
    assert runs.ids == [r.id for r in sweep]
    assert runs[0].id == sweep[0].id and runs[-1].id == sweep[-1].id
    assert runs.last().id == sweep[-1].id
    assert [r.id for r in runs[2:4]] == [sweep[2].id, sweep[3].id]


@pytest.mark.parametrize("where, expected", [
    (["f1 > 0.5"], [7, 8, 9, 10, 11]),
    (["f1 >= 0.5"], [6, 7, 8, 9, 10, 11]),
    ("loss < 0.2", [10, 11]),
    (["params.lr <= 0.01"], [2, 3, 6, 7, 10, 11]),
    (["params.lr == 1", "f1 != 0"], [4, 8]),
    (["params.opt == adam", "f1 > 0.6"], [9, 11]),
    (["params.opt == 'sgd'", "params.layers < 3"], [0, 2]),
    (["params.opt != \"sgd\"", "params.layers <= 3"], [1, 3]),
    (["params.bn == true"], [0, 3, 6, 9]),
    (["params.bn == false", "metrics.f1 < 0.3"], [1, 2]),
    (["params.missing > 0"], []),
    (["params.missing != 0"], []),
    (["params.opt > 1"], []),  # a string never compares with a number
])
def test_where(sweep, where, expected):
    assert tmt.runs(where=where).ids == [sweep[i].id for i in expected]


def test_filters_combine(sweep):
    runs = tmt.runs(name=r"lr_[12]", where=["f1 > 0.3"], tags=None)
    assert runs.ids == [sweep[i].id for i in (4, 5, 7, 8, 10, 11)]
    assert tmt.runs(tags=["paper"]).ids == [sweep[i].id for i in (0, 4, 8)]
    assert tmt.runs(tags="paper", name="^lr_0$").ids == [sweep[0].id]
    assert tmt.runs(name="nomatch").ids == []
    assert tmt.runs(since=T0 + timedelta(minutes=10)).ids == [sweep[10].id, sweep[11].id]
    assert tmt.runs(until=(T0 + timedelta(minutes=1)).isoformat()).ids == [sweep[0].id, sweep[1].id]
    assert tmt.runs(since="2024-03-01T12:05:00Z", until="2024-03-01T12:06:00+00:00").ids == [sweep[5].id, sweep[6].id]
    assert len(tmt.runs(since="1d")) == 0  # all of them are older than a day
    assert len(tmt.runs(since="5000d")) == 12


@pytest.mark.parametrize("expr", ["f1 >", "f1 0.5", "> 0.5", "params.opt > adam", "f1 ~= 3", "f1 == true == 1", ""])
def test_where_syntax_errors_quote_the_expression(repo, expr):
    with pytest.raises(UsageError) as e:
        tmt.runs(where=[expr])
    assert repr(expr) in e.value.message
    assert "params.lr <= 0.01" in e.value.hint
    assert e.value.exit_code == 2


def test_bad_time_and_status_and_regex(repo):
    with pytest.raises(UsageError, match=r"cannot read since='yesterday-ish' as a time"):
        tmt.runs(since="yesterday-ish")
    with pytest.raises(UsageError, match=r"unknown status 'done'"):
        tmt.runs(status="done")
    with pytest.raises(UsageError, match=r"name '\(' is not a valid regular expression"):
        tmt.runs(name="(")


def test_status_and_crashed(repo, python):
    done = make_run(repo, "a", at=0)
    failed = make_run(repo, "a", at=1, status="failed", error={"type": "ValueError", "message": "x", "traceback": ""})
    import socket

    proc = subprocess.Popen([python, "-c", "pass"])
    proc.wait()
    dead = make_run(repo, "a", at=2, status="running", env={"host": socket.gethostname(), "pid": proc.pid})
    live = make_run(repo, "a", at=3, status="running", env={"host": socket.gethostname(), "pid": os.getpid()})
    assert tmt.runs(status="completed").ids == [done.id]
    assert tmt.runs(status="crashed").ids == [dead.id]
    assert tmt.runs(status="running").ids == [live.id]
    assert tmt.runs(status=["failed", "crashed"]).ids == [failed.id, dead.id]
    assert tmt.get(dead.id).status == "crashed"
    assert tmt.runs().to_records()[2]["status"] == "crashed"


def test_best_and_sort(sweep):
    runs = tmt.runs()
    assert runs.best("f1").id == sweep[11].id
    assert runs.best("metrics.loss", mode="min").id == sweep[11].id
    assert runs.best("f1", mode="min").id == sweep[0].id
    assert runs.sort("f1", descending=True).ids[:2] == [sweep[11].id, sweep[10].id]
    assert runs.sort("params.layers").ids == [r.id for r in sweep]
    assert runs.sort("name").ids[0] == sweep[0].id
    with pytest.raises(UsageError) as e:
        runs.best("acc")
    assert e.value.message == "no run among these 12 has a numeric 'acc'"
    assert e.value.hint == "metrics they have: f1, loss"
    with pytest.raises(UsageError, match="mode must be 'max' or 'min'"):
        runs.best("f1", mode="top")


def test_best_skips_nan_and_missing(repo):
    a = make_run(repo, "a", at=0, metrics={"f1": math.nan})
    b = make_run(repo, "a", at=1, metrics={"f1": 0.2})
    make_run(repo, "a", at=2, metrics={})
    c = make_run(repo, "a", at=3, metrics={"f1": math.inf})
    runs = tmt.runs()
    assert runs.best("f1").id == c.id
    assert runs.best("f1", mode="min").id == b.id
    assert math.isnan(tmt.get(a.id).metrics["f1"])
    assert runs.sort("f1").ids[:2] == [b.id, c.id]  # NaN and missing last
    assert tmt.runs(where="f1 > 100").ids == [c.id]


@pytest.mark.slow
def test_to_records_and_pandas(sweep):
    runs = tmt.runs(name="lr_0")
    recs = runs.to_records()
    assert recs[0] == {
        "id": sweep[0].id, "name": "lr_0", "status": "completed",
        "created_at": "2024-03-01T12:00:00+00:00", "finished_at": "2024-03-01T12:00:30+00:00",
        "duration_s": 30.0, "tags": ["paper"], "parent": None,
        "params.bn": True, "params.layers": 0, "params.lr": 1.0, "params.opt": "sgd",
        "metrics.f1": 0.0, "metrics.loss": 1.0,
    }
    df = runs.to_pandas()
    assert list(df.columns) == [
        "id", "name", "status", "created_at", "finished_at", "duration_s", "tags", "parent",
        "params.bn", "params.layers", "params.lr", "params.opt", "metrics.f1", "metrics.loss",
    ]
    assert len(df) == 4
    assert df["created_at"].iloc[1].isoformat() == "2024-03-01T12:03:00+00:00"
    assert df["metrics.f1"].tolist() == [r.metrics["f1"] for r in sweep[0::3]]
    assert str(df["created_at"].dtype).startswith("datetime64")


def test_to_pandas_empty_and_missing_columns(repo):
    assert len(tmt.runs().to_pandas()) == 0
    make_run(repo, "a", at=0, metrics={"x": 1.0})
    make_run(repo, "b", at=1, params={"p": "v"})
    df = tmt.runs().to_pandas()
    import pandas as pd

    assert math.isnan(df["metrics.x"].iloc[1]) and pd.isna(df["params.p"].iloc[0])


def test_to_pandas_without_pandas(sweep, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(MissingDependency) as e:
        tmt.runs().to_pandas()
    assert e.value.message == "Runs.to_pandas() needs pandas, which is not installed"
    assert "ThatMetricTimeline[pandas]" in e.value.hint


def test_run_fields_and_lazy_record(repo):
    rec = make_run(repo, "full", at=5, params={"C": 1.0}, metrics={"f1": 0.5}, tags=["a", "b"],
                   description="hello", parent=None)
    run = tmt.get("full")
    assert (run.id, run.name, run.status, run.tags, run.parent) == (rec.id, "full", "completed", ["a", "b"], None)
    assert run.created_at == T0 + timedelta(minutes=5)
    assert run.finished_at == T0 + timedelta(minutes=5, seconds=30)
    assert run.duration_s == 30.0
    assert run.params == {"C": 1.0} and run.metrics == {"f1": 0.5}
    assert run.description == "hello" and run.env == {"host": "elsewhere", "pid": 1}
    assert run.record.id == rec.id and run.code is None
    assert repr(run) == f"Run({rec.id[:8]} 'full' completed 2024-03-01T12:05:00+00:00)"
    with pytest.raises(CheckoutError, match=r"has no code snapshot"):
        run.checkout("out")


def test_artifacts_path_and_load(repo):
    obj = {"preds": [1, 2, 3]}
    oid = repo.store.put(pickle.dumps(obj))
    text = repo.store.put(b'{"a": 1}')
    rec = make_run(repo, "art", artifacts=[
        {"name": "preds", "object": oid, "size": 10, "format": "pickle", "filename": "preds"},
        {"name": "cfg", "object": text, "size": 8, "format": "json", "filename": "cfg.json"},
        {"name": "weird", "object": text, "size": 8, "format": "custom", "filename": "w.bin"},
    ])
    run = tmt.get("art")
    assert sorted(run.artifacts) == ["cfg", "preds", "weird"]
    art = run.artifacts["preds"]
    assert art.path == repo.cache_dir / "artifacts" / rec.id / "preds"
    assert art.path.read_bytes() == pickle.dumps(obj)
    assert not writable_by_a_user(art.path)  # as root too: asked of a user who is not
    assert oct(art.path.stat().st_mode & 0o777) == "0o444"
    assert art.load() == obj
    assert run.artifacts["cfg"].load() == {"a": 1}
    assert run.artifacts["cfg"].path.name == "cfg.json"
    assert run.artifacts["weird"].load(loader=lambda p: Path(p).read_bytes()) == b'{"a": 1}'
    with pytest.raises(UsageError, match=r"does not know how to load artifact 'weird' \(format 'custom'\)"):
        run.artifacts["weird"].load()
    with pytest.raises(MissingItem) as e:
        run.artifacts["nope"]
    assert str(e.value) == f"run {rec.id[:8]} (art) has no artifact 'nope'\nhint: its artifacts: preds, cfg, weird"
    assert isinstance(e.value, KeyError)
    # a second Run object reuses the same materialized file
    assert tmt.get("art").artifacts["preds"].path == art.path


def test_series_blob_and_journal(repo):
    s = Series("loss", [0, 1, 2], [0.5, 0.4, 0.3], [1.0, 2.0, 3.0])
    oid = repo.store.put(encode_series(s))
    make_run(repo, "packed", at=0, series={"loss": oid})
    live = make_run(repo, "live", at=1, status="running")
    jp = journal_path(repo.tmt_dir, live.id)
    jp.parent.mkdir(parents=True, exist_ok=True)
    jp.write_bytes(encode_frame(5.0, [("acc", 0, 0.1)]) + encode_frame(6.0, [("acc", 1, 0.2)]))
    got = tmt.get("packed").series("loss")
    assert (got.steps, got.values, got.times) == ([0, 1, 2], [0.5, 0.4, 0.3], [1.0, 2.0, 3.0])
    got = tmt.get("live").series("acc")
    assert (got.steps, got.values, got.times) == ([0, 1], [0.1, 0.2], [5.0, 6.0])
    with pytest.raises(MissingItem) as e:
        tmt.get("packed").series("acc")
    assert e.value.message.endswith("has no series 'acc'") and e.value.hint == "its series: loss"


def test_checkout_real_snapshot(repo, project):
    from tmt.snapshot.build import snapshot_repo

    (project / "train.py").write_text("print('hi')\n")
    (project / "pkg").mkdir()
    (project / "pkg" / "m.py").write_text("X = 1\n")
    snap = snapshot_repo(repo)
    make_run(repo, "coded", code={"root": str(project), "tree": snap.tree, "files": 2, "bytes": 18, "git": None})
    out = tmt.get("coded").checkout(project.parent / "view")
    assert (out / "train.py").read_text() == "print('hi')\n"
    assert (out / "pkg" / "m.py").read_text() == "X = 1\n"
    path = tmt.get("coded").code_path()
    assert path == repo.cache_dir / "checkouts" / tmt.get("coded").id
    assert (path / "train.py").read_text() == "print('hi')\n"
    assert tmt.get("coded").code_path() == path


def test_remove(repo):
    a = make_run(repo, "a", at=0)
    b = make_run(repo, "b", at=1)
    jp = journal_path(repo.tmt_dir, b.id)
    jp.parent.mkdir(parents=True, exist_ok=True)
    jp.write_bytes(b"")
    assert len(tmt.runs()) == 2
    removed = remove(["b", a.id[:6]])
    assert [r.id for r in removed] == [b.id, a.id]
    assert removed[0].record.name == "b"  # still readable after deletion
    assert not record_path(repo.experiments_dir, b.id).exists() and not jp.exists()
    assert len(tmt.runs()) == 0
    with pytest.raises(tmt.errors.UnknownRef):
        remove("b")


def test_remove_refuses_runs_still_recording_unless_forced(repo):
    done = make_run(repo, "done", at=0)
    live = make_run(repo, "live", at=1, status="running")  # another host's: taken as recording
    also = make_run(repo, "also", at=2, status="running")
    with pytest.raises(tmt.errors.RunStillRecording) as e:
        remove(["done", "live", "also"])
    assert e.value.message == f"run {live.id[:8]} (live) is still recording (and 1 more)"
    assert e.value.hint == "wait for it to finish, or pass --force (it would write its record again when it ends)"
    assert len(tmt.runs()) == 3  # refused before anything was deleted
    assert [r.id for r in remove(["live", "also"], force=True)] == [live.id, also.id]
    assert [r.id for r in tmt.runs()] == [done.id]


def test_remove_is_reached_after_a_plain_import_tmt(repo, project):
    """`tmt.query.remove(...)` as docs/api.md writes it, in a fresh interpreter."""
    make_run(repo, "a")
    code = "import tmt; print([r.name for r in tmt.query.remove('a')])"
    r = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert (r.returncode, r.stdout) == (0, "['a']\n"), r.stderr


def test_repo_argument_and_subdir(repo, project, monkeypatch):
    make_run(repo, "a")
    sub = project / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert tmt.get("a").name == "a"
    monkeypatch.chdir(project.parent)
    assert tmt.get("a", repo=project).name == "a"
    assert len(tmt.runs(repo=repo)) == 1


def test_parse_where_and_time_units():
    from datetime import date

    from tmt.query.filters import parse_time, parse_where

    c = parse_where("params.name == 'two words'")
    assert (c.key, c.op, c.value, c.kind) == ("p:name", "=", "two words", "txt")
    c = parse_where("metrics.val/loss<=1e-3")
    assert (c.key, c.op, c.value, c.kind) == ("m:val/loss", "<=", 0.001, "num")
    assert parse_where("params.n != 3").value == 3 and parse_where("f1 > -inf").value == -math.inf
    assert parse_where("params.flag == False").value is False
    assert parse_where("params.x == 1.5").kind == "num" and parse_where("params.x == true").kind == "bool"
    assert parse_time("90m", now=10_000.0) == 10_000.0 - 5400
    assert parse_time("2w", now=0.0) == -14 * 86400
    assert parse_time("1.5h", now=0.0) == -5400
    assert parse_time("2024-03-01T12:00:00Z") == T0.timestamp()
    assert parse_time(date(2024, 3, 1)) == datetime(2024, 3, 1).timestamp()
    assert parse_time(1234) == 1234.0
    with pytest.raises(UsageError) as e:
        parse_where("f1 == nan")
    assert e.value.message == "where expression 'f1 == nan' compares with NaN, which matches nothing"
    with pytest.raises(UsageError) as e:
        parse_where("params.opt > adam")
    assert e.value.message == "where expression 'params.opt > adam' orders by a string; only == and != apply to it"


# -- a limit counts crashed and running runs after they are told apart -----------------------


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


# -- nested params in where and sort; a sort of mixed kinds --------------------------------


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


# -- a query imports no difflib, random or shutil -------------------------------------------


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
