"""Recording benchmark: the cost of recording a run, tmt vs the predecessor, and vs store size.

    /work/venv/bin/python benchmarks/record.py            # full: up to 100,000 stored runs
    /work/venv/bin/python benchmarks/record.py --quick    # up to 20,000 stored runs, fewer samples

Measured in one go, on a 300-file project copied from the sources of installed packages:

1. In-process overhead of a decorated no-op (`@tmt_recorder` around `return {"x": 1.0}`),
   minus the same call undecorated: the median of many back-to-back runs (so background
   fsyncs of one run compete with the next: the unflattering case), against the predecessor
   (ThatMetricTimeline 0.1.8 in /work/oldvenv, its own copy of the project).
2. Whole process: `python -c` that imports tmt, decorates and calls the no-op once, against
   the predecessor and the interpreter's floor (`python -c pass`).
3. Cost of one more run when the store already holds 10, 1,000 and 100,000 runs (records
   written directly as files), and the predecessor at 10, 1,000 and 10,000 runs (its JSON db
   written directly: it reads and rewrites that whole file on every run).

Prints medians, ratios and PASS/MISS lines for the issue's targets (in-process overhead under
20 ms, at least 5x less than the predecessor, flat from 10 to 100,000 runs).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NEW_PY = sys.executable
OLD_PY = "/work/oldvenv/bin/python"
SOURCE_PACKAGES = ("pip", "rich", "click", "hypothesis", "pathspec")

# Runs with either tmt: both accept these imports and this strategy (the predecessor refuses
# a repeated name by default).
CHILD = r"""
import json, statistics, sys, time
t_import = time.perf_counter()
from tmt import tmt_recorder
from tmt.utils.duplicates import DuplicateStrategy, DuplicatePolicy
t_import = time.perf_counter() - t_import

@tmt_recorder(name="noop", duplicate_strategy=DuplicateStrategy(policy=DuplicatePolicy.AS_NEW_ENTRY))
def noop():
    return {"x": 1.0}

def plain():
    return {"x": 1.0}

n, warm = int(sys.argv[1]), int(sys.argv[2])
for _ in range(warm):
    noop()
rec, base = [], []
for _ in range(n):
    t = time.perf_counter(); noop(); rec.append(time.perf_counter() - t)
    t = time.perf_counter(); plain(); base.append(time.perf_counter() - t)
print(json.dumps({"rec": rec, "base": base, "import": t_import}))
"""

ONE_RUN = (
    "from tmt import tmt_recorder\n"
    "from tmt.utils.duplicates import DuplicateStrategy, DuplicatePolicy\n"
    "@tmt_recorder(name='noop', duplicate_strategy=DuplicateStrategy(policy=DuplicatePolicy.AS_NEW_ENTRY))\n"
    "def noop():\n    return {'x': 1.0}\n"
    "noop()\n"
)


def site_packages(python: str) -> Path:
    out = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    )
    return Path(out.stdout.strip())


def make_project(dest: Path, n_files: int = 300) -> int:
    """`n_files` .py files (sorted, deterministic) from installed packages' sources."""
    src = site_packages(NEW_PY)
    files: list[Path] = []
    for pkg in SOURCE_PACKAGES:
        for d, dirs, names in os.walk(src / pkg):
            dirs[:] = sorted(x for x in dirs if x != "__pycache__")
            files.extend(Path(d) / n for n in sorted(names) if n.endswith(".py"))
    files = sorted(files)[:n_files]
    for f in files:
        target = dest / f.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, target)
    return len(files)


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMT_", "PYTHON"))}
    return env


def run_child(python: str, cwd: Path, n: int, warm: int) -> dict:
    out = subprocess.run(
        [python, "-c", CHILD, str(n), str(warm)], cwd=cwd, capture_output=True, text=True, env=clean_env()
    )
    if out.returncode != 0:
        raise SystemExit(f"benchmark child failed ({python} in {cwd}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def overhead(result: dict) -> float:
    return statistics.median(result["rec"]) - statistics.median(result["base"])


def whole_process(python: str, cwd: Path, code: str, n: int) -> float:
    times = []
    for i in range(n + 1):
        t = time.perf_counter()
        subprocess.run([python, "-c", code], cwd=cwd, check=True, capture_output=True, env=clean_env())
        if i:  # the first is a warm-up
            times.append(time.perf_counter() - t)
    return statistics.median(times)


# -- generated stores -----------------------------------------------------------------------


def fill_new_store(project: Path, upto: int, state: dict) -> None:
    """Add records (written directly, no fsync: test data) until the store holds `upto`."""
    sys.path.insert(0, str(REPO_ROOT))
    from tmt.records.io import record_bytes, record_path
    from tmt.records.model import Record, new_run_id
    from tmt.repo import Repo

    repo = Repo.init(project)
    tree = state.setdefault("tree", "0" * 64)
    have = len(os.listdir(repo.experiments_dir))
    base = time.time() - 365 * 86400
    for i in range(have, upto):
        ts = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(base + i))
        rec = Record(
            id=new_run_id(), name=f"gen_{i % 50}", status="completed", created_at=ts, finished_at=ts,
            duration_s=12.5, tags=["gen"], code={"root": ".", "tree": tree, "files": 300, "bytes": 4_000_000,
                                                 "git": None},
            params={"lr": 0.001 * (i % 10), "C": i % 7, "solver": "lbfgs"},
            metrics={"f1": (i % 100) / 100, "accuracy": (i % 97) / 97},
            env={"argv": ["train.py"], "cwd": ".", "python": "3.11.7", "platform": "Linux", "host": "gen",
                 "user": "bench", "pid": 1},
        )
        with open(record_path(repo.experiments_dir, rec.id), "wb") as f:
            f.write(record_bytes(rec))


def fill_old_db(project: Path, upto: int) -> None:
    """The predecessor's .tmt/tmt_db.json with `upto` entries (its own schema)."""
    db = project / ".tmt" / "tmt_db.json"
    data = json.loads(db.read_text()) if db.exists() else {"data": []}
    now = int(time.time()) - 365 * 86400
    while len(data["data"]) < upto:
        i = len(data["data"])
        eid = str(uuid.UUID(int=i + 1))
        data["data"].append({
            "id": eid, "name": f"gen_{i % 50}", "args": "train.py", "date_created": now + i,
            "local_results_path": ".tmt/results", "local_snapshot_path": f"{project}/.tmt/snapshots/{eid}",
            "description": "", "date_saved": now + i + 12,
            "metrics": [{"entry_id": eid, "name": "f1", "value": (i % 100) / 100},
                        {"entry_id": eid, "name": "accuracy", "value": (i % 97) / 97}],
            "other_runs": [], "results": [], "version": "0.1.8",
        })
    db.write_text(json.dumps(data))


# -- report ---------------------------------------------------------------------------------


def ms(x: float) -> str:
    return f"{x * 1000:8.2f} ms"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer samples, up to 20,000 stored runs")
    ap.add_argument("--workdir", type=Path, help="where to build projects (default: a temp folder)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args(argv)
    if not Path(OLD_PY).exists():
        raise SystemExit(f"the predecessor's interpreter {OLD_PY} is missing")
    n_new, n_old, n_proc = (15, 8, 3) if args.quick else (40, 15, 7)
    sizes_new = (10, 1_000, 20_000) if args.quick else (10, 1_000, 100_000)
    sizes_old = (10, 1_000, 10_000)

    work = args.workdir or Path(tempfile.mkdtemp(prefix="tmt-bench-record-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        template = work / "template"
        if not template.exists():
            count = make_project(template)
        else:
            count = sum(1 for _ in template.rglob("*.py"))
        print(f"project: {count} files from {', '.join(SOURCE_PACKAGES)} sources; "
              f"tmt {NEW_PY}, predecessor {OLD_PY}")
        projects = {}
        for key in ("new", "old"):
            projects[key] = work / key
            shutil.rmtree(projects[key], ignore_errors=True)
            shutil.copytree(template, projects[key], copy_function=shutil.copy2)

        rounds = 3 if args.quick else 5
        print(f"\n1. in-process overhead of a decorated no-op (median of back-to-back runs, unchanged tree;"
              f"\n   {rounds} interleaved rounds so machine noise hits both tools alike)")
        new_s: dict = {"rec": [], "base": [], "import": []}
        old_s: dict = {"rec": [], "base": [], "import": []}
        for _ in range(rounds):
            for samples, py, proj, n in ((new_s, NEW_PY, projects["new"], n_new), (old_s, OLD_PY, projects["old"], n_old)):
                r = run_child(py, proj, n, warm=2)
                samples["rec"] += r["rec"]
                samples["base"] += r["base"]
                samples["import"].append(r["import"])
        new_oh, old_oh = overhead(new_s), overhead(old_s)
        print(f"   tmt          {ms(new_oh)}   (min {ms(min(new_s['rec']))}, n={len(new_s['rec'])})")
        print(f"   predecessor  {ms(old_oh)}   (min {ms(min(old_s['rec']))}, n={len(old_s['rec'])})")
        print(f"   ratio        {old_oh / new_oh:8.1f}x less with tmt")

        print("\n2. whole process: python -c 'import tmt; decorated no-op once' (median)")
        floor = whole_process(NEW_PY, projects["new"], "pass", n_proc)
        new_p = whole_process(NEW_PY, projects["new"], ONE_RUN, n_proc)
        old_p = whole_process(OLD_PY, projects["old"], ONE_RUN, n_proc)
        print(f"   python -c pass {ms(floor)}")
        print(f"   tmt            {ms(new_p)}   (of which importing tmt {ms(statistics.median(new_s['import']))})")
        print(f"   predecessor    {ms(old_p)}   (of which importing tmt {ms(statistics.median(old_s['import']))})")
        print(f"   ratio          {old_p / new_p:8.1f}x faster with tmt "
              f"({(old_p - floor) / max(new_p - floor, 1e-9):.1f}x less above the interpreter floor)")

        print("\n3. one more run with N runs already in the store (in-process, median, interleaved rounds)")
        state: dict = {}
        new_stores = {}
        for size in sizes_new:
            proj = new_stores[size] = work / f"new_{size}"
            shutil.rmtree(proj, ignore_errors=True)
            shutil.copytree(template, proj, copy_function=shutil.copy2)
            t = time.perf_counter()
            fill_new_store(proj, size, state)
            print(f"   (tmt store with {size:,} runs written in {time.perf_counter() - t:.1f} s)")
        old_stores = {}
        for size in sizes_old:
            proj = old_stores[size] = work / f"old_{size}"
            shutil.rmtree(proj, ignore_errors=True)
            shutil.copytree(template, proj, copy_function=shutil.copy2)
            run_child(OLD_PY, proj, 1, warm=0)  # its .tmt, db and first snapshot
            fill_old_db(proj, size)
        scale_new = {size: {"rec": [], "base": []} for size in sizes_new}
        scale_old = {size: {"rec": [], "base": []} for size in sizes_old}
        for _ in range(rounds):
            for size in sizes_new:
                r = run_child(NEW_PY, new_stores[size], max(5, n_new // 2), warm=1)
                scale_new[size]["rec"] += r["rec"]
                scale_new[size]["base"] += r["base"]
        for size in sizes_old:  # the predecessor grows its db as it runs: few samples, one round
            r = run_child(OLD_PY, old_stores[size], 3 if size >= 5000 else 5, warm=1)
            scale_old[size] = r
        for size in sizes_new:
            print(f"   tmt          {size:>7,} runs {ms(overhead(scale_new[size]))}")
        for size in sizes_old:
            print(f"   predecessor  {size:>7,} runs {ms(overhead(scale_old[size]))}")
        first, last = overhead(scale_new[sizes_new[0]]), overhead(scale_new[sizes_new[-1]])
        flat = last / first
        old_growth = overhead(scale_old[sizes_old[-1]]) / overhead(scale_old[sizes_old[0]])
        print(f"   tmt {sizes_new[-1]:,} vs {sizes_new[0]} runs: {flat:.2f}x; "
              f"predecessor {sizes_old[-1]:,} vs {sizes_old[0]} runs: {old_growth:.1f}x")

        print("\ntargets")
        print(f"   {verdict(new_oh < 0.020)} in-process overhead under 20 ms: {new_oh * 1000:.2f} ms")
        print(f"   {verdict(old_oh / new_oh >= 5)} at least 5x less than the predecessor: {old_oh / new_oh:.1f}x")
        print(f"   {verdict(flat < 1.5)} flat from {sizes_new[0]} to {sizes_new[-1]:,} runs "
              f"(under 1.5x): {flat:.2f}x")
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
