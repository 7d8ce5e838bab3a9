"""Writes that fail part way: a file size limit (RLIMIT_FSIZE in a child process, SIGXFSZ
ignored so write() fails with EFBIG) and a full file system (a 2 MiB tmpfs, mounted when we
are root; otherwise the same trial runs under RLIMIT_FSIZE). Each gives a clear error, leaves
no temp file behind, and leaves a store that `tmt fsck` finds clean with every earlier run
intact.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest

import workload

LIMIT = 1_000_000


def limited(limit: int = LIMIT):
    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def py(python: str, code: str, cwd: Path, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=workload.child_env(), preexec_fn=preexec, timeout=120)


RUN = (
    "import os, sys, tmt\n"
    "with tmt.start_run(name=sys.argv[1] if len(sys.argv) > 1 else 'r') as run:\n"
    "    run.log({'loss': 1.0}, step=0)\n"
    "    run.save({'ok': True}, name='small', format='json')\n"
    "    {save}\n"
    "print(run.id)\n"
)


def run_code(save: str = "pass") -> str:
    return RUN.replace("{save}", save)


def assert_clean(root: Path) -> None:
    r = workload.run_tmt(["fsck"], root)
    assert r.returncode == 0, r.stdout + r.stderr
    assert workload.half_written(root / ".tmt") == []
    assert os.listdir(root / ".tmt" / "tmp") == []  # failed writes removed their temp files


@pytest.mark.slow
def test_size_limit_during_the_first_snapshot(project: Path, python: str) -> None:
    (project / "train.py").write_text("x = 1\n")
    (project / "weights.bin").write_bytes(os.urandom(2 * LIMIT))  # code, under max_file_size
    r = py(python, run_code(), project, limited())
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-2:]
    assert last[0].startswith("tmt.errors.StoreError: could not write object ")
    assert last[0].endswith(": File too large")
    assert last[1] == "hint: a file size limit was hit; nothing was half-written"
    assert_clean(project)
    # Nothing was recorded (the run never started), and without the limit it works.
    assert workload.run_tmt(["ls", "--json"], project).stdout.strip() == "[]"
    ok = py(python, run_code(), project)
    assert ok.returncode == 0, ok.stderr
    assert_clean(project)


@pytest.mark.slow
def test_size_limit_while_saving_an_object(project: Path, python: str) -> None:
    (project / "train.py").write_text("x = 1\n")
    first = py(python, run_code(), project)
    assert first.returncode == 0
    r = py(python, run_code("run.save(os.urandom(2 * 10**6), name='big')"), project, limited())
    assert r.returncode == 1
    assert "tmt.errors.StoreError: could not save 'big': File too large\n" \
           "hint: a file size limit was hit; nothing was half-written" in r.stderr, r.stderr
    assert_clean(project)
    import tmt

    runs = {run.id: run for run in tmt.runs(repo=project)}
    assert runs[first.stdout.strip()].status == "completed"
    failed = [run for run in runs.values() if run.status == "failed"]
    assert len(failed) == 1  # the failing run is recorded, with what it saved before
    assert failed[0].error["type"] == "tmt.errors.StoreError"
    assert failed[0].artifacts["small"].load() == {"ok": True}
    assert list(failed[0].series("loss").values) == [1.0]


@pytest.mark.slow
def test_size_limit_during_an_in_place_checkout(project: Path, python: str) -> None:
    (project / "train.py").write_text("x = 1\n")
    (project / "weights.bin").write_bytes(os.urandom(2 * LIMIT))
    first = py(python, run_code(), project).stdout.strip()
    (project / "weights.bin").write_bytes(b"small now")
    (project / "train.py").write_text("x = 2\n")
    r = subprocess.run([workload.tmt_command(), "checkout", first[:8]], cwd=project, capture_output=True,
                       text=True, env=workload.child_env(), preexec_fn=limited())
    assert r.returncode == 1
    backup = tmt_backup_id(project)
    assert r.stderr == (
        "Error: checkout stopped half-way: cannot write weights.bin: File too large\n"
        f"hint: your working tree was saved as run {backup[:8]}; return with: tmt checkout {backup[:8]}\n"
    )
    assert_clean(project)
    # Files are replaced whole or not at all: weights.bin is still the old small file.
    assert (project / "weights.bin").read_bytes() == b"small now"
    ok = workload.run_tmt(["checkout", first[:8]], project)
    assert ok.returncode == 0, ok.stderr
    assert (project / "train.py").read_text() == "x = 1\n"
    assert_clean(project)


def tmt_backup_id(root: Path) -> str:
    import tmt

    return tmt.runs(tags=["checkout-backup"], repo=root)[-1].id


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 2 MiB tmpfs when we may mount one, else None (the trial then uses RLIMIT_FSIZE)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    ok = os.geteuid() == 0 and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True
    ).returncode == 0
    yield mnt if ok else None
    if ok:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_full_file_system(small_fs: Path | None, tmp_path: Path, python: str) -> None:
    root = (small_fs or tmp_path / "plain") / "project"
    root.mkdir(parents=True)
    preexec = None if small_fs else limited()
    (root / "train.py").write_text("x = 1\n")
    first = py(python, run_code(), root)
    assert first.returncode == 0, first.stderr
    r = py(python, run_code("run.save(os.urandom(3 * 10**6), name='big')"), root, preexec)
    assert r.returncode == 1
    if small_fs:
        assert "tmt.errors.StoreError: could not save 'big': No space left on device\n" \
               "hint: the disk is full; free space and run again (nothing was half-written)" in r.stderr, r.stderr
    assert_clean(root)
    import tmt

    assert tmt.get(first.stdout.strip(), repo=root).status == "completed"
    assert [run.status for run in tmt.runs(repo=root)].count("failed") == 1
