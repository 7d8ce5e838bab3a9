"""Hand-edited and hostile records (wrong types, deep nesting, a bad code tree) are corrupt
records: skipped with a warning by queries, an error naming the record elsewhere, never a crash."""
from __future__ import annotations

import json
import subprocess

import pytest

from test_query import make_run

import tmt
from tmt.errors import CorruptRecord
from tmt.query import index as ix
from tmt.query import reading
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


# -- deeply nested records ----------------------------------------------------------------


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
    monkeypatch.setattr(reading, "PARALLEL_MIN", 1)
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


# -- wrong field types ----------------------------------------------------------------------


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


# -- a code tree that is not an object id -----------------------------------------------


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
