"""In-place `tmt checkout` with real processes beside it: `tmt gc --grace 0` in a loop, a
writer appending to a tracked file, a run starting half-way, SIGINT and SIGKILL at random
moments. Whatever happens, every byte the user had is in the working tree or in a backup."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import tmt
import workload
from cli_helpers import files_of

pytestmark = pytest.mark.slow

FILES = 80


def write_version(root: Path, v: int) -> None:
    """Version v of the code: FILES modules of ~8 KiB, all different between versions."""
    for i in range(FILES):
        p = root / "pkg" / f"m{i:03d}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"# version {v}, module {i}\n" + f"x_{i} = {v}\n" * 700)
    (root / f"only_v{v}.py").write_text(f"V = {v}\n")
    for old in root.glob("only_v*.py"):
        if old.name != f"only_v{v}.py":
            old.unlink()


def record(project: Path, name: str) -> str:
    r = subprocess.run([sys.executable, "-c", f"import tmt\nwith tmt.start_run(name={name!r}) as r: pass\nprint(r.id)"],
                       cwd=project, capture_output=True, text=True, env=workload.child_env(), timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@pytest.fixture
def two_runs(project: Path) -> tuple[str, str, dict, dict]:
    (project / ".gitignore").write_text("results/\n")
    (project / "results").mkdir()
    (project / "results" / "out.bin").write_bytes(os.urandom(4096))  # ignored: must never change
    write_version(project, 1)
    a_files = files_of(project)
    a = record(project, "a")
    write_version(project, 2)
    b_files = files_of(project)
    b = record(project, "b")
    return a, b, a_files, b_files


def checkout(project: Path, ref: str) -> subprocess.CompletedProcess:
    return workload.run_tmt(["checkout", ref], project)


def backup_ids(project: Path) -> list[str]:
    r = workload.run_tmt(["ls", "--tag", "checkout-backup", "--json"], project)
    assert r.returncode == 0, r.stderr
    return [x["id"] for x in json.loads(r.stdout or "[]")]


def test_gc_at_grace_0_beside_checkouts_never_stops_one(two_runs, project: Path) -> None:
    a, b, a_files, b_files = two_runs
    stop = threading.Event()
    gcs: list[subprocess.CompletedProcess] = []
    store = tmt.repo.Repo.find(project).store

    def gc_loop() -> None:
        while not stop.is_set():
            # garbage for every pass: objects no record references (a run recording here
            # would rightly make the checkouts refuse)
            for _ in range(20):
                store.put(os.urandom(3000))
            gcs.append(workload.run_tmt(["gc", "--grace", "0"], project))

    t = threading.Thread(target=gc_loop)
    t.start()
    try:
        for i in range(4):
            ref, want = (a, a_files) if i % 2 == 0 else (b, b_files)
            r = checkout(project, ref[:8])
            assert r.returncode == 0, r.stderr
            assert files_of(project) == want
    finally:
        stop.set()
        t.join()
    assert gcs and all(g.returncode == 0 for g in gcs), [g.stderr for g in gcs if g.returncode]
    assert workload.run_tmt(["fsck"], project).returncode == 0


WRITER = """
import sys, time
path, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(path, "a") as f:
        f.write(f"line {i}\\n")
    print(i, flush=True)
    time.sleep(0.004)
"""


def test_a_writer_appending_during_checkouts_loses_no_line(two_runs, project: Path) -> None:
    a, b, _, _ = two_runs
    log = project / "log.txt"  # tracked: not ignored
    lines = 400
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(lines)], stdout=subprocess.PIPE, text=True)
    outcomes = []
    i = 0
    while writer.poll() is None:
        r = checkout(project, (a if i % 2 == 0 else b)[:8])
        i += 1
        outcomes.append(r.returncode)
        assert "Traceback" not in r.stderr
        if r.returncode:
            assert ("after the backup was taken, so it was left as it is" in r.stderr
                    or "kept changing while the checkout took its backup" in r.stderr), r.stderr
    written = [int(x) for x in writer.communicate()[0].split()]
    assert written == list(range(lines))
    # Every line is in the working tree, or in a backup's copy of log.txt.
    seen = set(log.read_text().splitlines()) if log.exists() else set()
    for bid in backup_ids(project):
        run = tmt.get(bid, repo=project)
        tree = run.code["tree"]
        from tmt.snapshot.checkout import walk_tree

        for path, entry in walk_tree(run.repo.store, tree):
            if path == b"log.txt":
                seen |= set(run.repo.store.get(entry.oid).decode().splitlines())
    assert {f"line {i}" for i in range(lines)} <= seen
    assert len(outcomes) >= 2


def test_a_run_started_during_a_checkout_records_a_whole_tree(two_runs, project: Path) -> None:
    a, b, _, _ = two_runs
    trees = {tmt.get(x, repo=project).code["tree"] for x in (a, b)}
    co = subprocess.Popen([workload.tmt_command(), "checkout", a[:8]], cwd=project, env=workload.child_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rid = record(project, "during")
    _, err = co.communicate(timeout=120)
    # Whichever took the root lock first wins: a checkout that came second refuses to change
    # a recording run's code (without --force); one that came first makes the run wait.
    assert co.returncode == 0 or "is recording from" in err, err
    assert tmt.get(rid, repo=project).code["tree"] in trees  # a's or b's, never a mix


def trial_state(project: Path, n: int) -> dict[str, bytes]:
    """Work in progress no run holds: only a backup can bring it back."""
    (project / "wip.py").write_text(f"trial {n}\n")
    (project / "pkg" / "m000.py").write_text(f"edited in trial {n}\n")
    return files_of(project)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_checkout_stopped_at_a_random_moment_loses_nothing(two_runs, project: Path, sig: int) -> None:
    a, b, _, b_files = two_runs
    rng = random.Random(sig)
    t0 = time.monotonic()
    assert checkout(project, b[:8]).returncode == 0
    span = time.monotonic() - t0  # a whole checkout, for aiming the signals
    for n in range(4):
        before = trial_state(project, n)
        known = set(backup_ids(project))
        p = subprocess.Popen([workload.tmt_command(), "checkout", a[:8]], cwd=project, env=workload.child_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0.05, span))
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
        new = [x for x in backup_ids(project) if x not in known]
        # (A Ctrl-C while Python itself starts up prints its own traceback: tmt was not running yet.)
        assert "Traceback" not in err or not new
        if p.returncode == 0:
            back = new[0]  # it finished before the signal
        elif not new:
            assert files_of(project) == before  # stopped before the backup: nothing changed
            continue
        else:
            [back] = new
            if sig != signal.SIGKILL and p.returncode in (130, 143):  # (else killed before tmt caught it)
                assert p.returncode == 128 + sig
                assert err.endswith(f"hint: your working tree was saved as run {back[:8]}; "
                                    f"return with: tmt checkout {back[:8]}\n"), err
        r = checkout(project, back[:8])
        assert r.returncode == 0, r.stderr
        assert files_of(project) == before
        assert not [f for f in files_of(project) if os.path.basename(f).startswith(".tmt-")]
    assert files_of(project)["results/out.bin"] == b_files["results/out.bin"]
