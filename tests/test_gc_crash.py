"""A gc SIGKILLed at any point loses nothing reachable: the next gc restores its trash.

The gc runs in a child process whose progress callback kills it with SIGKILL at a point
chosen per trial (mark, scan, moving aside, deleting). In some trials a "writer" records a
run that references trashed objects just before the re-mark, so the killed gc leaves
reachable objects in its trash folder.
"""
from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data"))
from make_broken import FILES, record_run, write_files  # noqa: E402

from tmt.maintenance import fsck, gc  # noqa: E402
from tmt.repo import Repo  # noqa: E402

CHILD = '''
import os, signal, sys
from tmt.repo import Repo
from tmt.maintenance import gc
from tmt.records.io import write_record
from tmt.records.model import Record, new_run_id
from tmt.store.pins import PinFile

repo = Repo(sys.argv[1])
kill_phase, kill_at, adopt = sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
adopted = sys.argv[5]

def progress(phase, done, total):
    if adopt and phase == "move" and done == total and total:
        # A writer that pinned the object and saw it exist just before gc moved it aside
        # now records a run referencing it: the object is in the trash.
        pin = PinFile(repo.tmt_dir)
        pin.add([adopted])
        write_record(repo.experiments_dir, repo.tmp_dir, Record(
            id=new_run_id(), name="adopter", status="completed", created_at="2026-01-01T00:00:00+00:00",
            artifacts=[{"name": "g", "object": adopted, "size": 9}]))
    if phase == kill_phase and done >= kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

gc(repo, grace=0, progress=progress)
print("finished")
'''

N_GARBAGE = 1500
POINTS = [("mark", 0), ("scan", 50), ("move", 0), ("move", 1024), ("move", N_GARBAGE), ("delete", 0),
          ("delete", 256), ("delete", 768)]
#: mid-move; and right after a run adopted a trashed object, before gc could put it back
FIXED = [("move", 1024), ("move", N_GARBAGE)]


def add_garbage(repo: Repo) -> list[str]:
    """Unreferenced objects, written directly (no fsync: only their presence matters here)."""
    from tmt.store.ids import hash_bytes

    ids = []
    for i in range(N_GARBAGE):
        data = b"garbage %d" % i
        oid = hash_bytes(data)
        path = repo.store.path(oid)
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        ids.append(oid)
    return ids


def all_reachable_present(repo: Repo) -> None:
    check = fsck(repo)
    assert check.ok, [p.message for p in check.remaining][:5]
    assert not check.by_kind("dangling_object")


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(5))
def test_sigkill_during_gc_loses_nothing(tmp_path, python, trial):
    rnd = random.Random(trial)
    root = tmp_path / "p"
    root.mkdir()
    write_files(root, FILES)
    repo = Repo.init(root)
    runs = [record_run(repo, "r", series={"l": [1.0]}, artifacts={"m": b"model %d" % i}) for i in range(2)]
    garbage = add_garbage(repo)
    # the first trials pin the interesting points (mid-move, mid-delete); the rest are random
    phase, at = POINTS[rnd.randrange(len(POINTS))] if trial >= 2 else FIXED[trial]
    adopt = trial % 2 == 1 or phase == "delete"
    p = subprocess.run([python, "-c", CHILD, str(repo.tmt_dir), phase, str(at), "1" if adopt else "0", garbage[7]],
                       capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, (phase, at, p.stdout, p.stderr)
    # The lock died with the process: the next gc runs, restores the trash first, then judges.
    assert not gc(repo, grace=0).dry_run
    assert not list(repo.tmt_dir.glob("trash-*"))
    for rec in runs:
        for oid in rec.object_ids():
            assert repo.store.has(oid)
    if adopt and (phase == "delete" or at == N_GARBAGE):
        assert repo.store.get(garbage[7], verify=True) == b"garbage 7"  # the adopted object survived
    all_reachable_present(repo)
    assert len(list(repo.store)) < N_GARBAGE  # and the garbage did go in the end


@pytest.mark.slow
def test_fsck_repair_also_recovers_a_killed_gc(tmp_path, python):
    root = tmp_path / "p"
    root.mkdir()
    write_files(root, FILES)
    repo = Repo.init(root)
    record_run(repo)
    garbage = add_garbage(repo)
    p = subprocess.run([python, "-c", CHILD, str(repo.tmt_dir), "move", str(N_GARBAGE), "1", garbage[7]],
                       capture_output=True, text=True)
    assert p.returncode == -signal.SIGKILL, p.stderr
    before = fsck(repo)
    assert {"leftover_trash", "missing_object"} <= {p.kind for p in before.remaining}
    after = fsck(repo, repair=True)
    assert after.ok, [p.message for p in after.remaining]
    assert repo.store.get(garbage[7], verify=True) == b"garbage 7"
    assert fsck(repo).ok
