"""Real processes against a real SeaweedFS: concurrent pushers and pullers, SIGKILL at random
moments of push and pull (then resume), and rclone's gateway, which ignores If-None-Match."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from remote_helpers import make_project, record, store_files, tmt_cmd


def _add(project: Path, url: str, endpoint: str, name: str = "origin") -> None:
    import tmt

    if not (project / ".tmt").is_dir():
        tmt.init(project)
    tmt.remote.add(name, url, endpoint_url=endpoint, repo=project)


def _spawn(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from tmt.cli import main; main()", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _ids(project: Path) -> set[str]:
    return {p.stem for p in (project / ".tmt" / "experiments").glob("*.json")}


def _add_files(root: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    for i in range(n):
        p = root / "src" / f"d{i % 12}" / f"f{i}.py"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randint(200, 12_000)))


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_concurrent_pushers_and_pullers(tmp_path, seaweed, s3_url, n):
    """n machines with the same code push at once (racing on the same objects), then n
    fresh machines pull at once: every machine ends with every run, whole."""
    projects = []
    for i in range(n):
        p = make_project(tmp_path / f"m{i}")
        _add_files(p, 30, seed=1)  # identical code everywhere: the same objects race
        _add(p, s3_url, seaweed.endpoint)
        record(p, f"m{i}", i)
        projects.append(p)
    procs = [_spawn("push", "--json", cwd=p) for p in projects]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outs
    all_ids = set().union(*(_ids(p) for p in projects))
    assert len(all_ids) == n
    readers = []
    for i in range(n):
        r = make_project(tmp_path / f"r{i}")
        _add(r, s3_url, seaweed.endpoint)
        readers.append(r)
    procs = [_spawn("pull", cwd=r) for r in readers]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outs
    for r in readers:
        assert _ids(r) == all_ids
        assert _half_visible(r) == []
    assert _remote_errors(projects[0]) == []


def _half_visible(project: Path) -> list[str]:
    """Runs a reader would see but could not use: every listed run must be whole."""
    import tmt

    return [p.message for p in tmt.fsck(project).problems if p.kind != "dangling_object"]


def _remote_errors(project: Path, name: str = "origin") -> list[str]:
    import tmt

    return [p.message for p in tmt.remote.fsck(name, repo=project).errors]


@pytest.mark.slow
def test_sigkill_during_push_and_pull_then_resume(tmp_path, seaweed, s3_url):
    rng = random.Random(int(os.environ.get("TMT_TEST_SEED", "14")))
    a = make_project(tmp_path / "a")
    _add_files(a, 400, seed=2)
    for i in range(3):
        (a / "src" / "d0" / f"changing{i}.py").write_text(f"v = {i}\n")
        record(a, "train", i)
    # How long a whole push takes here (to another prefix), so that kills land while it runs.
    _add(a, s3_url, seaweed.endpoint)
    _add(a, s3_url + "-timing", seaweed.endpoint, "timing")
    t0 = time.monotonic()
    tmt_cmd("push", "timing", cwd=a)
    whole = time.monotonic() - t0
    reader = make_project(tmp_path / "reader")
    _add(reader, s3_url, seaweed.endpoint)
    for trial in range(3):
        p = _spawn("push", "origin", cwd=a)
        time.sleep(rng.uniform(0.05, max(0.1, whole * 0.9)))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        # Whatever the remote shows is whole: a pull of it gives only complete runs.
        out = tmt_cmd("pull", cwd=reader, check=False)
        assert out.returncode == 0, out.stderr
        assert _half_visible(reader) == []
        assert _remote_errors(a) == []
    tmt_cmd("push", "origin", cwd=a)  # resumes
    tmt_cmd("pull", cwd=reader)
    assert _ids(reader) == _ids(a)
    # Now kill pulls into a fresh clone, then resume.
    c = make_project(tmp_path / "c")
    _add(c, s3_url, seaweed.endpoint)
    for trial in range(3):
        p = _spawn("pull", cwd=c)
        time.sleep(rng.uniform(0.05, max(0.1, whole * 0.9)))
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        assert _half_visible(c) == []
        assert _ids(c) <= _ids(a)
    tmt_cmd("pull", cwd=c)
    assert _ids(c) == _ids(a)
    assert _half_visible(c) == []
    sa, sc = store_files(a / ".tmt"), store_files(c / ".tmt")
    assert all(sa[k] == v for k, v in sc.items() if k in sa)
    assert {k for k in sa if k.startswith("experiments/")} == {k for k in sc if k.startswith("experiments/")}


@pytest.mark.slow
def test_a_server_that_ignores_create_only_writes(tmp_path, rclone_s3, s3_env):
    """rclone's S3 gateway overwrites despite If-None-Match: detected; pushes and pulls stay
    safe (every name is derived from its content), remote gc refuses without --force."""
    url = rclone_s3.url("proj")
    a = make_project(tmp_path / "a")
    rid = record(a)
    _add(a, url, rclone_s3.endpoint)
    out = tmt_cmd("push", cwd=a)
    assert (f"warning: {url} does not enforce create-only writes (If-None-Match is ignored): pushes stay safe, "
            "since every name tmt writes is derived from its content") in out.stderr
    assert json.loads(tmt_cmd("push", "--json", cwd=a).stdout)["runs_up_to_date"] == 1
    tmt_cmd("clone", url, str(tmp_path / "b"), "--endpoint-url", rclone_s3.endpoint, cwd=tmp_path)
    assert _ids(tmp_path / "b") == {rid}
    gc = tmt_cmd("gc", "--remote", "origin", cwd=a, check=False)
    assert gc.returncode == 1
    assert gc.stderr.splitlines() == [
        f"Error: {url} ignores create-only writes (If-None-Match), so tmt cannot keep two remote gcs apart",
        "hint: make sure no other `tmt gc --remote` runs on it, then pass --force",
    ]
    assert tmt_cmd("gc", "--remote", "origin", "--force", "--grace", "0", cwd=a).returncode == 0
    assert tmt_cmd("fsck", "--remote", "origin", cwd=a).returncode == 0
