"""Recording in a real project: tmt against git, the stat-walk floor and the predecessor.

    python benchmarks/project.py                      # 5,000 and 20,000 files kept
    python benchmarks/project.py --sizes 5000 --repeat 5
    python benchmarks/project.py --sizes 20000 --profile

DESIGN section 20's first target, measured where a researcher pays it: the root of a git
work tree with nested .gitignore files and ignored clutter (.venv, __pycache__, build/,
data/, results/, node_modules; benchmarks/_project_tree.py builds it). Each tool works in its
own copy of the same tree, made a git repository with everything committed:

- whole process: `python train.py` (a decorated no-op run) with tmt and with the predecessor
  (ThatMetricTimeline 0.1.8), `git add -A && git commit` and `python -c pass`, the tree
  unchanged; then the same with one tracked file edited before every sample;
- in-process: tmt's snapshot (and the git metadata a run records) against the stat-walk
  floor (list every kept folder, lstat every kept file) and a full stat-walk (clutter too).

Samples alternate between the rows of a table (one of each per round), so a load change on a
shared machine hits every row alike; medians of wall and CPU time (user + system, the
children's for whole processes) are printed with the load average, then ratios and
PASS/MISS lines. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # not the repository: the interpreter's tmt is measured

import _common as C  # noqa: E402
import _project_tree as P  # noqa: E402

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot_repo
else:  # imported by main(), once this runs under the interpreter whose tmt is measured
    Repo = snapshot_repo = None

PY = sys.executable
#: Set (to what is measured) in the benchmark re-started under the installed venv's interpreter.
MEASURED_ENV = "TMT_BENCH_MEASURED"
TARGET_WHOLE = 1.0  # unchanged decorated run / git add -A && commit, whole process
TARGET_IN = 1.3  # unchanged in-process snapshot / stat-walk of what is kept


def git_state_fn() -> tuple[str, Callable[[Path, object], object]]:
    """How this tmt reads the git metadata a run records (the function and its label)."""
    try:
        from tmt.recorder.gitinfo import git_state

        return "tmt git metadata (from .git files)", lambda root, snap, repo: git_state(
            root, snap, cache_dir=repo.cache_dir, tmp_dir=repo.tmp_dir)
    except ImportError:  # tmt before issue 12: a `git status` process
        from tmt.recorder.env import GitProbe

        return "tmt git metadata (git status)", lambda root, snap, repo: GitProbe(root).result()


@dataclass
class Row:
    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @staticmethod
    def _median(xs: list[float]) -> float:
        return C.Timing(sorted(xs)).median

    @property
    def w(self) -> float:
        return self._median(self.wall)

    @property
    def c(self) -> float:
        return self._median(self.cpu)


@dataclass
class SizeResult:
    name: str  # "5,000 files", or a real project's folder name
    project: P.Project
    rows: dict[str, Row] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _own_cpu() -> float:
    return time.process_time()


def run_process(argv: list[str] | str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU of the child and its children) of one whole process."""
    c0 = _child_cpu()
    t0 = time.perf_counter()
    C.run_cmd(argv, cwd=cwd, env=env)
    t1 = time.perf_counter()
    return t1 - t0, _child_cpu() - c0


def run_inprocess(fn: Callable[[], object]) -> tuple[float, float]:
    c0 = _own_cpu()
    t0 = time.perf_counter()
    fn()
    t1 = time.perf_counter()
    return t1 - t0, _own_cpu() - c0


def alternate(rows: dict[str, Row], samples: dict[str, Callable[[], tuple[float, float]]], repeat: int,
              warmup: int = 1) -> None:
    """`repeat` rounds, one sample of every row per round (after `warmup` untimed rounds)."""
    for i in range(-warmup, repeat):
        for key, sample in samples.items():
            wall, cpu = sample()
            if i >= 0:
                rows[key].wall.append(wall)
                rows[key].cpu.append(cpu)


def make_repo(path: Path, env: dict[str, str]) -> None:
    """`path` as a git work tree with everything committed (untimed)."""
    C.git_init(path)
    C.run_cmd(C.GIT_COMMIT, cwd=path, env=env)


def kept_walk_sets(project: Path, env: dict[str, str]) -> tuple[set[bytes], set[bytes]]:
    """(folders, files) git keeps in `project`, absolute: what the floor walk visits."""
    out = C.run_cmd(["git", "ls-files", "-z"], cwd=project, env=env).stdout
    root = os.fsencode(project)
    files = {root + b"/" + p for p in out.split(b"\0") if p}
    dirs = {root}
    for f in files:
        d = os.path.dirname(f)
        while d not in dirs:
            dirs.add(d)
            d = os.path.dirname(d)
    return dirs, files


def kept_stat_walk(root: bytes, dirs: set[bytes], files: set[bytes]) -> int:
    """The floor of an unchanged snapshot: list every folder git keeps, lstat every kept file."""
    stack = [root]
    n = 0
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                p = e.path
                if p in dirs:
                    stack.append(p)
                elif p in files:
                    e.stat(follow_symlinks=False)
                    n += 1
    return n


def quiet(_msg: str) -> None:
    pass


# The floor of any recorder written in Python, as a whole process: start the interpreter,
# read the list of what is kept (as a stat cache would be read), stat every kept folder and
# lstat every kept file, pack the keys, write two small records (each fsynced, then renamed).
# With "2" the stat calls are split over this process and one forked child, as git's
# preloaded index splits them over threads. tmt does all this and more; no Python tool can
# do less and still know the tree is unchanged.
MINIMAL_RECORDER = """\
import os, sys
import msgpack
listing, procs, out = sys.argv[1], sys.argv[2], sys.argv[3]
with open(listing, "rb") as f:
    files = f.read().split(b"\\0")[:-1]
dirs = sorted({os.path.dirname(p) or b"." for p in files})
def keys(fs, ds):
    for d in ds:
        os.stat(d)
    return [(s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino) for s in map(os.lstat, fs)]
if procs == "2":
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.write(w, msgpack.packb(keys(files[len(files) // 2:], dirs[len(dirs) // 2:])))
        finally:
            os._exit(0)
    os.close(w)
    mine = keys(files[:len(files) // 2], dirs[:len(dirs) // 2])
    chunks = []
    while chunk := os.read(r, 1 << 20):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    found = mine + msgpack.unpackb(b"".join(chunks))
else:
    found = keys(files, dirs)
for i in range(2):
    tmp = f"{out}.{i}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.write(fd, msgpack.packb({"files": len(found), "run": i}))
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, f"{out}.{i}")
"""


def bench_size(project: P.Project, name: str, with_old: bool, args: argparse.Namespace,
               old_py: Path) -> SizeResult:
    log = C.flush_print
    n = name
    res = SizeResult(name, project)
    res.info["load_start"] = os.getloadavg()
    run_dir = args.workdir / "run" / project.path.name
    env = C.clean_env(GIT_CEILING_DIRECTORIES=str(run_dir))
    os.environ["GIT_CEILING_DIRECTORIES"] = str(run_dir)  # in-process tmt, for the same reason
    log(f"[{n}] copying the project for tmt, git{' and the predecessor' if with_old else ''}; committing each ...")
    copies = {}
    for tool in ("tmt", "git", "old") if with_old else ("tmt", "git"):
        copies[tool] = C.work_copy(C.Tree(project.path, project.files, project.bytes, project.changeable),
                                   run_dir / tool)
        make_repo(copies[tool].path, env)
    tt, tg, to = copies["tmt"], copies["git"], copies.get("old")
    Repo.init(tt.path)
    C.run_cmd([PY, "train.py", "first"], cwd=tt.path, env=env)  # the first run: store made, cache written
    if with_old:
        log(f"[{n}] the predecessor's first run (it copies the tree) ...")
        C.run_cmd([str(old_py), "train.py", f"first-{time.time_ns()}"], cwd=to.path, env=env)
    time.sleep(0.25)  # out of the racily-clean window of the files just written
    rows = res.rows

    def row(key: str, label: str) -> None:
        rows[key] = Row(label)

    # -- in-process, unchanged ------------------------------------------------------------------
    log(f"[{n}] in-process, unchanged ...")
    dirs, files = kept_walk_sets(tt.path, env)
    res.info["kept_git"] = len(files)
    root_b = os.fsencode(tt.path)
    git_label, git_state = git_state_fn()
    tmt_dir = tt.path / ".tmt"
    snap = snapshot_repo(Repo(tmt_dir), warn=quiet)
    res.info["tmt_files"] = snap.files
    for key, label in (("floor", "floor: stat-walk of what is kept"), ("full", "full stat-walk (clutter too)"),
                       ("snap", "tmt snapshot, unchanged"), ("snap_git", f"tmt snapshot + {git_label[4:]}")):
        row(key, label)
    holder: dict[str, object] = {}

    def snap_and_git() -> None:
        repo = Repo(tmt_dir)
        s = snapshot_repo(repo, warn=quiet)
        holder["git"] = git_state(tt.path, s, repo)

    alternate(rows, {
        "floor": lambda: run_inprocess(lambda: kept_stat_walk(root_b, dirs, files)),
        "full": lambda: run_inprocess(lambda: C.stat_walk(tt.path)),
        "snap": lambda: run_inprocess(lambda: snapshot_repo(Repo(tmt_dir), warn=quiet)),
        "snap_git": lambda: run_inprocess(snap_and_git),
    }, args.in_repeat)
    res.info["git_unchanged"] = holder.get("git")

    # -- whole process, unchanged -------------------------------------------------------------------
    log(f"[{n}] whole process, unchanged ...")
    for key, label in (("py", "python -c pass"), ("min1", "floor: a minimal Python recorder"),
                       ("min2", "floor: a minimal Python recorder, 2 processes"),
                       ("tmt", "tmt: python train.py (decorated no-op)"),
                       ("git", "git add -A && git commit"), ("old", "predecessor: python train.py")):
        row(key, label)
    counter = iter(range(10**9))
    listing = run_dir / "kept-files"
    prefix = len(root_b) + 1
    listing.write_bytes(b"".join(f[prefix:] + b"\0" for f in sorted(files)))
    minimal = [PY, "-c", MINIMAL_RECORDER, str(listing)]
    floor_out = str(run_dir / "minimal-record")
    samples = {
        "py": lambda: run_process([PY, "-c", "pass"], tt.path, env),
        "min1": lambda: run_process([*minimal, "1", floor_out], tt.path, env),
        "min2": lambda: run_process([*minimal, "2", floor_out], tt.path, env),
        "tmt": lambda: run_process([PY, "train.py", "noop"], tt.path, env),
        "git": lambda: run_process(C.GIT_COMMIT_EMPTY, tg.path, env),
        "old": lambda: run_process([str(old_py), "train.py", f"noop-{next(counter)}"], to.path, env),
    }
    if not with_old:
        del samples["old"]
    alternate(rows, samples, args.repeat)
    res.info["load_unchanged"] = os.getloadavg()
    log(f"[{n}] where an unchanged run's time goes ...")
    res.info["breakdown"] = breakdown(tt.path, env, args.repeat, rows["py"].w)

    if args.profile:
        res.info["profile"] = profile(tt.path, tmt_dir, git_state, env)

    # -- one file changed ---------------------------------------------------------------------------------
    log(f"[{n}] one file changed ...")
    for key, label in (("snap1", "tmt snapshot, in-process"), ("tmt1", "tmt: python train.py"),
                       ("git1", "git add -A && git commit"), ("old1", "predecessor: python train.py")):
        row(key, label)
    edits = iter(range(10**9))

    def edited(tree: C.Tree, sample: Callable[[], tuple[float, float]]) -> Callable[[], tuple[float, float]]:
        def go() -> tuple[float, float]:
            C.change_one_file(tree, next(edits))
            return sample()
        return go

    samples = {
        "snap1": edited(tt, lambda: run_inprocess(lambda: snapshot_repo(Repo(tmt_dir), warn=quiet))),
        "tmt1": edited(tt, lambda: run_process([PY, "train.py", "noop"], tt.path, env)),
        "git1": edited(tg, lambda: run_process(C.GIT_COMMIT, tg.path, env)),
    }
    if with_old:
        samples["old1"] = edited(to, lambda: run_process([str(old_py), "train.py", f"one-{next(counter)}"],
                                                         to.path, env))
    alternate(rows, samples, args.repeat)
    repo = Repo(tmt_dir)
    res.info["git_changed"] = git_state(tt.path, snapshot_repo(repo, warn=quiet), repo)
    res.info["load_end"] = os.getloadavg()

    if not args.keep:
        log(f"[{n}] removing the work copies ...")
        C.rmtree(run_dir)
    return res


# One decorated no-op run that times its own phases (perf_counter, ms) and prints them as JSON:
# the modules a run loads (tmt.recorder, then what its start imports), the snapshot, the git
# metadata, the two record writes, the rest of the run, and the durability drain at exit.
BREAKDOWN_RUN = """\
import time
t0 = time.perf_counter()
import tmt.recorder
import tmt.recorder.run as rr
for m in ("tmt.snapshot.build", "tmt.recorder.gitinfo", "tmt.recorder.env", "tmt.recorder.journal",
          "tmt.recorder.packages", "tmt.snapshot.rootlock", "tmt.store.pins", "tmt.repo", "tmt.records.model"):
    __import__(m)
import sys, json
t1 = time.perf_counter()
spent = {"snapshot": 0.0, "git": 0.0, "publish": 0.0}
def timed(mod, name, key):
    f = getattr(mod, name)
    def w(*a, **k):
        t = time.perf_counter()
        try:
            return f(*a, **k)
        finally:
            spent[key] += time.perf_counter() - t
    setattr(mod, name, w)
timed(sys.modules["tmt.snapshot.build"], "snapshot_repo", "snapshot")
timed(sys.modules["tmt.recorder.gitinfo"], "git_state", "git")
timed(rr, "publish", "publish")
@tmt.recorder(name="noop")
def run():
    return {}
t2 = time.perf_counter()
run()
t3 = time.perf_counter()
tmt.recorder.flush()
t4 = time.perf_counter()
print(json.dumps({"imports": t1 - t0, "run": t3 - t2, "drain": t4 - t3, "in_script": t4 - t0, **spent}))
"""


def breakdown(root: Path, env: dict[str, str], repeat: int, python_start: float) -> list[tuple[str, float]]:
    """Medians of an unchanged whole run's phases: interpreter start (the `python -c pass`
    row), imports, snapshot, git metadata, record writes, the rest of the run, the drain of
    the background fsync, and interpreter exit (what the whole process took beyond all that)."""
    import json

    samples: dict[str, list[float]] = {}
    for i in range(-1, repeat):
        t0 = time.perf_counter()
        out = C.run_cmd([PY, "-c", BREAKDOWN_RUN], cwd=root, env=env).stdout
        whole = time.perf_counter() - t0
        if i < 0:
            continue
        d = json.loads(out)
        parts = {
            "imports": d["imports"], "snapshot": d["snapshot"], "git": d["git"], "publish": d["publish"],
            "rest": d["run"] - d["snapshot"] - d["git"] - d["publish"], "drain": d["drain"],
            "exit": whole - d["in_script"] - python_start, "whole": whole,
        }
        for k, v in parts.items():
            samples.setdefault(k, []).append(v)
    labels = {
        "imports": "imports: tmt.recorder + the modules a run's start loads",
        "snapshot": "snapshot (in the run's process)",
        "git": "git metadata (from .git files)",
        "publish": "the two record writes (each fsynced, then renamed)",
        "rest": "the rest of the run: store, pins, root lock, env, packages, journal",
        "drain": "durability drain at exit (folder fsync)",
        "exit": "interpreter exit (whole process - python -c pass - the above)",
        "whole": "whole process (this instrumented run)",
    }
    med = {k: C.Timing(sorted(v)).median for k, v in samples.items()}
    return [("interpreter start (python -c pass row)", python_start)] + [(labels[k], med[k]) for k in labels]


def profile(root: Path, tmt_dir: Path, git_state, env: dict[str, str]) -> str:
    out = io.StringIO()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(5):
        repo = Repo(tmt_dir)
        git_state(root, snapshot_repo(repo, warn=quiet), repo)
    prof.disable()
    out.write("cProfile of 5 unchanged in-process snapshots + git metadata (totals)\n")
    st = pstats.Stats(prof, stream=out)
    st.strip_dirs()
    st.sort_stats("tottime").print_stats(15)
    proc = subprocess.run([PY, "-X", "importtime", "train.py", "noop"], cwd=root, env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("import time:") and "|" in ln]
    parsed = []
    for ln in lines:
        self_us, cum_us, name = (x.strip() for x in ln[len("import time:"):].split("|"))
        if self_us.isdigit():  # not the header line
            parsed.append((int(self_us), int(cum_us), name))
    total = sum(s for s, _, _ in parsed)
    out.write(f"\n-X importtime of the decorated no-op run: {len(parsed)} modules, {total / 1000:.1f} ms "
              "(self times summed); the 15 slowest by self time:\n")
    for s, c, name in sorted(parsed, reverse=True)[:15]:
        out.write(f"  {s / 1000:7.2f} ms self {c / 1000:8.2f} ms cumulative  {name}\n")
    return out.getvalue()


# -- output ---------------------------------------------------------------------------------------------


def _load(t: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.1f}" for x in t)


def print_results(results: list[SizeResult], report: C.Report, args: argparse.Namespace) -> None:
    cols = [r.name for r in results]
    report.section("projects")
    report.table(["project", *cols], [
        ["files kept (git ls-files)"] + [f"{r.info['kept_git']:,}" for r in results],
        ["files kept (tmt's snapshot)"] + [f"{r.info['tmt_files']:,}" for r in results],
        ["files in the tree (clutter too)"] + [f"{r.project.files:,}" for r in results],
        ["bytes kept"] + [C.fmt_bytes(r.project.bytes) for r in results],
        ["load average at start / end"] + [f"{_load(r.info['load_start'])} / {_load(r.info['load_end'])}"
                                           for r in results],
    ])

    def cell(r: SizeResult, k: str) -> str:
        row = r.rows.get(k)
        return f"{C.fmt_s(row.w)} / {C.fmt_s(row.c)}" if row and row.wall else "-"

    def table(title: str, keys: list[str], samples: int) -> None:
        report.section(f"{title} (median of {samples}; wall / CPU)")
        report.table(["measure", *cols], [
            [next(r.rows[k].label for r in results if k in r.rows)] + [cell(r, k) for r in results]
            for k in keys if any(k in r.rows for r in results)
        ])

    table("in-process, unchanged", ["floor", "full", "snap", "snap_git"], args.in_repeat)
    table("whole process, unchanged", ["py", "min1", "min2", "tmt", "git", "old"], args.repeat)
    table("one tracked file changed before every sample", ["snap1", "tmt1", "git1", "old1"], args.repeat)

    def rat(r: SizeResult, a: str, b: str) -> str:
        ra, rb = r.rows.get(a), r.rows.get(b)
        if not (ra and rb and ra.wall and rb.wall):
            return "-"
        return f"{C.fmt_x(C.ratio(ra.w, rb.w))} ({C.fmt_x(C.ratio(ra.c, rb.c))})"

    report.section("ratios (same run; wall, CPU in brackets)")
    report.table(["ratio", *cols], [
        [label] + [rat(r, a, b) for r in results]
        for label, a, b in (
            ("unchanged run / git commit (target <= 1.0x)", "tmt", "git"),
            ("minimal Python recorder / git commit", "min1", "git"),
            ("minimal Python recorder, 2 processes / git commit", "min2", "git"),
            ("unchanged run / minimal Python recorder, 2 processes", "tmt", "min2"),
            ("unchanged snapshot / stat-walk floor (target <= 1.3x)", "snap", "floor"),
            ("unchanged snapshot + git metadata / floor", "snap_git", "floor"),
            ("predecessor / tmt, unchanged run", "old", "tmt"),
            ("one changed: run / git commit", "tmt1", "git1"),
            ("one changed: predecessor / tmt", "old1", "tmt1"),
            ("one changed: snapshot / floor", "snap1", "floor"),
        )
    ])
    for r in results:
        report.out(f"  {r.name}: git metadata recorded, unchanged: {r.info['git_unchanged']}; "
                   f"one changed: {r.info['git_changed']}")
    report.section(f"where an unchanged decorated run's time goes (median of {args.repeat}; wall)")
    report.table(["phase", *cols], [
        [label] + [C.fmt_s(dict(r.info["breakdown"])[label]) for r in results]
        for label, _ in results[0].info["breakdown"]
    ])


def judge(results: list[SizeResult], report: C.Report) -> None:
    for r in results:
        t, g = r.rows["tmt"], r.rows["git"]
        x = C.ratio(t.w, g.w)
        report.target(f"{r.name}: unchanged decorated run <= {TARGET_WHOLE}x git add -A && commit, whole process",
                      x <= TARGET_WHOLE,
                      f"{C.fmt_s(t.w)} vs {C.fmt_s(g.w)} = {C.fmt_x(x)} (CPU {C.fmt_s(t.c)} vs {C.fmt_s(g.c)})")
    for r in results:
        s, f = r.rows["snap"], r.rows["floor"]
        x = C.ratio(s.w, f.w)
        report.target(f"{r.name}: unchanged in-process snapshot <= {TARGET_IN}x the stat-walk floor",
                      x <= TARGET_IN,
                      f"{C.fmt_s(s.w)} vs {C.fmt_s(f.w)} = {C.fmt_x(x)} (CPU {C.fmt_s(s.c)} vs {C.fmt_s(f.c)})")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="5000,20000", help="files kept (default 5000,20000)")
    p.add_argument("--repeat", type=int, default=7, help="rounds of whole-process samples (default 7)")
    p.add_argument("--in-repeat", type=int, default=21, help="rounds of in-process samples (default 21)")
    p.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR, help="projects, copies, the predecessor")
    p.add_argument("--old-sizes", default="5000",
                   help="sizes at which the predecessor is measured too (default 5000: its first run copies "
                        "the whole tree, minutes at 20,000 files; 'all' for every size)")
    p.add_argument("--project", type=Path, action="append", default=[],
                   help="also measure this real project (a folder, e.g. a git clone; copied without its .git, "
                        "the benchmark's train.py added at its root); repeatable; --sizes '' for only these")
    p.add_argument("--keep", action="store_true", help="keep the work copies")
    p.add_argument("--profile", action="store_true", help="cProfile in-process, -X importtime of a run")
    p.add_argument("--interpreter", choices=("installed", "current"), default="installed",
                   help="whose tmt is measured: 'installed' (default) a venv under the workdir with a wheel "
                        "of this repository, as users install it; 'current' the running interpreter's "
                        "(an editable install pays ~20 ms more per process start)")
    args = p.parse_args(argv)
    args.sizes = sorted(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip())
    args.workdir = args.workdir.resolve()
    args.old_sizes_all = args.old_sizes == "all"
    args.old_sizes = (set(args.sizes) if args.old_sizes == "all" else
                      {int(s.replace("_", "")) for s in args.old_sizes.split(",") if s.strip()})
    return args


def use_installed_tmt(args: argparse.Namespace, argv: list[str]) -> str:
    """What is measured. By default tmt as users have it: this script starts again under the
    interpreter of a venv holding a wheel of this repository (C.installed_python), so the
    `python -c pass`, tmt and in-process rows all run that install."""
    if args.interpreter == "current":
        return f"the running interpreter's tmt ({PY})"
    measured = os.environ.get(MEASURED_ENV)
    if measured:
        return measured
    py, label = C.installed_python(args.workdir, C.flush_print)
    os.environ[MEASURED_ENV] = label
    os.execv(py, [str(py), str(Path(__file__).resolve()), *argv])
    raise AssertionError("unreachable")


def main(argv: list[str] | None = None) -> int:
    global Repo, snapshot_repo
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    measured = use_installed_tmt(args, argv)
    from tmt import __version__ as tmt_version
    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot_repo

    report = C.Report(C.flush_print, design_section=20)
    old_py = C.old_python(args.workdir, C.flush_print)
    report.title(f"tmt {tmt_version}: recording in a real project")
    report.out(f"machine: {C.machine_line()}; load average {_load(os.getloadavg())}")
    report.out(f"tmt code: {C.source_state()}")
    report.out(f"tmt measured: {measured}; interpreter {PY}")
    report.out(f"predecessor: ThatMetricTimeline {C.OLD_VERSION} via {old_py}")
    results = []
    t0 = time.perf_counter()
    projects = [(P.ensure_project(args.workdir, n, C.flush_print), f"{n:,} files", n in args.old_sizes)
                for n in args.sizes]
    projects += [(P.from_work_tree(path, args.workdir, C.flush_print), path.resolve().name, args.old_sizes_all)
                 for path in args.project]
    for project, name, with_old in projects:
        results.append(bench_size(project, name, with_old, args, old_py))
        if len(projects) > 1:  # so far, in case a later size is stopped
            print_results(results[-1:], report, args)
    print_results(results, report, args)
    judge(results, report)
    report.summary()
    report.out(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
    for r in results:
        if "profile" in r.info:
            report.section(f"profile, {r.name}")
            report.out(r.info["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
