"""Build tests/data/legacy-0.1.8/store.tar.gz: a project recorded by the real tmt 0.1.8.

    python tests/data/legacy-0.1.8/make_store.py

ThatMetricTimeline 0.1.8 is installed from PyPI into a venv (benchmarks/_common.old_python,
cached in benchmarks/.work/oldvenv); the runs are tests/legacy_helpers.STEPS. The project is
recorded in /tmp/tmt-legacy-0.1.8/project, so the absolute snapshot paths 0.1.8 writes
into tmt_db.json point where the unpacked copy is not: the "project moved" case. Its uuids
and times differ at every build: the tests read them from the tmt_db.json inside.
"""
from __future__ import annotations

import shutil
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

from _common import DEFAULT_WORKDIR, old_python  # noqa: E402
from legacy_helpers import GOLDEN_TAR, record_project  # noqa: E402

WORK = Path("/tmp/tmt-legacy-0.1.8")


def main() -> None:
    python = old_python(DEFAULT_WORKDIR)
    shutil.rmtree(WORK, ignore_errors=True)
    record_project(python, WORK / "project")
    shutil.rmtree(WORK / "project" / ".git")  # 0.1.8's first snapshot keeps its own copy
    with tarfile.open(GOLDEN_TAR, "w:gz") as tar:
        tar.add(WORK / "project", arcname="project")
    shutil.rmtree(WORK)
    print(f"wrote {GOLDEN_TAR} ({GOLDEN_TAR.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
