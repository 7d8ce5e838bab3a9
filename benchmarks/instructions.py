"""Where a decorated run's work goes, in instructions: a measure a busy machine cannot blur.

    python benchmarks/project.py --sizes 5000 --keep        # leaves run/project-5000/tmt
    python benchmarks/instructions.py benchmarks/.work/run/project-5000/tmt
    python benchmarks/instructions.py DIR --python /other/venv/bin/python   # A/B against another tmt

Wall times on a shared 2-core machine move with the load; the user-space instructions a
process executes (valgrind's callgrind `Ir`) do not. This runs, in DIR (the root of a git work
tree whose `.tmt/` store has one run already, i.e. an unchanged tree), each interpreter on:
`-c pass`, the imports of a run (with and without the interpreter's exit), the imports plus
one snapshot, and the decorated no-op `train.py`; and prints the breakdown those differences
give. Kernel work (the stat calls, fsync) is not counted: this complements the wall-time
benchmarks, it does not replace them. Needs valgrind.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

IMPORTS = ("import tmt.recorder, tmt.snapshot.build, tmt.recorder.gitinfo, tmt.recorder.env, tmt.recorder.journal, "
           "tmt.recorder.packages, tmt.snapshot.rootlock, tmt.store.pins, tmt.repo")
SNAPSHOT = "\nfrom tmt.repo import Repo\nfrom tmt.snapshot.build import snapshot_repo\n" \
           "snapshot_repo(Repo.find(), warn=lambda m: None)"
EXIT_NOW = "\nimport os\nos._exit(0)"
PROGRAMS = {
    "pass": ["-c", "pass"],
    "start": ["-c", "import os; os._exit(0)"],
    "imports": ["-c", IMPORTS],
    "imports_exit_now": ["-c", IMPORTS + EXIT_NOW],
    "imports_snapshot": ["-c", IMPORTS + SNAPSHOT],
    "dataclasses": ["-c", "import re, functools, enum, collections, dataclasses"],
    "dataclasses_base": ["-c", "import re, functools, enum, collections"],
    "run": ["train.py", "noop"],
}


def instructions(python: str, args: list[str], cwd: Path, env: dict[str, str]) -> int:
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", python, *args],
                          cwd=cwd, env=env, capture_output=True, text=True)
    m = re.search(r"Collected : (\d+)", proc.stderr)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"valgrind {python} {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return int(m.group(1))


def breakdown(ir: dict[str, int]) -> list[tuple[str, int]]:
    start, imports_exit_now = ir["start"], ir["imports_exit_now"]
    return [
        ("interpreter start (to the first line of the program)", start),
        ("imports of a run (tmt.recorder and what its start loads)", imports_exit_now - start),
        ("  of which dataclasses (+ inspect, ast, dis, tokenize)", ir["dataclasses"] - ir["dataclasses_base"]),
        ("the snapshot of the unchanged tree", ir["imports_snapshot"] - ir["imports"]),
        ("the rest of the run (store, pins, locks, env, git, records, packages)", ir["run"] - ir["imports_snapshot"]),
        ("interpreter exit with those modules loaded", ir["imports"] - imports_exit_now),
        ("  (a bare interpreter's exit)", ir["pass"] - start),
        ("whole decorated no-op run", ir["run"]),
    ]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("project", type=Path, help="a git work tree with a .tmt store and train.py (see above)")
    p.add_argument("--python", action="append", default=[],
                   help="an interpreter whose tmt to measure (repeatable); default: this repository "
                        "installed as a wheel (benchmarks/_common.installed_python)")
    p.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR)
    args = p.parse_args(argv)
    if not shutil.which("valgrind"):
        print("valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    project = args.project.resolve()
    if not (project / ".tmt").is_dir() or not (project / "train.py").is_file():
        print(f"{project} has no .tmt store or no train.py (run project.py --keep first)", file=sys.stderr)
        return 2
    pythons = args.python or [str(C.installed_python(args.workdir.resolve(), C.flush_print)[0])]
    env = C.clean_env(GIT_CEILING_DIRECTORIES=str(project.parent))
    results = {}
    for py in pythons:
        C.flush_print(f"measuring {py} in {project} ...")
        C.run_cmd([py, "train.py", "noop"], cwd=project, env=env)  # a warm stat cache, as for every later run
        results[py] = {k: instructions(py, a, project, env) for k, a in PROGRAMS.items()}
    report = C.Report(C.flush_print)
    report.title("user-space instructions (valgrind callgrind Ir, millions) of an unchanged decorated run")
    report.out(f"project {project}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for i, py in enumerate(pythons):
        report.out(f"  [{i + 1}] {py}")
    rows = {py: breakdown(ir) for py, ir in results.items()}
    labels = [label for label, _ in rows[pythons[0]]]
    report.table(["phase", *(f"[{i + 1}]" for i in range(len(pythons)))],
                 [[label] + [f"{dict(rows[py])[label] / 1e6:.1f}" for py in pythons] for label in labels])
    return 0


if __name__ == "__main__":
    sys.exit(main())
