"""Snapshot benchmark: tmt vs the floor (stat-walk, read+BLAKE3), git and the predecessor.

    python benchmarks/snapshot.py                     # 300, 3,000 and 20,000 files
    python benchmarks/snapshot.py --quick             # 300 and 3,000 files, fewer samples
    python benchmarks/snapshot.py --sizes 20000 --profile

For every tree size, in one run: first snapshot (fresh store each sample; in-process and a
whole `python -c` process), unchanged snapshot (in-process, whole process), one file changed
(in-process); the floors; `git add -A && git commit` (first, unchanged, one file changed);
the predecessor (ThatMetricTimeline 0.1.8, a decorated no-op run from the tree root: first
and unchanged); store growth per unchanged run and after many unchanged runs. Prints
medians, ratios and PASS/MISS lines for DESIGN section 9's targets. See benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common as C  # noqa: E402

from tmt import __version__ as TMT_VERSION  # noqa: E402
from tmt.repo import Repo  # noqa: E402
from tmt.snapshot.build import snapshot_repo  # noqa: E402
from tmt.snapshot.tree import decode_tree  # noqa: E402

HAVE_RECORDER = importlib.util.find_spec("tmt.recorder") is not None

PY = sys.executable
IMPORTS_ONLY = "import tmt; from tmt.repo import Repo; from tmt.snapshot.build import snapshot_repo"
SNAP_FIRST = IMPORTS_ONLY + "; snapshot_repo(Repo.init('.'))"
SNAP_UNCHANGED = IMPORTS_ONLY + "; snapshot_repo(Repo.find())"
GROWTH_TARGET_RUNS = 50


@dataclass
class SizeResult:
    n: int
    tree: C.Tree
    t: dict[str, C.Timing] = field(default_factory=dict)
    info: dict[str, object] = field(default_factory=dict)


def quiet(_msg: str) -> None:
    pass


def bench_size(n: int, args: argparse.Namespace, report: C.Report, old_py: Path) -> SizeResult:
    R, RF = args.repeat, args.first_repeat
    log = C.flush_print
    tree = C.ensure_tree(args.workdir, n, log)
    res = SizeResult(n, tree)
    run_dir = args.workdir / "run" / f"tree-{n}"
    # Git must not find an enclosing repository (the work dir may sit inside a clone of tmt).
    env = C.clean_env(GIT_CEILING_DIRECTORIES=str(run_dir))
    os.environ["GIT_CEILING_DIRECTORIES"] = str(run_dir)  # in-process tmt, for the same reason
    log(f"[{n}] copying the tree for tmt, git and the predecessor ...")
    tt = C.work_copy(tree, run_dir / "tmt")
    tg = C.work_copy(tree, run_dir / "git")
    to = C.work_copy(tree, run_dir / "old")
    tmt_dir = tt.path / ".tmt"
    t = res.t

    # -- floors ----------------------------------------------------------------------------
    log(f"[{n}] floors ...")
    t["walk"], walked = C.time_call(lambda: C.stat_walk(tt.path), R)
    paths = C.list_files(tt.path)
    t["hash"], hashed_bytes = C.time_call(lambda: C.read_and_hash(paths), R)
    res.info["walked"] = walked
    assert hashed_bytes == tree.bytes, (hashed_bytes, tree.bytes)
    t["py"] = C.time_cmd([PY, "-c", "pass"], R, env=env)
    t["imports"] = C.time_cmd([PY, "-c", IMPORTS_ONLY], R, env=env)

    # -- tmt: first snapshot (fresh store every sample) -------------------------------------
    log(f"[{n}] tmt first snapshot ...")

    def fresh(_i: int) -> None:
        C.rmtree(tmt_dir)
        C.drop_dirty_pages()

    warnings: list[str] = []
    t["tmt_first_in"], first = C.time_call(
        lambda: snapshot_repo(Repo.init(tt.path), warn=warnings.append), RF, setup=fresh, warmup=False
    )
    res.info["first"] = first
    res.info["warnings"] = warnings[:3]
    t["tmt_first_py"] = C.time_cmd([PY, "-c", SNAP_FIRST], RF, cwd=tt.path, env=env, setup=fresh, warmup=False)

    # -- tmt: unchanged ----------------------------------------------------------------------
    log(f"[{n}] tmt unchanged ...")
    # In-process samples are cheap: take many, alternating with the stat-walk floor so that
    # machine noise hits both alike (the floor measured above is replaced by these samples).
    t["tmt_unch_in"], t["walk"] = C.Timing(note="warm cache"), C.Timing(note="warm cache")
    unch = snapshot_repo(Repo(tmt_dir), warn=quiet)
    C.stat_walk(tt.path)
    for _ in range(max(R, 21)):
        t0 = time.perf_counter()
        unch = snapshot_repo(Repo(tmt_dir), warn=quiet)
        t1 = time.perf_counter()
        C.stat_walk(tt.path)
        t2 = time.perf_counter()
        t["tmt_unch_in"].samples.append(t1 - t0)
        t["walk"].samples.append(t2 - t1)
    res.info["unchanged"] = unch
    t["tmt_unch_py"] = C.time_cmd([PY, "-c", SNAP_UNCHANGED], R, cwd=tt.path, env=env)
    if HAVE_RECORDER:
        t["tmt_noop_py"] = C.time_cmd(
            lambda i: [PY, "-c", C.NOOP_RUN, f"noop-{i}"], R, cwd=tt.path, env=env
        )

    if args.profile and n == max(args.sizes):
        res.info["profile"] = profile_unchanged(tmt_dir)

    # -- tmt: one file changed -----------------------------------------------------------------
    log(f"[{n}] tmt one file changed ...")
    t["tmt_one_in"], one = C.time_call(
        lambda: snapshot_repo(Repo(tmt_dir), warn=quiet), R, setup=lambda i: C.change_one_file(tt, i)
    )
    res.info["one"] = one

    # -- tmt: store growth -------------------------------------------------------------------------
    log(f"[{n}] tmt store growth ...")
    res.info["growth"] = tmt_growth(tt, env)
    res.info["after"] = tmt_after_runs(tt, env, args.growth_runs)

    # -- git ------------------------------------------------------------------------------------------
    log(f"[{n}] git ...")

    def fresh_git(_i: int) -> None:
        C.git_init(tg.path)
        C.drop_dirty_pages()

    t["git_first"] = C.time_cmd(C.GIT_COMMIT, RF, cwd=tg.path, env=env, setup=fresh_git, warmup=False)
    t["git_unch"] = C.time_cmd(C.GIT_COMMIT_EMPTY, R, cwd=tg.path, env=env)
    t["git_one"] = C.time_cmd(C.GIT_COMMIT, R, cwd=tg.path, env=env, setup=lambda i: C.change_one_file(tg, i))

    # -- the predecessor ---------------------------------------------------------------------------------
    log(f"[{n}] predecessor ...")
    old_tmt = to.path / ".tmt"

    def fresh_old(_i: int) -> None:
        C.rmtree(old_tmt)
        C.drop_dirty_pages()

    def old_run(tag: str):
        return lambda i: [str(old_py), "-c", C.NOOP_RUN, f"{tag}-{i}-{time.time_ns()}"]

    t["old_first"] = C.time_cmd(old_run("first"), RF, cwd=to.path, env=env, setup=fresh_old, warmup=False)
    t["old_unch"] = C.time_cmd(old_run("unchanged"), R, cwd=to.path, env=env)
    old_runs = args.old_growth_runs if args.old_growth_runs else args.growth_runs
    if n >= 20_000 and args.old_growth_runs_20k:
        old_runs = args.old_growth_runs_20k
    res.info["old_after"] = old_after_runs(to, old_py, env, old_runs, args.growth_runs)

    if not args.keep:
        log(f"[{n}] removing the work copies ...")
        C.rmtree(run_dir)
    return res


def profile_unchanged(tmt_dir: Path, calls: int = 5) -> str:
    prof = cProfile.Profile()
    snapshot_repo(Repo(tmt_dir), warn=quiet)  # warm
    prof.enable()
    for _ in range(calls):
        snapshot_repo(Repo(tmt_dir), warn=quiet)
    prof.disable()
    out = io.StringIO()
    out.write(f"cProfile of {calls} unchanged in-process snapshots (totals over all calls)\n")
    st = pstats.Stats(prof, stream=out)
    st.strip_dirs()
    out.write("\n-- by cumulative time --\n")
    st.sort_stats("cumulative").print_stats(15)
    out.write("\n-- by self (tottime) --\n")
    st.sort_stats("tottime").print_stats(15)
    return out.getvalue()


# -- store growth ------------------------------------------------------------------------------------


def _unchanged_run(tree: C.Tree, env: dict[str, str], i: int) -> None:
    """One run on an unchanged tree: a decorated no-op run when tmt has its recorder, else a
    snapshot (trees only: no record exists to write)."""
    if HAVE_RECORDER:
        C.run_cmd([PY, "-c", C.NOOP_RUN, f"growth-{i}"], cwd=tree.path, env=env)
    else:
        snapshot_repo(Repo(tree.path / ".tmt"), warn=quiet)


def tmt_growth(tree: C.Tree, env: dict[str, str]) -> dict[str, object]:
    tmt_dir = tree.path / ".tmt"
    time.sleep(0.25)  # let the last edit leave the racily-clean window
    for i in range(2):  # settle: the edited file is re-hashed once and cached
        _unchanged_run(tree, env, -1 - i)
    objs0 = C.object_files(tmt_dir / "objects")
    recs0 = C.dir_files(tmt_dir / "experiments")
    all0 = C.usage(tmt_dir)
    _unchanged_run(tree, env, 0)
    objs1 = C.object_files(tmt_dir / "objects")
    recs1 = C.dir_files(tmt_dir / "experiments")
    all1 = C.usage(tmt_dir)
    store = Repo(tmt_dir).store
    new = [o for o in objs1 if o not in objs0]
    blobs = trees = 0
    for oid in new:
        try:
            decode_tree(store.get(oid))
            trees += 1
        except Exception:
            blobs += 1
    new_obj_bytes = sum(objs1[o] for o in new)
    rec_bytes = sum(s for name, s in recs1.items() if recs0.get(name) != s)
    return {
        "new_blobs": blobs,
        "new_trees": trees,
        "obj_bytes": new_obj_bytes,
        "records": len(set(recs1) - set(recs0)),
        "rec_bytes": rec_bytes,
        "total": new_obj_bytes + rec_bytes,
        "tmt_dir_delta": (all1 - all0).apparent,
        "with_record": HAVE_RECORDER,
    }


def tmt_after_runs(tree: C.Tree, env: dict[str, str], runs: int) -> dict[str, object]:
    """A fresh store, `runs` runs of the unchanged tree; its size against one copy of the tree."""
    tmt_dir = tree.path / ".tmt"
    C.rmtree(tmt_dir)
    Repo.init(tree.path)  # so the recorder cannot pick another root
    t0 = time.perf_counter()
    for i in range(runs):
        _unchanged_run(tree, env, i)
    elapsed = time.perf_counter() - t0
    u = C.usage(tmt_dir)
    objs = C.object_files(tmt_dir / "objects")
    return {
        "runs": runs,
        "files_bytes": _regular_bytes(tmt_dir),
        "du": u.apparent,
        "paths": u.paths,
        "objects": len(objs),
        "objects_bytes": sum(objs.values()),
        "seconds": elapsed,
    }


def _regular_bytes(root: Path) -> int:
    total = 0
    seen = set()
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


def old_after_runs(tree: C.Tree, old_py: Path, env: dict[str, str], runs: int, target: int) -> dict[str, object]:
    """The predecessor's .tmt after `runs` runs; extrapolated linearly to `target` runs if fewer."""
    old_tmt = tree.path / ".tmt"
    C.rmtree(old_tmt)
    first = None
    t0 = time.perf_counter()
    for i in range(runs):
        C.run_cmd([str(old_py), "-c", C.NOOP_RUN, f"growth-{i}"], cwd=tree.path, env=env)
        if i == 0:
            first = C.usage(old_tmt)
    elapsed = time.perf_counter() - t0
    u = C.usage(old_tmt)
    out = {"runs": runs, "du": u.apparent, "linked": u.linked, "paths": u.paths, "seconds": elapsed}
    if runs < target and runs >= 2 and first is not None:
        k = (target - 1) / (runs - 1)
        out["extrapolated"] = {
            "runs": target,
            "du": first.apparent + (u.apparent - first.apparent) * k,
            "linked": first.linked + (u.linked - first.linked) * k,
            "paths": first.paths + (u.paths - first.paths) * k,
        }
    return out


# -- output ------------------------------------------------------------------------------------------


def print_results(results: list[SizeResult], report: C.Report, args: argparse.Namespace) -> None:
    cols = [f"{r.n:,} files" for r in results]
    noop = HAVE_RECORDER

    def row(label: str, key: str) -> list[str]:
        return [label] + [C.fmt_s(r.t[key].median) if key in r.t else "n/a" for r in results]

    report.section("trees")
    report.table(
        ["tree", *cols],
        [
            ["files (as snapshotted by tmt)"] + [f"{r.info['first'].files:,}" for r in results],
            ["bytes"] + [C.fmt_bytes(r.tree.bytes) for r in results],
            ["directory entries walked"] + [f"{r.info['walked']:,}" for r in results],
        ],
    )

    report.section(
        f"median wall time ({args.repeat} samples; unchanged in-process and stat-walk: "
        f"{max(args.repeat, 21)}, alternating; first runs: {args.first_repeat}; "
        "warm page cache)"
    )
    rows = [
        row("floor: stat-walk, in-process", "walk"),
        row("floor: read + BLAKE3, 1 thread", "hash"),
        row("python -c pass", "py"),
        row("python -c <import tmt snapshot>", "imports"),
        row("tmt first snapshot, in-process", "tmt_first_in"),
        row("tmt first snapshot, python -c", "tmt_first_py"),
        row("predecessor first run, python -c", "old_first"),
        row("git add -A && commit, first", "git_first"),
        row("tmt unchanged, in-process", "tmt_unch_in"),
        row("tmt unchanged, python -c snapshot", "tmt_unch_py"),
    ]
    if noop:
        rows.append(row("tmt unchanged, decorated no-op run", "tmt_noop_py"))
    rows += [
        row("predecessor unchanged, no-op run", "old_unch"),
        row("git add -A && commit, unchanged", "git_unch"),
        row("tmt one file changed, in-process", "tmt_one_in"),
        row("git add -A && commit, 1 changed", "git_one"),
    ]
    report.table(["measure", *cols], rows)

    tmt_whole = "tmt_noop_py" if noop else "tmt_unch_py"
    whole_label = "no-op run" if noop else "python -c snapshot"

    def rat(a: str, b: str, r: SizeResult) -> float:
        return C.ratio(r.t[a].median, r.t[b].median)

    report.section("ratios (same run)")
    report.table(
        ["ratio", *cols],
        [
            ["tmt unchanged in-process / stat-walk"] + [C.fmt_x(rat("tmt_unch_in", "walk", r)) for r in results],
            [f"tmt unchanged {whole_label} / git unchanged"]
            + [C.fmt_x(rat(tmt_whole, "git_unch", r)) for r in results],
            ["tmt unchanged python -c / git unchanged"]
            + [C.fmt_x(rat("tmt_unch_py", "git_unch", r)) for r in results],
            [f"predecessor unchanged / tmt {whole_label}"]
            + [C.fmt_x(rat("old_unch", tmt_whole, r)) for r in results],
            ["tmt first python -c / predecessor first"]
            + [C.fmt_x(rat("tmt_first_py", "old_first", r)) for r in results],
            ["tmt first in-process / read+BLAKE3"] + [C.fmt_x(rat("tmt_first_in", "hash", r)) for r in results],
            ["tmt first python -c / git first"] + [C.fmt_x(rat("tmt_first_py", "git_first", r)) for r in results],
            ["tmt one changed in-process / stat-walk"]
            + [C.fmt_x(rat("tmt_one_in", "walk", r)) for r in results],
            ["tmt one changed in-process / git 1 changed"]
            + [C.fmt_x(rat("tmt_one_in", "git_one", r)) for r in results],
            ["interpreter start share of tmt python -c"]
            + [f"{100 * rat('py', 'tmt_unch_py', r):.0f}%" for r in results],
        ],
    )

    report.section("store growth")
    g_rows = []
    for r in results:
        g = r.info["growth"]
        a = r.info["after"]
        o = r.info["old_after"]
        tree_bytes = r.tree.bytes
        line = [
            f"{r.n:,}",
            f"{g['new_blobs']}/{g['new_trees']}",
            C.fmt_bytes(g["obj_bytes"]),
            C.fmt_bytes(g["rec_bytes"]) if g["with_record"] else "(no recorder)",
            f"{a['runs']}: {C.fmt_bytes(a['files_bytes'])} ({C.fmt_x(a['files_bytes'] / tree_bytes)})",
            f"{C.fmt_bytes(a['du'])} ({C.fmt_x(a['du'] / tree_bytes)})",
            f"{o['runs']}: {C.fmt_bytes(o['du'])}, {C.fmt_bytes(o['linked'])}, {o['paths']:,}",
        ]
        g_rows.append(line)
    report.table(
        [
            "tree",
            "+blobs/+trees",
            "+objects",
            "+record",
            "tmt after N runs: file bytes",
            "du -b",
            "predecessor after N: du -b, sum over links, paths",
        ],
        g_rows,
    )
    for r in results:
        o = r.info["old_after"]
        if "extrapolated" in o:
            e = o["extrapolated"]
            report.out(
                f"  predecessor at {r.n:,} files EXTRAPOLATED linearly from {o['runs']} to {e['runs']} runs: "
                f"du -b {C.fmt_bytes(e['du'])}, sum over links {C.fmt_bytes(e['linked'])}, {e['paths']:,.0f} paths"
            )
    if not HAVE_RECORDER:
        report.out(
            "  (tmt.recorder does not exist yet: growth is measured for trees only, with in-process "
            "snapshot_repo; no record is written)"
        )
    report.out(
        "  tmt 'file bytes' = regular files under .tmt (objects, records, stat cache); 'du -b' adds "
        "directory entries (256 fan-out dirs alone are ~1 MiB)"
    )

    report.section("first snapshot details")
    for r in results:
        f = r.info["first"]
        o = r.info["one"]
        u = r.info["unchanged"]
        report.out(
            f"  {r.n:,}: first: {f.files:,} files, {C.fmt_bytes(f.bytes)}, {f.new_objects:,} new objects "
            f"({C.fmt_bytes(f.new_bytes)}), hashed {f.hashed:,}; unchanged: hashed {u.hashed}, new objects "
            f"{u.new_objects}; one changed: hashed {o.hashed}, new objects {o.new_objects}"
            + (f"; warnings: {r.info['warnings']}" if r.info["warnings"] else "")
        )


def judge(results: list[SizeResult], report: C.Report) -> None:
    noop = HAVE_RECORDER
    tmt_whole = "tmt_noop_py" if noop else "tmt_unch_py"
    for r in results:
        t = r.t
        x = C.ratio(t["tmt_unch_in"].median, t["walk"].median)
        report.target(
            f"{r.n:,}: unchanged in-process within 1.5x of a stat-walk",
            x <= 1.5,
            f"{C.fmt_s(t['tmt_unch_in'].median)} vs {C.fmt_s(t['walk'].median)} = {C.fmt_x(x)}",
        )
    for r in results:
        t = r.t
        x = C.ratio(t["old_unch"].median, t[tmt_whole].median)
        report.target(
            f"{r.n:,}: unchanged run at least 3x faster than the predecessor",
            x >= 3,
            f"predecessor {C.fmt_s(t['old_unch'].median)} vs tmt "
            f"{'no-op run' if noop else 'python -c snapshot'} {C.fmt_s(t[tmt_whole].median)} = {C.fmt_x(x)}",
        )
    big = [r for r in results if r.n >= 20_000]
    if not big:
        report.target("20k: whole python -c faster than git add -A && commit", None, "20,000 not in --sizes")
        report.target("20k: first snapshot no slower than the predecessor's first run", None, "20,000 not in --sizes")
    for r in big:
        t = r.t
        report.target(
            f"{r.n:,}: whole python -c unchanged faster than git add -A && commit",
            t["tmt_unch_py"].median < t["git_unch"].median,
            f"tmt {C.fmt_s(t['tmt_unch_py'].median)} vs git {C.fmt_s(t['git_unch'].median)}"
            + (f"; decorated no-op run {C.fmt_s(t['tmt_noop_py'].median)}" if noop else ""),
        )
        report.target(
            f"{r.n:,}: first snapshot no slower than the predecessor's first run",
            t["tmt_first_py"].median <= t["old_first"].median,
            f"tmt python -c {C.fmt_s(t['tmt_first_py'].median)} (in-process {C.fmt_s(t['tmt_first_in'].median)})"
            f" vs predecessor {C.fmt_s(t['old_first'].median)}",
        )
    for r in results:
        g = r.info["growth"]
        ok = g["new_blobs"] == 0 and g["total"] < 4096
        what = "record + trees" if g["with_record"] else "trees only (no recorder yet)"
        report.target(
            f"{r.n:,}: unchanged run adds no blob and < 4 KiB",
            ok,
            f"{g['new_blobs']} blobs, {g['new_trees']} trees, {g['total']} B ({what})",
        )
    for r in results:
        a = r.info["after"]
        x = a["files_bytes"] / r.tree.bytes
        report.target(
            f"{r.n:,}: store after {a['runs']} unchanged runs within 1.05x of one copy",
            x <= 1.05 if a["runs"] >= GROWTH_TARGET_RUNS else None,
            f"{C.fmt_bytes(a['files_bytes'])} vs {C.fmt_bytes(r.tree.bytes)} = {C.fmt_x(x)}"
            + ("" if a["runs"] >= GROWTH_TARGET_RUNS else f" (only {a['runs']} runs: not judged)"),
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="300,3000,20000", help="tree sizes in files (default 300,3000,20000)")
    p.add_argument("--repeat", type=int, default=5, help="samples per fast measurement (median; default 5)")
    p.add_argument("--first-repeat", type=int, default=3, help="samples per first-snapshot measurement (default 3)")
    p.add_argument("--growth-runs", type=int, default=GROWTH_TARGET_RUNS, help="unchanged runs for store size")
    p.add_argument("--old-growth-runs", type=int, default=0, help="predecessor runs for its store size (default: --growth-runs)")
    p.add_argument(
        "--old-growth-runs-20k", type=int, default=0, help="fewer predecessor runs at >= 20k files (extrapolated)"
    )
    p.add_argument("--quick", action="store_true", help="300 and 3,000 files, 3 samples, 1 first run, 10 growth runs")
    p.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR, help="trees, copies, the predecessor's venv")
    p.add_argument("--keep", action="store_true", help="keep the work copies after each size")
    p.add_argument("--profile", action="store_true", help="cProfile unchanged snapshots at the largest size")
    args = p.parse_args(argv)
    if args.quick:
        if args.sizes == p.get_default("sizes"):
            args.sizes = "300,3000"
        args.repeat = min(args.repeat, 3)
        args.first_repeat = 1
        args.growth_runs = min(args.growth_runs, 10)
    args.sizes = sorted(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",") if s.strip())
    args.workdir = args.workdir.resolve()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    report = C.Report(C.flush_print)
    old_py = C.old_python(args.workdir, C.flush_print)
    report.title(f"tmt {TMT_VERSION} snapshot benchmark")
    report.out(f"machine: {C.machine_line()}")
    report.out(f"tmt code: {C.source_state()}")
    report.out(f"tmt: {PY}; predecessor: ThatMetricTimeline {C.OLD_VERSION} via {old_py}")
    report.out(
        "tmt whole-process unchanged run: "
        + ("decorated no-op run (tmt.recorder present)" if HAVE_RECORDER else
           "python -c snapshot_repo(Repo.find()) (tmt.recorder not present yet)")
    )
    report.out(f"work dir: {args.workdir}")
    results = []
    t0 = time.perf_counter()
    for n in args.sizes:
        results.append(bench_size(n, args, report, old_py))
    print_results(results, report, args)
    judge(results, report)
    report.summary()
    report.out(f"(benchmark took {time.perf_counter() - t0:.0f} s)")
    for r in results:
        if "profile" in r.info:
            report.section(f"profile: unchanged in-process snapshot, {r.n:,} files")
            report.out(r.info["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
