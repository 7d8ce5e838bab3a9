"""TmtManager (the predecessor's API) on runs recorded through the public recording API,
plus a store of thousands of runs built the same way."""
from __future__ import annotations

import json
import os
import pickle
from datetime import datetime, timedelta

import pytest

import tmt
from tmt import TmtManager, tmt_recorder, tmt_save
from tmt.errors import AmbiguousRef, EntryNotFound, UsageError
from tmt.recorder import DuplicatePolicy, DuplicateStrategy


@pytest.fixture
def recorded(project):
    (project / "train.py").write_text("def f():\n    return 1\n")

    @tmt_recorder(name="lr_baseline", description="baseline")
    def train(C=1.0):
        tmt.log({"loss": 1.0 / C}, step=0)
        tmt_save([C, C * 2], name="preds")
        return {"f1": C / 10, "accuracy": 0.5}

    train(C=1.0)
    train(C=2.0)
    def save_json(obj, path):
        with open(path, "w") as f:
            json.dump(obj, f)

    with tmt.start_run(name="other", params={"lr": 0.1}) as run:
        run.metrics["f1"] = 0.7
        tmt.save({"k": 1}, name="cfg", custom_save=save_json, extension=".json")

    @tmt_recorder(name="lr_baseline", duplicate_strategy=DuplicateStrategy(DuplicatePolicy.AS_SUB_ENTRY))
    def sub(C=3.0):
        tmt_save("sub-result", name="sub_preds")
        return {"f1": 0.3}

    sub()
    return tmt.runs()


def test_predecessor_usage(recorded):
    manager = TmtManager()
    first = recorded[0]
    entry = manager.set_entry_by_id(first.id)
    assert entry.id == first.id and manager.entry.id == first.id
    paths = list(manager.results_paths())
    assert [n for n, _ in paths] == ["preds"]
    with open(paths[0][1], "rb") as f:
        assert pickle.load(f) == [1.0, 2.0]
    assert list(manager.load_results()) == [("preds", [1.0, 2.0])]
    assert dict(manager.get_metrics()) == {"f1": 0.1, "accuracy": 0.5}
    for name, value in manager.get_metrics():
        assert isinstance(name, str) and isinstance(value, float)
    m = manager.get_metrics()[0]
    assert (m.name, m.value) == ("f1", 0.1) and manager.get_metrics().entry_id == first.id
    snap = manager.code_snapshot_path()
    assert open(os.path.join(snap, "train.py")).read() == "def f():\n    return 1\n"
    assert manager.code_snapshot_path() == snap
    assert snap == str(first.repo.cache_dir / "checkouts" / first.id)


def test_set_entry_by_name_and_refs(recorded):
    manager = TmtManager()
    # the latest lr_baseline is the sub-run; its parent (C=2) holds its result too
    run = manager.set_entry_by_name("lr_baseline")
    assert run.id == recorded[3].id and run.parent == recorded[1].id
    manager.set_entry_by_id("lr_baseline~1")
    assert manager.entry.id == recorded[1].id
    assert list(manager.load_results()) == [("preds", [2.0, 4.0]), ("sub_preds", "sub-result")]
    manager.set_entry_by_id("other")
    assert list(manager.load_results()) == [("cfg", {"k": 1})]
    assert manager.set_entry_by_id(recorded[2].id[:6]).id == recorded[2].id
    assert TmtManager("last").entry.id == recorded[3].id


def test_errors(recorded):
    manager = TmtManager()
    with pytest.raises(UsageError) as e:
        manager.get_metrics()
    assert e.value.message == "this TmtManager has no run selected"
    with pytest.raises(EntryNotFound) as e:
        manager.set_entry_by_name("nope")
    assert e.value.message == "No entry (experiment) found for name nope"
    with pytest.raises(EntryNotFound) as e:
        manager.set_entry_by_id("ffffffff")
    assert e.value.message.startswith("No entry (experiment) found for id ffffffff: no run matches 'ffffffff'")
    with pytest.raises(EntryNotFound):
        manager.set_entry_by_name("lr_base")  # exact names only


def test_db_queries(recorded):
    db = TmtManager().db
    assert [r.id for r in db.get_entries_by_name("base")] == [recorded[i].id for i in (0, 1, 3)]
    assert [r.id for r in db.get_entries_by_name_regex(r"oth")] == [recorded[2].id]
    assert db.get_entries_by_name_regex(r"ther") == []  # anchored at the start, as before
    assert db.get_entry_by_id(recorded[0].id).id == recorded[0].id
    assert db.get_entry_by_id("0000000000") is None
    assert db.get_entry_by_exact_name("lr_baseline").id == recorded[3].id
    mid = recorded[2].created_at
    assert [r.id for r in db.get_entries_greater_than_date(mid)] == [recorded[3].id]
    assert [r.id for r in db.get_entries_lower_than_date(mid)] == [recorded[0].id, recorded[1].id]
    ts = int(recorded[0].created_at.timestamp()) - 1
    assert len(db.get_entries_greater_than_date(ts)) == 4
    assert len(db.get_entries_lower_than_date(ts)) == 0
    assert [r.id for r in db.get_entries_between_dates(recorded[1].created_at, mid)] == [recorded[1].id, recorded[2].id]
    assert db.get_entries_between_dates(datetime.now() + timedelta(days=1), datetime.now() + timedelta(days=2)) == []
    with pytest.raises(UsageError, match="expected a datetime or a unix timestamp"):
        db.get_entries_greater_than_date("yesterday")


def test_many_runs_at_once(recorded):
    manager = TmtManager.from_runs(tmt.runs(name="^lr_"))
    assert len(manager) == 3 and manager.entry.id == recorded[0].id
    assert [r.id for r in manager] == [recorded[i].id for i in (0, 1, 3)]
    assert manager.runs.best("f1").id == recorded[3].id
    table = manager.metrics_table()
    assert [row["metrics.f1"] for row in table] == [0.1, 0.2, 0.3]
    assert manager.all_metrics()[recorded[1].id] == {"f1": 0.2, "accuracy": 0.5}
    loaded = [(run.id, name, obj) for run, name, obj in manager.load_all_results()]
    assert loaded == [(recorded[0].id, "preds", [1.0, 2.0]), (recorded[1].id, "preds", [2.0, 4.0]),
                      (recorded[3].id, "sub_preds", "sub-result")]
    m2 = TmtManager()
    m2.set_entries(["other", recorded[0].id])
    assert [r.name for r in m2] == ["other", "lr_baseline"]
    assert len(TmtManager(["last", "last~1"])) == 2
    with pytest.raises(EntryNotFound):
        m2.set_entries(["nope"])


def test_config_argument(recorded, project, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert TmtManager(config=str(project)).set_entry_by_name("other").name == "other"
    assert TmtManager(config=project / ".tmt").set_entry_by_name("other").name == "other"
    cfg = project / ".tmt" / "config.json"
    cfg.write_text("{}")
    assert TmtManager(config=str(cfg)).set_entry_by_name("other").name == "other"
    with pytest.raises(UsageError, match="is neither a tmt repository nor a config file"):
        TmtManager(config=str(tmp_path / "nothing"))


@pytest.mark.slow
def test_thousands_of_runs_through_the_public_api(project):
    (project / "model.py").write_text("W = 1\n")

    @tmt.recorder(name="sweep")
    def train(lr, depth=3):
        return {"f1": (depth * 7 + lr * 1000) % 1, "loss": lr * depth}

    n = 0
    for depth in range(10):
        for k in range(150):
            train(lr=k / 1000, depth=depth)
            n += 1
    for k in range(500):
        with tmt.start_run(name=f"ctx_{k % 5}", params={"k": k}, tags=["even"] if k % 2 == 0 else []) as run:
            run.metrics["f1"] = k / 500
            n += 1
    all_runs = tmt.runs()
    assert len(all_runs) == n == 2000
    assert len(tmt.runs(name="^sweep$", where=["params.depth == 4"])) == 150
    assert len(tmt.runs(name="^ctx_", tags="even")) == 250
    assert len(tmt.runs(where=["params.k >= 400", "f1 > 0.9"])) == 49
    assert tmt.get("last").params == {"k": 499}
    assert tmt.get("ctx_0~1").params == {"k": 490}
    assert tmt.get("sweep").params == {"lr": 0.149, "depth": 9}
    best = tmt.runs(name="^ctx").best("f1")
    assert best.params == {"k": 499}
    df = all_runs.to_pandas()
    assert len(df) == 2000 and {"params.lr", "params.depth", "params.k", "metrics.f1"} <= set(df.columns)
    one = all_runs[1234]
    assert tmt.get(one.id[:12]).id == one.id
    with pytest.raises((AmbiguousRef, tmt.errors.UnknownRef)):
        tmt.get("ctx")
    # the index is a cache: a rebuild gives the same answers
    assert tmt.query.rebuild_index() == 2000
    assert tmt.runs(where="f1 > 0.5").ids == [r.id for r in all_runs if r.metrics["f1"] > 0.5]
