"""fsck on the golden broken stores (tests/data/broken/, made by tests/data/make_broken.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_broken import FILES, RUN_IDS, copy_store, record_run, tree_entry, write_files  # noqa: E402

from tmt.maintenance import fsck  # noqa: E402
from tmt.records.io import record_path  # noqa: E402
from tmt.repo import Repo  # noqa: E402
from tmt.store.pins import PinFile  # noqa: E402

# Ids fixed by the golden stores' content.
UTIL = "7c862898b885fd6bf2cac7d4e98e21b623c5b6fef82699691b88cb7bdd48cefd"  # lib/util.py
TRAIN = "679588e002f1241907a8c8cf2b265080c46cf0b34383f64ea00f2c1534ad660f"  # train.py
LIB = "4603ce2d4ac6c546080ac4e57c2f4bc9673b9d78b4ae83cf1dcdc02f0fac008b"  # tree of lib/
DANGLING = "916bf903e10cdfb67657be787614e5a8178ce3f774dfa9c49a7b34906a3b93cd"
A, B = RUN_IDS


def tmt(args, cwd):
    return subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", *args],
                          cwd=cwd, capture_output=True, text=True)


@pytest.fixture
def store(tmp_path):
    def make(name: str) -> Repo:
        root = copy_store(name, tmp_path / name)
        return Repo(root / ".tmt")
    return make


def kinds(result):
    return sorted((p.kind, p.id) for p in result.problems)


def test_golden_ids_match_the_builder(store):
    repo = store("clean")
    from tmt.records.io import read_record

    tree = read_record(record_path(repo.experiments_dir, A)).code["tree"]
    assert tree_entry(repo, tree, "lib/util.py").oid == UTIL
    assert tree_entry(repo, tree, "train.py").oid == TRAIN
    assert tree_entry(repo, tree, "lib").oid == LIB


def test_clean(store):
    r = fsck(store("clean"))
    assert r.problems == [] and r.ok and r.exit_code == 0
    assert (r.objects_checked, r.trees_checked, r.records_checked) == (10, 2, 2)


def test_missing_blob(store):
    r = fsck(store("missing_blob"))
    assert kinds(r) == [("missing_object", UTIL)]
    assert r.problems[0].message == f"object {UTIL} (record {A} code: lib/util.py) is missing"
    assert r.exit_code == 1


def test_corrupt_blob(store):
    r = fsck(store("corrupt_blob"))
    assert kinds(r) == [("corrupt_object", TRAIN)]
    assert r.problems[0].message.startswith(f"object {TRAIN} is corrupt: its content hashes to ")
    assert r.problems[0].message.endswith(f"(needed by record {A} code: train.py)")
    assert r.exit_code == 1


def test_dangling_is_informational(store):
    r = fsck(store("dangling"))
    assert kinds(r) == [("dangling_object", DANGLING)]
    assert r.problems[0].severity == "info"
    assert r.ok and r.exit_code == 0


def test_truncated_record(store):
    repo = store("truncated_record")
    r = fsck(repo)
    bad = r.by_kind("bad_record")
    assert [p.id for p in bad] == [B]
    assert bad[0].message.startswith(f"record {record_path(repo.experiments_dir, B)} is corrupt: not valid JSON")
    # what only the lost record referenced (its series and artifact blobs) is now dangling
    assert len(r.by_kind("dangling_object")) == 2
    assert r.exit_code == 1


def test_missing_tree(store):
    r = fsck(store("missing_tree"))
    assert [(p.kind, p.id) for p in r.problems if p.severity == "error"] == [("missing_object", LIB)]
    assert r.by_kind("missing_object")[0].message == f"tree {LIB} (record {A} code: lib) is missing"


@pytest.mark.parametrize("name,needle", [
    ("missing_blob", f"missing_object: object {UTIL} (record {A} code: lib/util.py) is missing"),
    ("corrupt_blob", f"corrupt_object: object {TRAIN} is corrupt: its content hashes to "),
    ("truncated_record", "bad_record: record "),
    ("missing_tree", f"missing_object: tree {LIB} (record {A} code: lib) is missing"),
    ("dangling", f"dangling_object: object {DANGLING} is not referenced by any run (21 bytes)"),
])
def test_cli_names_each_problem(store, name, needle):
    repo = store(name)
    r = tmt(["fsck"], repo.root)
    assert needle in r.stdout
    assert r.returncode == (0 if name == "dangling" else 1)
    last = r.stdout.splitlines()[-1]
    if name == "dangling":
        assert last.endswith("records: no problems found")
    else:
        assert last.endswith("records: 1 problem(s) found; `tmt fsck --repair` fixes what it can")


def test_cli_json_is_stable(store):
    repo = store("corrupt_blob")
    r = tmt(["fsck", "--json"], repo.root)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert set(doc) == {"ok", "repair", "objects_checked", "bytes_checked", "trees_checked", "records_checked",
                        "counts", "remaining", "problems", "notes", "duration_s"}
    assert doc["ok"] is False and doc["counts"] == {"corrupt_object": 1} and doc["remaining"] == 1
    (p,) = doc["problems"]
    assert set(p) == {"kind", "severity", "id", "path", "message", "repaired", "repair", "size"}
    assert (p["kind"], p["id"], p["severity"]) == ("corrupt_object", TRAIN, "error")
    assert p["path"] == str(repo.store.path(TRAIN))


# -- repair -------------------------------------------------------------------------------------


def test_repair_missing_blob_from_the_code_root(store):
    repo = store("missing_blob")
    r = fsck(repo, repair=True)
    (p,) = r.problems
    assert p.repaired and p.repair == "restored from a file with the same hash"
    assert repo.store.get(UTIL, verify=True) == FILES["lib/util.py"].encode()
    assert fsck(repo).problems == []


def test_repair_corrupt_blob_quarantines_and_restores(store):
    repo = store("corrupt_blob")
    bad = repo.store.path(TRAIN).read_bytes()
    r = tmt(["fsck", "--repair"], repo.root)
    assert r.returncode == 0, r.stdout
    assert "  repaired: moved to " in r.stdout and "; a good copy was restored" in r.stdout
    assert (repo.tmt_dir / "quarantine" / TRAIN).read_bytes() == bad
    assert repo.store.get(TRAIN, verify=True) == FILES["train.py"].encode()
    assert fsck(repo).ok


@pytest.mark.slow
def test_repair_reports_what_it_cannot_restore(store, tmp_path):
    repo = store("missing_blob")
    (repo.root / "lib" / "util.py").write_text("LR = 0.2\nEPOCHS = 3\n")  # same size, new content
    r = tmt(["fsck", "--repair"], repo.root)
    assert r.returncode == 1
    size = len(FILES["lib/util.py"])
    assert (f"  not repaired: no file of {size} bytes with this hash was found; "
            "pass --search DIR to look elsewhere") in r.stdout
    assert r.stdout.splitlines()[-1].endswith("records: 1 problem(s) remain")
    # a copy elsewhere (say, a `tmt checkout -o` folder) is found with --search
    elsewhere = tmp_path / "old-checkout" / "deep"
    elsewhere.mkdir(parents=True)
    (elsewhere / "renamed.py").write_text(FILES["lib/util.py"])
    r = tmt(["fsck", "--repair", "--search", str(tmp_path / "old-checkout")], repo.root)
    assert r.returncode == 0, r.stdout
    assert fsck(repo).ok


def test_repair_restores_from_cached_checkouts(store):
    repo = store("missing_blob")
    os.unlink(repo.root / "lib" / "util.py")
    view = repo.tmt_dir / "cache" / "checkouts" / A / "lib"
    view.mkdir(parents=True)
    (view / "util.py").write_text(FILES["lib/util.py"])
    assert fsck(repo, repair=True).ok


def test_repair_missing_tree_by_snapshotting_the_code_root(store):
    repo = store("missing_tree")
    r = fsck(repo, repair=True)
    assert r.ok
    (p,) = [p for p in r.problems if p.severity == "error"]
    assert p.repaired and p.repair == "restored from a snapshot of the code root"
    assert fsck(repo).problems == []


def test_repair_cannot_fix_a_truncated_record(store):
    repo = store("truncated_record")
    r = fsck(repo, repair=True)
    (p,) = r.by_kind("bad_record")
    assert not p.repaired
    assert p.repair == "cannot be repaired automatically: fix the file or delete it (the run is lost either way)"
    assert r.exit_code == 1


def test_repair_restores_leftover_trash(store):
    repo = store("clean")
    trash = repo.tmt_dir / "trash-otherhost-42-beef"
    trash.mkdir()
    os.rename(repo.store.path(UTIL), trash / UTIL)
    r = fsck(repo)
    assert sorted(p.kind for p in r.problems) == ["leftover_trash", "missing_object"]
    assert "trash-otherhost-42-beef holds 1 object(s) moved aside by a gc that did not finish" in r.problems[0].message
    r = fsck(repo, repair=True)
    assert r.ok and not trash.exists() and repo.store.has(UTIL)


# -- more damage ----------------------------------------------------------------------------------


def test_record_pointing_at_a_blob_as_tree(repo):
    rec = record_run(repo, snapshot=False)
    blob = repo.store.put(b"not a tree")
    rec.code = {"root": ".", "tree": blob}
    from tmt.records.io import write_record

    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    r = fsck(repo)
    (p,) = r.problems
    assert p.kind == "bad_tree" and p.id == blob
    assert p.message.startswith(f"tree {blob} (record {rec.id} code) does not decode: ")


def test_record_with_a_reference_that_is_not_an_id(repo):
    rec = record_run(repo, snapshot=False)
    rec.series = {"loss": "../../etc/passwd"}
    from tmt.records.io import write_record

    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    (p,) = fsck(repo).problems
    assert p.kind == "bad_record"
    assert p.message.endswith("references series loss -> '../../etc/passwd', which is not an object id")


def test_stray_files_are_informational(repo):
    (repo.store.objects_dir / "zz").mkdir(parents=True)
    (repo.experiments_dir / "notes.txt").write_text("hi")
    r = fsck(repo)
    assert sorted(p.kind for p in r.problems) == ["stray_file", "stray_file"]
    assert r.ok


def test_objects_of_live_runs_are_not_dangling(repo):
    oid = repo.store.put(b"a live run's artifact, record not written yet")
    with PinFile(repo.tmt_dir) as pin:
        pin.add([oid, "ab" * 32])  # the second is pinned but not written yet: not missing either
        assert fsck(repo).problems == []
    assert [p.kind for p in fsck(repo).problems] == ["dangling_object"]


def test_wrong_size_in_tree(repo):
    from tmt.snapshot.tree import TreeEntry, encode_tree

    blob = repo.store.put(b"12345")
    tree = repo.store.put(encode_tree([TreeEntry(b"f.txt", "f", blob, 6)]))
    rec = record_run(repo, snapshot=False)
    rec.code = {"root": ".", "tree": tree}
    from tmt.records.io import write_record

    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    (p,) = fsck(repo).problems
    assert p.kind == "bad_tree"
    assert p.message == f"tree {tree} says f.txt has 6 bytes, but its object {blob} has 5"


def test_missing_series_and_artifact(repo):
    rec = record_run(repo, snapshot=False, series={"loss": [1.0]}, artifacts={"m.bin": b"model"})
    for oid in (rec.series["loss"], rec.artifacts[0]["object"]):
        os.unlink(repo.store.path(oid))
    r = fsck(repo)
    msgs = sorted(p.message for p in r.problems)
    assert msgs == sorted([
        f"object {rec.series['loss']} (record {rec.id} series loss) is missing",
        f"object {rec.artifacts[0]['object']} (record {rec.id} artifact m.bin) is missing",
    ])
    r = fsck(repo, repair=True)
    assert not r.ok
    reasons = sorted(p.repair for p in r.problems)
    assert reasons[1] == "no file of 5 bytes with this hash was found; pass --search DIR to look elsewhere"
    assert reasons[0] == "its size is unknown (series or unsized reference), so no file could be matched"


def test_big_objects_are_hashed_in_chunks(repo):
    big = os.urandom(9 << 20)
    oid = repo.store.put(big)
    assert fsck(repo).by_kind("dangling_object")[0].id == oid
    p = repo.store.path(oid)
    os.chmod(p, 0o644)
    with open(p, "r+b") as f:
        f.seek((9 << 20) - 1)
        f.write(b"\0" if big[-1:] != b"\0" else b"\1")
    assert fsck(repo).by_kind("corrupt_object")[0].id == oid


def test_trash_of_a_running_gc_is_not_a_problem(store):
    from tmt.maintenance.lock import GcLock

    repo = store("clean")
    (repo.tmt_dir / "trash-thishost-1-aaaa").mkdir()
    with GcLock(repo.tmt_dir):
        r = fsck(repo)
    assert r.ok and r.problems == []
    assert r.notes == ["a gc is running: objects it has moved aside for a moment may be reported missing; "
                       "run fsck again when it has finished"]


def test_record_deleted_during_fsck_is_not_bad(repo, monkeypatch):
    rec = record_run(repo, snapshot=False)
    real = os.listdir

    def listdir_then_delete(path):
        names = real(path)
        if str(path) == str(repo.experiments_dir):
            os.unlink(record_path(repo.experiments_dir, rec.id))  # like a concurrent `tmt rm`
        return names

    monkeypatch.setattr(os, "listdir", listdir_then_delete)
    r = fsck(repo)
    assert not r.by_kind("bad_record") and r.records_checked == 0


def test_fsck_repair_moves_a_file_standing_where_quarantine_belongs_aside(repo):
    write_files(repo.root, FILES)
    rec = record_run(repo)
    victim = repo.store.path(rec.code["tree"])
    os.chmod(victim, 0o644)
    victim.write_bytes(b"damaged")
    (repo.tmt_dir / "quarantine").write_text("a file where a folder should be")
    out = tmt(["fsck", "--repair"], repo.root)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith(f"unsafe_path: {repo.tmt_dir / 'quarantine'} is a file, where tmt keeps its own folder")
    aside = [p for p in repo.tmt_dir.iterdir() if p.name.startswith("quarantine.unsafe-")]
    assert [p.read_text() for p in aside] == ["a file where a folder should be"]  # kept, not deleted
    assert (repo.tmt_dir / "quarantine" / rec.code["tree"]).read_bytes() == b"damaged"
