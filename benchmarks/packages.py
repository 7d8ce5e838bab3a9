#!/usr/bin/env python3
"""What recording env.packages costs a run, in a realistic data-science venv.

    python benchmarks/packages.py [--workdir DIR] [--repeat 30]

Builds (once) a venv under the work directory with numpy, pandas, scipy and scikit-learn
and this tmt installed from the repository (pip, the only network access), then, in that
venv, after `import sklearn.ensemble, sklearn.linear_model, pandas, scipy.stats` (hundreds
of modules), times (medians of --repeat, in-process):

- the floor: one pass over `sys.modules` (what any answer must at least look at);
- `importlib.metadata.packages_distributions()` (the standard library's answer, which reads
  every installed distribution's metadata on each call) plus `version()` of each hit;
- tmt's `imported_packages()` without a cache (the first run in an environment) and with its
  cache in `.tmt/cache/` (every later run) — target: under 5 ms;
- a whole no-op run with env.packages and with it stubbed out (the difference is noisy on a
  loaded machine: it includes two fsyncs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PACKAGES = ["numpy", "pandas", "scipy", "scikit-learn"]

PROBE = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
import sklearn.ensemble, sklearn.linear_model, pandas, scipy.stats, numpy
import tmt
from tmt.recorder.packages import imported_packages

repeat = int(sys.argv[1])

def median_ms(fn):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)

def floor():
    return [name for name in list(sys.modules) if "." not in name]

def stdlib():
    import importlib.metadata as md
    tops = {name.partition(".")[0] for name in list(sys.modules)}
    dists = md.packages_distributions()
    return {d: md.version(d) for top in tops for d in dists.get(top, ())}

cache = Path(tempfile.mkdtemp()) / "cache"
found = imported_packages(cache)
out = {
    "modules": len(sys.modules),
    "found": found,
    "floor_ms": median_ms(floor),
    "stdlib_ms": median_ms(stdlib),
    "uncached_ms": median_ms(lambda: imported_packages(None)),
    "cached_ms": median_ms(lambda: imported_packages(cache)),
    "stdlib_found": sorted(stdlib()),
}

# A whole no-op run, with env.packages and with it stubbed out (alternating, each run's
# background fsync drained before the next), in a store under a temporary folder.
import os
import tmt.recorder.run as rr
from tmt.recorder import flush
os.chdir(tempfile.mkdtemp())
Path("train.py").write_text("x = 1\n")
def one():
    with tmt.start_run(name="noop"):
        pass
    flush()
for _ in range(3):
    one()
real, runs = rr._packages, {"with": [], "without": []}
for i in range(repeat * 2):
    for label in (("with", "without") if i % 2 else ("without", "with")):
        rr._packages = real if label == "with" else (lambda repo: {})
        t = time.perf_counter()
        one()
        runs[label].append((time.perf_counter() - t) * 1000)
out["run_with_ms"] = statistics.median(runs["with"])
out["run_without_ms"] = statistics.median(runs["without"])
print(json.dumps(out))
"""


def ensure_venv(workdir: Path) -> Path:
    target = workdir / "pkgvenv"
    py = target / "bin" / "python"
    if not py.exists():
        print(f"creating {target} with {', '.join(PACKAGES)} (pip) ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
        subprocess.run([str(py), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    # this checkout's tmt, fresh each time (not editable: as a user installs it)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall", str(REPO)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([str(py), "-m", "pip", "install", "-q", str(REPO)], check=True, stdout=subprocess.DEVNULL)
    return py


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=HERE / ".work")
    ap.add_argument("--repeat", type=int, default=30)
    a = ap.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    py = ensure_venv(a.workdir)
    n_dists = len(list((py.parent.parent / "lib").glob("python*/site-packages/*.dist-info")))
    r = subprocess.run([str(py), "-c", PROBE, str(a.repeat)], capture_output=True, text=True, check=True,
                       cwd=a.workdir, env={k: v for k, v in os.environ.items() if not k.startswith("TMT_")})
    d = json.loads(r.stdout)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}; "
          f"medians of {a.repeat}")
    print(f"venv: {n_dists} distributions; after the imports: {d['modules']} modules in sys.modules")
    print(f"env.packages: {', '.join(f'{k} {v}' for k, v in d['found'].items())}")
    rows = [
        ("floor: one pass over sys.modules", d["floor_ms"]),
        ("importlib.metadata.packages_distributions() + version()", d["stdlib_ms"]),
        ("tmt imported_packages(), no cache (first run)", d["uncached_ms"]),
        ("tmt imported_packages(), cached (every later run)", d["cached_ms"]),
    ]
    rows += [
        ("a whole no-op run (tmt.start_run), with env.packages", d["run_with_ms"]),
        ("the same run, env.packages stubbed out", d["run_without_ms"]),
    ]
    for label, ms in rows:
        print(f"  {label:<58} {ms:8.2f} ms")
    print(f"  cached vs the standard library: {d['stdlib_ms'] / d['cached_ms']:.0f}x faster")
    verdict = "PASS" if d["cached_ms"] < 5 else "MISS"
    print(f"{verdict}: env.packages recording overhead {d['cached_ms']:.2f} ms (target < 5 ms)")
    missing = sorted(set(d["stdlib_found"]) - set(d["found"]))
    if missing:
        print(f"note: the standard library also names {', '.join(missing)}")


if __name__ == "__main__":
    main()
