"""env.packages: the installed distributions a run imported, with their versions; zombies are crashed."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tmt.records.io import read_record, record_files

# Real recording processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

RUN = """
import sys
import fakepkg, othermod, utils, json   # utils is the project's own module
import tmt
with tmt.start_run(name="p"):
    pass
"""


def dist(site: Path, folder: str, metadata: str, files: dict[str, str]) -> None:
    meta = site / folder
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text(metadata)
    for name, text in files.items():
        path = site / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def site(project: Path, tmp_path: Path) -> Path:
    site = tmp_path / "site"
    dist(site, "fake_pkg-1.2.3.dist-info", "Metadata-Version: 2.1\nName: fake-pkg\nVersion: 1.2.3\n\nbody: x\n",
         {"fake_pkg-1.2.3.dist-info/top_level.txt": "fakepkg\n", "fakepkg/__init__.py": ""})
    # no top_level.txt: the top-level names come from RECORD (as numpy's wheels)
    dist(site, "other-0.1.dist-info", "Name: other\nVersion: 0.1\n",
         {"other-0.1.dist-info/RECORD": "othermod.py,sha256=x,1\nother-0.1.dist-info/METADATA,,\n", "othermod.py": ""})
    # a distribution named like the project's own module must not be claimed
    dist(site, "utils-9.9.dist-info", "Name: utils\nVersion: 9.9\n",
         {"utils-9.9.dist-info/top_level.txt": "utils\n", "utils/__init__.py": ""})
    (project / "utils.py").write_text("")
    (project / "run.py").write_text(RUN)
    return site


def record(project: Path, site: Path, python: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(site)}
    subprocess.run([python, "run.py"], cwd=project, env=env, check=True, capture_output=True, timeout=120)
    latest = max(record_files(project / ".tmt" / "experiments"), key=lambda p: read_record(p).created_at)
    return json.loads(latest.read_text())["env"]["packages"]


def test_the_record_names_what_the_run_imported(project: Path, site: Path, python: str) -> None:
    import tmt

    packages = record(project, site, python)
    assert packages["fake-pkg"] == "1.2.3" and packages["other"] == "0.1"
    assert packages["ThatMetricTimeline"] == tmt.__version__
    assert "utils" not in packages and "json" not in packages
    assert list(packages) == sorted(packages, key=str.lower)
    caches = list((project / ".tmt" / "cache").glob("packages-*.json"))
    assert len(caches) == 1
    # an upgrade (a new metadata folder) is seen at once, though the map is cached
    import shutil

    shutil.rmtree(site / "fake_pkg-1.2.3.dist-info")
    dist(site, "fake_pkg-2.0.dist-info", "Name: fake-pkg\nVersion: 2.0\n",
         {"fake_pkg-2.0.dist-info/top_level.txt": "fakepkg\n"})
    assert record(project, site, python)["fake-pkg"] == "2.0"


def test_numpy_is_recorded_with_its_version(project: Path, python: str) -> None:
    np = pytest.importorskip("numpy")
    (project / "run.py").write_text("import numpy, tmt\nwith tmt.start_run(name='np'):\n    pass\n")
    subprocess.run([python, "run.py"], cwd=project, check=True, capture_output=True, timeout=120)
    (path,) = record_files(project / ".tmt" / "experiments")
    assert json.loads(path.read_text())["env"]["packages"]["numpy"] == np.__version__


def test_what_tmt_imports_for_itself_during_a_run_is_not_listed(project: Path, python: str) -> None:
    # The first snapshot compiles the ignore rules (pathspec) and later unchanged runs do not:
    # tmt's own lazy imports must not make env.packages differ from run to run.
    (project / ".gitignore").write_text("*.log\n")
    (project / "run.py").write_text("import sys, tmt\nwith tmt.start_run(name='own'):\n    pass\n"
                                    "print('pathspec' in sys.modules)\n")
    out = subprocess.run([python, "run.py"], cwd=project, check=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True"  # tmt did import it during the run
    (path,) = record_files(project / ".tmt" / "experiments")
    assert "pathspec" not in json.loads(path.read_text())["env"]["packages"]
    # a program that imports it itself gets it listed
    (project / "run.py").write_text("import pathspec, tmt\nwith tmt.start_run(name='mine'):\n    pass\n")
    subprocess.run([python, "run.py"], cwd=project, check=True, capture_output=True, timeout=120)
    latest = max(record_files(project / ".tmt" / "experiments"), key=lambda p: read_record(p).created_at)
    assert "pathspec" in json.loads(latest.read_text())["env"]["packages"]


def _state(pid: int) -> str:
    data = Path(f"/proc/{pid}/stat").read_bytes()
    return data[data.rfind(b")") + 2 :][:1].decode()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="zombies are read from /proc")
def test_a_killed_run_that_is_a_zombie_is_crashed(project: Path, python: str) -> None:
    import tmt

    code = ("import sys, time, tmt\nwith tmt.start_run(name='z') as run:\n"
            "    print(run.id, flush=True)\n    time.sleep(600)\n")
    child = subprocess.Popen([python, "-c", code], cwd=project, stdout=subprocess.PIPE, text=True)
    try:
        run_id = child.stdout.readline().strip()
        assert tmt.get(run_id, repo=project).status == "running"
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while _state(child.pid) != "Z":  # we are its parent and do not reap it yet
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert tmt.get(run_id, repo=project).status == "crashed"
        r = subprocess.run([sys.executable, "-m", "tmt", "ls", "--json"], cwd=project, capture_output=True, text=True)
        assert json.loads(r.stdout)[0]["status"] == "crashed"
    finally:
        child.kill()
        child.wait()
