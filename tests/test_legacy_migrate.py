"""`tmt migrate`: stores written by ThatMetricTimeline 0.1.8 come along (DESIGN section 14).

On the committed store (tests/data/legacy-0.1.8, recorded by the real 0.1.8), on one
recorded live by 0.1.8 installed from PyPI in this session, and on copies of the committed
store damaged in one way each.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from legacy_helpers import (
    NOTICE, REPO_ROOT, STEPS, check_migrated, expected_runs, extract_golden, record_project, tmt,
)


@pytest.fixture(scope="session")
def old_python() -> Path:
    """An interpreter with ThatMetricTimeline 0.1.8 from PyPI, built once and cached in
    benchmarks/.work/oldvenv (the benchmarks' own helper; TMT_BENCH_OLD_PYTHON overrides)."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        from _common import DEFAULT_WORKDIR, old_python as find_old_python
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    try:
        return find_old_python(DEFAULT_WORKDIR, log=lambda m: None)
    except (RuntimeError, subprocess.CalledProcessError) as e:  # no network, no PyPI
        pytest.skip(f"ThatMetricTimeline 0.1.8 could not be installed from PyPI: {e}")


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return extract_golden(tmp_path / "unpacked")


@pytest.mark.slow
def test_the_committed_store_migrates(golden: Path, tmp_path: Path) -> None:
    check_migrated(golden, expected_runs(golden), tmp_path)


@pytest.mark.slow
def test_a_store_recorded_by_the_real_predecessor_migrates(old_python: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    record_project(old_python, project)
    check_migrated(project, expected_runs(project), tmp_path)


def _db(project: Path) -> dict:
    return json.loads((project / ".tmt" / "tmt_db.json").read_text())


def _write_db(project: Path, data: dict) -> None:
    (project / ".tmt" / "tmt_db.json").write_text(json.dumps(data))


def test_a_store_without_legacy_files_never_loads_the_legacy_code(project: Path, python: str) -> None:
    code = ("import sys, tmt\n"
            "@tmt.recorder(name='r')\n"
            "def f():\n    return {'a': 1}\n"
            "f(); tmt.runs(); tmt.get('last')\n"
            "print(sorted(m for m in sys.modules if m.startswith('tmt.legacy')))\n")
    proc = subprocess.run([python, "-c", code], cwd=project, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
    assert proc.stderr == ""


@pytest.mark.slow
def test_the_notice_is_said_once_per_process_and_counts_what_is_not_imported(golden: Path, python: str) -> None:
    code = "import tmt\nfor _ in range(3):\n    tmt.runs(repo='.')\n"
    proc = subprocess.run([python, "-c", code], cwd=golden, capture_output=True, text=True, check=True)
    assert proc.stderr == NOTICE.format(n=4) + "\n"
    first = expected_runs(golden)[0]
    tmt(golden, "migrate")
    data = _db(golden)  # a run 0.1.8 recorded after the import: counted, and only it
    entry = dict(data["data"][0], id="0123abcd-0000-4000-8000-000000000000", other_runs=[])
    data["data"].append(entry)
    _write_db(golden, data)
    proc = tmt(golden, "ls")
    assert proc.stderr.splitlines() == [NOTICE.format(n=1)]
    assert first["id"][:8] in proc.stdout


def test_migrate_api_twin(golden: Path) -> None:
    import tmt as api

    result = api.migrate(golden)
    runs = expected_runs(golden)
    assert result.exit_code == 0 and result.found == 4 and result.children == 1
    assert result.imported == [r["id"] for r in runs]
    assert [r.id for r in api.runs(repo=golden)] == [r["id"] for r in runs]  # the order they ran in
    again = api.migrate(golden)
    assert (again.imported, again.already, again.exit_code) == ([], 4, 0)


def test_dry_run_writes_nothing(golden: Path) -> None:
    proc = tmt(golden, "migrate", "--dry-run")
    assert proc.stdout.strip() == "Would import 4 runs recorded by tmt 0.1.8 (1 of them sub-runs)."
    assert not (golden / ".tmt" / "experiments").exists()
    proc = tmt(golden, "migrate", "--dry-run", "--remove-legacy", check=False)
    assert proc.returncode == 2
    assert "Error: --dry-run and --remove-legacy cannot be combined" in proc.stderr


def test_a_store_without_a_legacy_database(repo, project: Path) -> None:
    proc = tmt(project, "migrate")
    assert proc.stdout == "Nothing to import: this store has no tmt 0.1.8 database (.tmt/tmt_db.json).\n"
    assert json.loads(tmt(project, "migrate", "--json").stdout)["db"] is None


@pytest.mark.slow
def test_what_cannot_be_imported_is_reported_and_the_rest_is_imported(golden: Path, tmp_path: Path) -> None:
    runs = expected_runs(golden)
    a, b, c, d = (r["legacy_id"] for r in runs)
    tmt_dir = golden / ".tmt"
    shutil.rmtree(tmt_dir / "snapshots" / c)  # a missing snapshot
    (tmt_dir / "results" / a / "model.pkl").unlink()  # a missing result
    outside = tmp_path / "secret.txt"  # a result (or snapshot) outside the project is not read
    outside.write_text("not yours")
    data = _db(golden)
    data["data"][0]["results"].append({"entry_id": a, "name": "key", "path": str(outside)})
    data["data"][1]["local_snapshot_path"] = f"/moved/away/.tmt/snapshots/{c}"
    data["data"][-1]["local_snapshot_path"] = str(tmp_path)
    shutil.rmtree(tmt_dir / "snapshots" / d)
    data["data"].append({"id": "not-a-uuid", "name": "\x1b[31mred"})
    _write_db(golden, data)

    proc = tmt(golden, "migrate", "--remove-legacy", check=False)
    assert proc.returncode == 1
    rel = f".tmt/results/{a}/model.pkl"
    assert proc.stdout.splitlines() == [
        "problem: entry 4 cannot be imported: its id 'not-a-uuid' is not a uuid",
        f"problem: run {a[:8].replace('-', '')} (baseline): result 'model' ({rel}) is missing; not imported",
        f"problem: run {a[:8].replace('-', '')} (baseline): result 'key' ({outside}) is outside the project; "
        f"not imported (copy it into {tmt_dir / 'results' / a}, then `tmt rm {runs[0]['id'][:8]}` and `tmt migrate`)",
        f"problem: run {runs[2]['id'][:8]} (other): its snapshot /moved/away/.tmt/snapshots/{c} "
        "is missing; imported without code",
        f"problem: run {runs[3]['id'][:8]} (diverging): its snapshot {tmp_path} is outside the project; "
        "imported without code",
        "note: the tmt 0.1.8 files were kept: they hold what is listed above, which the store does not",
        "Imported 4 runs recorded by tmt 0.1.8 (1 of them sub-runs). 5 problem(s): what they name is not in the "
        "store.",
    ]
    assert (tmt_dir / "tmt_db.json").exists()  # the bad entry's data is only there: kept
    import tmt as api

    assert sorted(api.get(runs[0]["id"], repo=golden).artifacts) == ["dup", "preds", "summary"]
    assert api.get(runs[2]["id"], repo=golden).record.code is None
    assert tmt(golden, "gc", "--grace", "0").returncode == 0
    assert tmt(golden, "fsck").returncode == 0
    # nothing left that the store could take: the legacy files can go; the same problems stay listed
    data["data"].pop()
    _write_db(golden, data)
    proc = tmt(golden, "migrate", "--remove-legacy", check=False)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-2:] == [
        "Nothing to import: the 4 runs recorded by tmt 0.1.8 are already in the store. 4 problem(s): what they "
        "name is not in the store.",
        "Removed the tmt 0.1.8 files (tmt_db.json, snapshots/, results/): `tmt fsck` found no problem.",
    ]
    assert outside.read_text() == "not yours"
    assert not (tmt_dir / "tmt_db.json").exists()


def test_an_unreadable_result_keeps_the_legacy_files_until_it_is_imported(golden: Path, monkeypatch) -> None:
    import tmt as api
    from tmt.errors import StoreError
    from tmt.legacy import migrate

    real = migrate.store_result
    first = expected_runs(golden)[0]

    def store_result(store, pin, batch, path):  # root reads any file: the fault is injected
        if path.name == "model.pkl" and first["legacy_id"] in path.parts:
            raise StoreError(f"could not read {path}: Permission denied")
        return real(store, pin, batch, path)

    monkeypatch.setattr(migrate, "store_result", store_result)
    result = api.migrate(golden, remove_legacy=True)
    assert not result.removed_legacy and result.exit_code == 1
    assert [p.message.split(": ", 1)[1] for p in result.problems] == [
        f"result 'model' could not be read (could not read {golden / '.tmt' / 'results' / first['legacy_id'] / 'model.pkl'}: "
        "Permission denied); not imported"
    ]
    assert all(p.keeps_legacy for p in result.problems)
    monkeypatch.setattr(migrate, "store_result", real)
    # readable now: the run imported without it is named, with the way to import it again
    again = api.migrate(golden, remove_legacy=True)
    assert not again.removed_legacy
    assert [p.message for p in again.problems] == [
        f"run {first['id'][:8]} (baseline) was imported without 'model'; "
        f"`tmt rm {first['id'][:8]}` then `tmt migrate` imports it again"
    ]
    tmt(golden, "rm", "--yes", first["id"])
    done = api.migrate(golden, remove_legacy=True)
    assert done.imported == [first["id"]] and done.removed_legacy and done.exit_code == 0
    assert api.get(first["id"], repo=golden).artifacts["model"].load() == first["artifacts"]["model"][0]


def test_remove_legacy_keeps_folders_no_entry_names(golden: Path) -> None:
    results = golden / ".tmt" / "results"
    (results / "0f0f0f0f-0000-4000-8000-000000000000").mkdir()  # a run that failed under 0.1.8
    orphan = results / "1f1f1f1f-0000-4000-8000-000000000000"
    orphan.mkdir()
    (orphan / "weights.pkl").write_bytes(b"saved before the crash")
    proc = tmt(golden, "migrate", "--remove-legacy")
    assert proc.stdout.splitlines()[-1] == (
        f"Kept 1 legacy file(s) or folder(s) that no entry of tmt_db.json names: {orphan}"
    )
    assert sorted(p.name for p in (golden / ".tmt" / "results").iterdir()) == [orphan.name]
    assert not (golden / ".tmt" / "snapshots").exists()


def test_control_characters_from_the_database_are_escaped(golden: Path) -> None:
    data = _db(golden)
    data["data"][0]["name"] = "evil\x1b[2J"
    data["data"][0]["local_snapshot_path"] = "/gone/\x07"
    shutil.rmtree(golden / ".tmt" / "snapshots" / data["data"][0]["id"])
    _write_db(golden, data)
    proc = tmt(golden, "migrate", check=False)
    assert proc.returncode == 1
    assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout
    assert "(evil\\x1b[2J): its snapshot /gone/\\x07 is missing" in proc.stdout


def test_hyphenated_uuids_name_imported_runs(golden: Path) -> None:
    runs = expected_runs(golden)
    tmt(golden, "migrate")
    proc = tmt(golden, "show", runs[2]["legacy_id"].upper(), "--json")
    assert json.loads(proc.stdout)["id"] == runs[2]["id"]


def test_the_manager_hints_at_migrate_before_the_import(golden: Path) -> None:
    from tmt import TmtManager
    from tmt.errors import EntryNotFound

    with pytest.raises(EntryNotFound) as e:
        TmtManager(config=golden).set_entry_by_name("baseline")
    assert e.value.hint == NOTICE.format(n=len(STEPS))


def test_files_hard_linked_between_snapshots_are_read_once(tmp_path: Path) -> None:
    """0.1.8 hard-links unchanged files from one snapshot to the next: the import reads
    them once, through one stat cache carried across snapshots, and publishes many
    snapshots' objects with one batch."""
    import os
    import time

    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot
    from tmt.snapshot.statcache import RACY_NS, StatCache
    from tmt.store.pins import PinFile

    first, second = tmp_path / "snap1", tmp_path / "snap2"
    (first / "pkg").mkdir(parents=True)
    for i in range(5):
        (first / "pkg" / f"m{i}.py").write_text(f"X = {i}\n")
    (second / "pkg").mkdir(parents=True)
    for i in range(4):
        os.link(first / "pkg" / f"m{i}.py", second / "pkg" / f"m{i}.py")
    (second / "pkg" / "m4.py").write_text("X = 'changed'\n")
    time.sleep(RACY_NS / 1e9 * 2)  # a file younger than this is "racily clean": never cached
    repo = Repo.init(tmp_path / "store")
    cache = StatCache()
    with PinFile(repo.tmt_dir) as pin, repo.store.batch() as batch:
        a = snapshot(first, repo.store, pin=pin, stat_cache=cache, batch=batch)
        b = snapshot(second, repo.store, pin=pin, stat_cache=cache, batch=batch)
        assert not repo.store.has(b.tree)  # published when the batch is committed
    assert (a.hashed, b.hashed) == (5, 1)
    assert (b.new_objects, b.files) == (3, 5)  # the changed blob, pkg/ and the root
    assert repo.store.has(a.tree) and repo.store.has(b.tree)
