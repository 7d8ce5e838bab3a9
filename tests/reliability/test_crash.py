"""Crashes: SIGKILL at random moments of a large first snapshot, of record writes, of `tmt gc`
and of `tmt fsck --repair` (real processes). After every kill nothing half-written is
visible (every object hashes to its name, every record parses), and `tmt fsck` is clean, or
`tmt fsck --repair` makes it so, without losing any run that had completed.

Kill moments are drawn from a seeded generator over the span the operation takes here; the
trials go on until enough kills landed while the process still ran (see Killer).
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import workload
from tmt.repo import Repo
from tmt.snapshot.checkout import walk_tree

ONE_RUN = (
    "import sys, tmt\n"
    "with tmt.start_run(name=sys.argv[1]) as run:\n"
    "    run.log({'loss': 0.5}, step=0)\n"
    "    run.save(sys.argv[1], name='label', format='json')\n"
    "    run.metrics['score'] = 1\n"
    "print(run.id)\n"
)


class Killer:
    """SIGKILLs processes after a random delay in [lo, hi). A process that ends before its
    kill shows the operation is shorter here than assumed: hi shrinks to its run time, so
    later kills land inside the operation (the machine's speed is not assumed)."""

    def __init__(self, seed: int, lo: float, hi: float) -> None:
        self.rng = random.Random(seed)
        self.lo, self.hi = lo, hi
        self.trials = self.landed = 0

    def more(self, want: int) -> bool:
        return self.landed < want and self.trials < 3 * want

    def kill(self, proc: subprocess.Popen) -> bool:
        self.trials += 1
        delay = self.rng.uniform(self.lo, self.hi)
        t0 = time.monotonic()
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            self.landed += 1
            return True
        self.hi = max(0.02, (time.monotonic() - t0) * 0.95)
        self.lo = min(self.lo, self.hi / 2)
        return False


def one_run(python: str, root: Path, name: str) -> str:
    r = subprocess.run([python, "-c", ONE_RUN, name], cwd=root, capture_output=True, text=True,
                       env=workload.child_env(), check=True)
    return r.stdout.strip()


def assert_run_ok(root: Path, run_id: str, name: str) -> None:
    import tmt

    run = tmt.get(run_id, repo=root)
    assert (run.status, run.metrics, run.artifacts["label"].load()) == ("completed", {"score": 1}, name)
    assert list(run.series("loss").values) == [0.5]
    store = run.repo.store
    for _, entry in walk_tree(store, run.code["tree"]):
        store.get(entry.oid, verify=True)


def assert_consistent(root: Path, allow_repair: bool = False, injected: str | None = None) -> str:
    """fsck clean (or, if allowed, made clean by --repair); returns what was needed.

    `injected`: the path of an object the test damaged itself (not half-written by tmt)."""
    assert [p for p in workload.half_written(root / ".tmt") if injected is None or injected not in p] == []
    r = workload.run_tmt(["fsck"], root)
    if r.returncode == 0:
        return "clean"
    assert allow_repair, r.stdout + r.stderr
    rep = workload.run_tmt(["fsck", "--repair"], root)
    assert rep.returncode == 0, rep.stdout + rep.stderr
    again = workload.run_tmt(["fsck"], root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert workload.half_written(root / ".tmt") == []
    return "repaired"


@pytest.mark.slow
def test_sigkill_during_a_large_first_snapshot(project: Path, python: str) -> None:
    rng = random.Random(1)
    big = project / "big"
    for d in range(16):
        (big / f"d{d}").mkdir(parents=True)
        for f in range(40):
            (big / f"d{d}" / f"f{f}.py").write_bytes(rng.randbytes(8192))
    killer = Killer(1, 0.12, 0.5)
    while killer.more(5):
        shutil.rmtree(project / ".tmt", ignore_errors=True)
        (project / ".tmtignore").write_text("big/\n")
        before = one_run(python, project, "before")
        (project / ".tmtignore").unlink()
        proc = subprocess.Popen([python, "-c", ONE_RUN, "big"], cwd=project, env=workload.child_env(),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killer.kill(proc)
        assert assert_consistent(project) == "clean"
        assert_run_ok(project, before, "before")
    # The next run snapshots the same files again (some objects exist, some do not) and completes.
    after = one_run(python, project, "after")
    assert_run_ok(project, after, "after")
    assert assert_consistent(project) == "clean"
    assert killer.landed == 5


@pytest.mark.slow
def test_sigkill_during_record_writes(project: Path, python: str) -> None:
    """A writer that saves objects (each save rewrites its record) and ends runs, killed at
    random: every run it reported finished is whole; the killed run is at most `crashed`.

    Each kill's delay starts when the writer reports its first finished run (it writes its
    lines to its stdout, a pipe we read), so the kill lands among record writes however long
    the interpreter takes to start on a loaded machine."""
    workload.setup_project(project)
    killer = Killer(2, 0.01, 0.5)
    lines: list[dict] = []
    trial = 0
    while killer.more(8):
        trial += 1
        proc = subprocess.Popen(
            [python, str(workload.HERE / "workload.py"), "writer", str(project), str(trial), "5000", "/dev/stdout"],
            env=workload.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        first = proc.stdout.readline()
        assert first, proc.communicate()[1]  # the writer ended before finishing one run
        assert killer.kill(proc), proc.communicate()  # 5000 runs: it cannot end by itself
        lines += [json.loads(line) for line in [first, *proc.stdout.read().splitlines()]]
        proc.stdout.close()
        proc.stderr.close()
        assert assert_consistent(project) == "clean"
    assert killer.landed == 8
    assert workload.check_runs(project, lines) == {}
    import tmt

    statuses = {r.status for r in tmt.runs(repo=project)}
    assert statuses <= {"completed", "crashed"}


def _garbage(repo: Repo, n: int, seed: int) -> None:
    rng = random.Random(seed)
    with repo.store.batch() as b:
        for _ in range(n):
            b.add(rng.randbytes(rng.randint(10, 600)))


@pytest.mark.slow
def test_sigkill_during_gc(project: Path, python: str) -> None:
    (project / "train.py").write_text("x = 1\n")
    runs = {one_run(python, project, f"r{k}"): f"r{k}" for k in range(3)}
    repo = Repo.find(project)
    killer, repaired, trial = Killer(3, 0.1, 0.4), 0, 0
    while killer.more(5):
        trial += 1
        _garbage(repo, 1500, trial)
        proc = subprocess.Popen([workload.tmt_command(), "gc", "--grace", "0"], cwd=project,
                                env=workload.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killer.kill(proc)
        repaired += assert_consistent(project, allow_repair=True) == "repaired"
        for run_id, name in runs.items():
            assert_run_ok(project, run_id, name)
    assert killer.landed == 5
    # gc itself also recovers: after one more full gc nothing is left over.
    assert workload.run_tmt(["gc", "--grace", "0"], project).returncode == 0
    assert assert_consistent(project) == "clean"
    print(f"\ngc kills: {killer.landed} landed, {repaired} needed fsck --repair")


@pytest.mark.slow
def test_sigkill_during_fsck_repair(project: Path, python: str) -> None:
    """Damage (a corrupt code blob, a missing one, a crashed gc's trash), then
    `tmt fsck --repair` killed at random; a full repair afterwards fixes everything."""
    rng = random.Random(4)
    (project / "train.py").write_text("x = 1\n" * 50)
    (project / "util.py").write_text("y = 2\n" * 70)
    runs = {one_run(python, project, f"r{k}"): f"r{k}" for k in range(3)}
    repo = Repo.find(project)
    tree = repo.store.get(__import__("tmt").get("r0", repo=project).code["tree"])
    from tmt.snapshot.tree import decode_tree

    blobs = {e.name: e.oid for e in decode_tree(tree)}
    killer, repaired, trial = Killer(4, 0.1, 0.5), 0, 0
    while killer.more(5):
        trial += 1
        _garbage(repo, 1500, 100 + trial)
        corrupt = repo.store.path(blobs[b"train.py"])
        data = bytearray(corrupt.read_bytes())
        data[rng.randrange(len(data))] ^= 0xFF
        os.chmod(corrupt, 0o644)
        corrupt.write_bytes(bytes(data))
        os.unlink(repo.store.path(blobs[b"util.py"]))
        trash = repo.tmt_dir / "trash-crashed"
        trash.mkdir(exist_ok=True)
        series = __import__("tmt").get("r1", repo=project).record.series["loss"]
        if repo.store.has(series):
            os.rename(repo.store.path(series), trash / series)
        proc = subprocess.Popen([workload.tmt_command(), "fsck", "--repair"], cwd=project,
                                env=workload.child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        killer.kill(proc)
        # Whatever the kill left: records all parse, and objects are whole except the one
        # corrupted by hand (if the repair had not reached it yet); then a full repair.
        outcome = assert_consistent(project, allow_repair=True, injected=str(corrupt))
        repaired += outcome == "repaired"
        for run_id, name in runs.items():
            assert_run_ok(project, run_id, name)
    assert killer.landed == 5
    print(f"\nfsck --repair kills: {killer.landed} landed in {killer.trials} trials, {repaired} left damage to repair")
