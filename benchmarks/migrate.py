"""Migration benchmark (DESIGN section 20): a tmt 0.1.8 store of 1,000 runs imports in under 30 s.

    python benchmarks/migrate.py                  # 1,000 runs on the 300-file tree, 3 samples
    python benchmarks/migrate.py --runs 200 --repeat 1    # a quick look

The store is recorded by the real predecessor (ThatMetricTimeline 0.1.8 from PyPI, see
_common.old_python), through its own decorator, in one process (its cost per run grows with
its JSON database, so separate processes would take an hour): a git work tree holding the
benchmark's 300-file tree (with its .gitignore), one file edited before every run, two results
saved per run (a pickle and a custom_save file), metrics, and every tenth run a sub-entry
(DuplicatePolicy.AS_SUB_ENTRY) of the one before. Built once, cached in the work dir.

Timed, medians of --repeat samples (tmt's own files are deleted between samples; the legacy
files are only read, so one copy serves every sample):

| row | what |
|---|---|
| tmt migrate | the whole `tmt migrate` process, wall time and CPU time (user + sys: what a loaded machine does not inflate) |
| plain snapshot of every tree | in-process `tmt.snapshot.build.snapshot()` of each snapshot folder into a fresh store, no stat cache: what an import without the shared cache would cost (timed on --floor-sample folders spread evenly, scaled to all) |
| floor: stat-walk of every tree | an lstat of every entry of every snapshot folder |
| the predecessor | its own time per run while the store was built (for scale) |
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

STORE_FORMAT = 1  # bump when the recording below changes: cached stores are rebuilt
TMT_OUTPUTS = ("objects", "experiments", "cache", "tmp", "pins", "journal", "index.sqlite",
               "index.sqlite-wal", "index.sqlite-shm", "gc.epoch")

RECORD = r"""
import json, pickle, sys, time
from pathlib import Path
from tmt import tmt_recorder, tmt_save
from tmt.utils.duplicates import DuplicatePolicy, DuplicateStrategy

runs, changeable = int(sys.argv[1]), Path(sys.argv[2])

def save_text(obj, path):  # a custom_save, as 0.1.8 users wrote them
    with open(path, "w") as f:
        f.write(json.dumps(obj))

times = []
for i in range(runs):
    with open(changeable, "a") as f:
        f.write(f"# edit {i}\n")
    sub = i % 10 == 9
    name = f"exp-{(i - 1 if sub else i):05d}"
    policy = DuplicatePolicy.AS_SUB_ENTRY if sub else DuplicatePolicy.AS_NEW_ENTRY

    @tmt_recorder(name=name, description=f"run {i}", duplicate_strategy=DuplicateStrategy(policy))
    def train(i):
        tmt_save({"weights": list(range(i % 100, i % 100 + 500))}, "model")
        tmt_save({"epoch": i}, "summary", custom_save=save_text, extension=".json")
        return {"f1": (i % 97) / 97, "loss": 1 / (i + 1), "epochs": 10}

    t = time.perf_counter()
    train(i)
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""


def legacy_store(workdir: Path, runs: int, log) -> tuple[Path, dict]:
    """A project with a 0.1.8 store of `runs` runs (built once, cached)."""
    folder = workdir / "migrate" / f"legacy-{runs}"
    manifest = folder.parent / f"legacy-{runs}.json"
    if manifest.is_file():
        meta = json.loads(manifest.read_text())
        if meta.get("format") == STORE_FORMAT and (folder / ".tmt" / "tmt_db.json").is_file():
            return folder, meta
    old = C.old_python(workdir, log=log)
    tree = C.ensure_tree(workdir, 300, log=log)
    log(f"recording {runs:,} runs with ThatMetricTimeline 0.1.8 in {folder} (once; cached) ...")
    copy = C.work_copy(tree, folder)
    C.git_init(folder)
    t0 = time.perf_counter()
    proc = C.run_cmd([str(old), "-c", RECORD, str(runs), str(folder / copy.changeable)], cwd=folder,
                     env=C.clean_env(GIT_CEILING_DIRECTORIES=str(folder.parent)))
    times = json.loads(proc.stdout)
    meta = {"format": STORE_FORMAT, "runs": runs, "tree_files": tree.files, "tree_bytes": tree.bytes,
            "build_s": time.perf_counter() - t0, "old_first_s": times[0],
            "old_median_s": sorted(times)[len(times) // 2], "old_last_s": times[-1]}
    manifest.write_text(json.dumps(meta))
    log(f"  recorded in {meta['build_s']:.0f} s")
    return folder, meta


def clear_tmt(project: Path) -> None:
    """Delete what tmt wrote, keeping 0.1.8's files: the next sample imports everything again."""
    for name in TMT_OUTPUTS:
        path = project / ".tmt" / name
        if path.is_dir() and not path.is_symlink():
            C.rmtree(path)
        elif path.exists():
            path.unlink()


def snapshot_folders(project: Path) -> list[Path]:
    snaps = project / ".tmt" / "snapshots"
    return sorted(p for p in snaps.iterdir() if p.is_dir() and not p.is_symlink())


def plain_snapshots(folders: list[Path], scratch: Path) -> None:
    from tmt.repo import Repo
    from tmt.snapshot.build import snapshot

    C.rmtree(scratch)
    repo = Repo.init(scratch)
    for folder in folders:
        snapshot(folder, repo.store, warn=lambda m: None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--floor-sample", type=int, default=100,
                    help="plain-snapshot floor: time this many of the trees (evenly spread), scaled to all")
    ap.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR)
    args = ap.parse_args()
    report = C.Report(C.flush_print, design_section=20)
    report.title(f"tmt migrate: a ThatMetricTimeline 0.1.8 store of {args.runs:,} runs")
    C.flush_print(C.machine_line())
    C.flush_print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    project, meta = legacy_store(args.workdir, args.runs, C.flush_print)
    folders = snapshot_folders(project)
    paths = sum(1 for f in folders for _ in os.walk(f) for _ in _[2])
    C.flush_print(f"store: {meta['runs']:,} runs, {len(folders):,} snapshot folders of a "
                  f"{meta['tree_files']:,}-file tree ({C.fmt_bytes(meta['tree_bytes'])}), {paths:,} paths")

    env = C.clean_env(NO_COLOR="1")
    argv = [sys.executable, "-c", "from tmt.cli import main; main()", "migrate"]
    migrate, cpu = C.Timing(), C.Timing()
    for i in range(-1, args.repeat):  # one untimed warm-up, as C.time_cmd
        clear_tmt(project)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        C.run_cmd(argv, cwd=project, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if i >= 0:
            migrate.samples.append(wall)
            cpu.samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    out = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True)  # the last sample's report
    imported = len(os.listdir(project / ".tmt" / "experiments"))
    store_bytes = sum(f.stat().st_size for f in (project / ".tmt" / "objects").rglob("*") if f.is_file())
    sample = folders[:: max(1, len(folders) // max(1, args.floor_sample))]
    scale = len(folders) / len(sample)
    plain, _ = C.time_call(lambda: plain_snapshots(sample, args.workdir / "migrate" / "plain"), 1)
    plain.samples = [t * scale for t in plain.samples]
    C.rmtree(args.workdir / "migrate" / "plain")
    walk, _ = C.time_call(lambda: sum(C.stat_walk(f) for f in folders), args.repeat)

    report.section("timings (medians)")
    report.table(["what", "time", "per run", "ratio"], [
        ["tmt migrate (whole process)", C.fmt_s(migrate.median), C.fmt_s(migrate.median / args.runs), "1.00x"],
        ["  its CPU time (user + sys)", C.fmt_s(cpu.median), C.fmt_s(cpu.median / args.runs),
         C.fmt_x(C.ratio(cpu.median, migrate.median))],
        [f"plain snapshot of every tree (from {len(sample)})", C.fmt_s(plain.median), C.fmt_s(plain.median / args.runs),
         C.fmt_x(C.ratio(plain.median, migrate.median))],
        ["floor: stat-walk of every tree", C.fmt_s(walk.median), C.fmt_s(walk.median / args.runs),
         C.fmt_x(C.ratio(walk.median, migrate.median))],
        ["predecessor: one run (median while recording)", "", C.fmt_s(meta["old_median_s"]), ""],
    ])
    C.flush_print(f"imported {imported:,} records; objects: {C.fmt_bytes(store_bytes)} "
                  f"(the tree: {C.fmt_bytes(meta['tree_bytes'])}); tmt migrate said: {out.stdout.strip()}")
    report.target(f"tmt migrate of {args.runs:,} runs under 30 s", migrate.median < 30 if args.runs >= 1000 else None,
                  f"{C.fmt_s(migrate.median)}")
    report.summary()


if __name__ == "__main__":
    main()
