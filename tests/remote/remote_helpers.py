"""Helpers of the remote tests: projects with real runs, the real tmt command, store contents."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def make_project(root: Path) -> Path:
    """A project folder as a researcher has one: git, .gitignore, a venv-like folder, data/."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("data/\nresults/\n*.log\n")
    (root / "train.py").write_text("import sys\nprint('train', sys.argv)\n")
    (root / "pkg").mkdir(exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "model.py").write_text("def f(x):\n    return 2 * x\n")
    (root / "data").mkdir(exist_ok=True)
    (root / "data" / "big.bin").write_bytes(os.urandom(1000))
    return root


RECORD_SCRIPT = r"""
import os, sys, tmt
name, n = sys.argv[1], int(sys.argv[2])
with tmt.start_run(name=name, params={"lr": 0.1, "n": n}) as run:
    for step in range(5):
        run.log({"loss": 1.0 / (step + 1 + n)}, step=step)
    run.save({"weights": list(range(n + 3))}, name="weights")
    run.save(os.urandom(200_000), name="blob", format="pickle")
    run.metrics["f1"] = 0.5 + n / 100
"""


def record(project: Path, name: str = "train", n: int = 0, *, env: dict[str, str] | None = None) -> str:
    """Record one run in `project` with a real process; return its id."""
    out = subprocess.run([sys.executable, "-c", RECORD_SCRIPT + "\nprint(run.id)\n", name, str(n)], cwd=project,
                         capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def tmt_cmd(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300,
            check: bool = True) -> subprocess.CompletedProcess:
    """The real `tmt` command (python -m tmt.cli's entry point) in `cwd`."""
    cmd = [sys.executable, "-c", "from tmt.cli import main; main()", *args]
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env={**os.environ, **(env or {})},
                         timeout=timeout)
    if check:
        assert out.returncode == 0, f"tmt {' '.join(args)} -> {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def store_files(tmt_dir: Path) -> dict[str, bytes]:
    """Every object and record of a store, by relative path: what a round trip must keep."""
    out = {}
    for sub in ("objects", "experiments"):
        base = tmt_dir / sub
        for p in sorted(base.rglob("*")):
            if p.is_file():
                out[str(p.relative_to(tmt_dir))] = p.read_bytes()
    return out


def error_lines(result) -> list[str]:
    """The `Error:` and `hint:` lines of a CLI result."""
    return [line for line in result.output.splitlines() if line.startswith(("Error:", "hint:"))]
