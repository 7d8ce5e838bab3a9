"""Running a training script as a user would, and reading what it recorded."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tmt.records.io import read_record, record_files

TMT = [sys.executable, "-c", "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; main()"]


def train(project: Path, source: str, *args: str, code: int = 0, tmt_run: bool = False) -> subprocess.CompletedProcess:
    """Write `source` as train.py and run it as a user would (`python train.py ARGS`, or under
    `tmt run`)."""
    (project / "train.py").write_text(textwrap.dedent(source))
    cmd = [sys.executable, "train.py", *args]
    if tmt_run:
        cmd = [*TMT, "run", "--", *cmd]
    proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=600)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr[-4000:])
    return proc


def records(project: Path) -> list:
    folder = project / ".tmt" / "experiments"
    return sorted((read_record(p) for p in record_files(folder)), key=lambda r: r.created_at)
