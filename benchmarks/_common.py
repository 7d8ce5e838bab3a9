"""Shared benchmark helpers: realistic code trees, median timings, the predecessor, git, floors, tables.

Every benchmark in this folder runs with the interpreter that has tmt installed (e.g.
`/work/venv/bin/python benchmarks/snapshot.py`). Nothing here is imported by tmt itself.

- Trees: `ensure_tree(workdir, n_files)` builds (once, then cached) a deterministic code tree
  of about `n_files` files and `n_files * 15 kB` bytes from the sources of the running
  interpreter's standard library and installed packages (offline; .pyc/__pycache__ left out;
  a few larger binary/data files up to 8 MiB so that the 20,000-file tree weighs ~300 MB like
  DESIGN's). `work_copy(tree, dest)` makes a fresh real copy (mtimes kept) for one tool.
- Timing: `time_call` (in-process, perf_counter) and `time_cmd` (whole process) return a
  `Timing` of N samples after one untimed warm-up (so: warm page cache), with an optional
  untimed `setup` before every sample.
- The predecessor: `old_python(workdir)` gives an interpreter that imports
  ThatMetricTimeline 0.1.8 (`/work/oldvenv`, else a venv it creates and pip-installs into).
- tmt as users have it: `installed_python(workdir)` gives a venv's interpreter with this
  repository pip-installed as a wheel (not editable), rebuilt when the sources change.
- Floors: `stat_walk`, `read_and_hash`, `list_files`.
- Output: `fmt_s`, `fmt_bytes`, `ratio`, `Report` (sections of rows, PASS/MISS target lines).
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import stat as statmod
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
DEFAULT_WORKDIR = HERE / ".work"

OLD_VERSION = "0.1.8"
OLD_VENV_CANDIDATES = (Path("/work/oldvenv/bin/python"),)
SKIP_NAMES = frozenset((b".tmt", b".git"))  # what tmt always leaves out; floors skip them too

TREE_FORMAT = 3  # bump when the selection below changes: cached trees are rebuilt
BYTES_PER_FILE = 15_000  # 20,000 files -> ~300 MB, the size DESIGN's anchors were measured on
BIG_FILE = 256 * 1024  # files from here up are "data/binary" picked to reach the byte budget
MAX_FILE = 8 * 1024 * 1024  # below tmt's default 10 MiB limit: every file is snapshotted
GITIGNORE = b"__pycache__/\n*.pyc\n*.egg-info/\n/build/\n/dist/\n.tmt/\n"


# -- environment -------------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for child processes: no TMT_*/GIT_* leaking in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TMT_", "GIT_", "PYTHON"))}
    env.update(extra)
    return env


def machine_line() -> str:
    try:
        git = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        git = "git: not found"
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {git}"
    )


def source_state() -> str:
    """The tmt code being measured: commit, and whether the working tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--untracked-files=no", "--", "tmt"],
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown (git not found)"
    if not head:
        return "unknown (not a git checkout)"
    return f"{head}" + (" + uncommitted changes under tmt/" if dirty else "")


def drop_dirty_pages() -> None:
    """Flush dirty pages so one sample's writes are not paid by the next sample."""
    if hasattr(os, "sync"):
        os.sync()


def rmtree(path: Path) -> None:
    """Remove a tree even where tmt/the predecessor made files or directories read-only."""
    if not os.path.lexists(path):
        return

    def onerror(func, p, exc_info):  # noqa: ANN001
        parent = os.path.dirname(p)
        try:
            os.chmod(parent, 0o755)
            if not os.path.islink(p):
                os.chmod(p, 0o755)
        except OSError:
            pass
        func(p)

    shutil.rmtree(path, onerror=onerror)


# -- trees ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tree:
    path: Path
    files: int
    bytes: int
    changeable: str  # a mid-sized .py file (relative path) the "one file changed" runs edit

    @property
    def label(self) -> str:
        return f"{self.files:,} files, {fmt_bytes(self.bytes)}"


def source_roots() -> list[tuple[str, Path]]:
    """Where tree content comes from: the stdlib (with the base interpreter's site-packages
    below it when there is one) and this environment's site-packages."""
    import sysconfig

    paths = sysconfig.get_paths()
    roots: list[tuple[str, Path]] = []
    seen: list[Path] = []
    for label, key in (("stdlib", "stdlib"), ("venv", "purelib"), ("venv-plat", "platlib")):
        p = Path(paths[key]).resolve()
        if not p.is_dir() or any(p == s or s in p.parents for s in seen):
            continue
        roots.append((label, p))
        seen.append(p)
    return roots


def _candidates() -> tuple[dict[str, list[tuple[str, Path, int]]], list[tuple[str, Path, int]]]:
    """(units: top-level package -> its small files, big files), paths relative to the tree."""
    units: dict[str, list[tuple[str, Path, int]]] = {}
    big: list[tuple[str, Path, int]] = []
    for label, root in source_roots():
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(
                d for d in dirnames if d not in ("__pycache__", ".git", ".tmt") and not d.endswith(".egg-info")
            )
            rel_dir = os.path.relpath(dirpath, root)
            for name in sorted(filenames):
                if name.endswith((".pyc", ".pyo")):
                    continue
                src = Path(dirpath, name)
                try:
                    st = src.lstat()
                except OSError:
                    continue
                if not statmod.S_ISREG(st.st_mode) or st.st_size > MAX_FILE or not os.access(src, os.R_OK):
                    continue
                rel = os.path.normpath(os.path.join(label, rel_dir, name))
                parts = rel.split(os.sep)
                unit = "/".join(parts[:2])
                # the base interpreter's site-packages below the stdlib: one unit per package
                if len(parts) > 2 and parts[1] == "site-packages":
                    unit = "/".join(parts[:3])
                item = (rel, src, st.st_size)
                if st.st_size >= BIG_FILE:
                    big.append(item)
                else:
                    units.setdefault(unit, []).append(item)
    return units, big


def _key(s: str) -> str:
    """A deterministic shuffle key (stable across runs and machines)."""
    from blake3 import blake3

    return blake3(f"tmt-bench:{s}".encode()).hexdigest()


def select_files(n_files: int) -> list[tuple[str, Path, int]]:
    """Pick about `n_files` files totalling about n_files * BYTES_PER_FILE bytes.

    Whole packages (in a fixed pseudo-random order) give the tree a realistic shape; big
    binary/data files are added first as needed to reach the byte budget.
    """
    units, big = _candidates()
    n_small_total = sum(len(v) for v in units.values())
    small_avg = sum(s for v in units.values() for _, _, s in v) / max(1, n_small_total)
    budget = n_files * BYTES_PER_FILE
    chosen: list[tuple[str, Path, int]] = []
    big_bytes = 0
    for item in sorted(big, key=lambda it: _key(it[0])):
        if big_bytes + small_avg * (n_files - len(chosen)) >= budget or len(chosen) >= n_files // 10:
            break
        chosen.append(item)
        big_bytes += item[2]
    want_small = n_files - 1 - len(chosen)  # -1: the .gitignore at the root
    for unit in sorted(units, key=_key):
        if want_small <= 0:
            break
        files = units[unit][:want_small]
        chosen.extend(files)
        want_small -= len(files)
    return sorted(chosen)


def ensure_tree(workdir: Path, n_files: int, log: Callable[[str], None] = print) -> Tree:
    """The cached tree of about `n_files` files under workdir/trees/, built if needed."""
    base = workdir / "trees"
    dest = base / f"tree-{n_files}"
    manifest = base / f"tree-{n_files}.json"
    if dest.is_dir() and manifest.is_file():
        meta = json.loads(manifest.read_text())
        if meta.get("format") == TREE_FORMAT:
            return Tree(dest, meta["files"], meta["bytes"], meta["changeable"])
    log(f"building the {n_files:,}-file tree under {dest} (once; cached) ...")
    t0 = time.perf_counter()
    chosen = select_files(n_files)
    partial = base / f"tree-{n_files}.partial"
    rmtree(partial)
    rmtree(dest)
    partial.mkdir(parents=True)
    total = 0
    for rel, src, _ in chosen:
        target = partial / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        os.chmod(target, 0o644 | (0o111 if os.stat(src).st_mode & 0o100 else 0))
        total += target.stat().st_size
    (partial / ".gitignore").write_bytes(GITIGNORE)
    total += len(GITIGNORE)
    # a mid-sized python file deep in the tree, for the "one file changed" runs
    py = [(rel, size) for rel, _, size in chosen if rel.endswith(".py") and 2_000 <= size <= 30_000]
    changeable = sorted(py, key=lambda it: _key(it[0]))[0][0] if py else chosen[0][0]
    os.rename(partial, dest)
    meta = {"format": TREE_FORMAT, "files": len(chosen) + 1, "bytes": total, "changeable": changeable}
    manifest.write_text(json.dumps(meta))
    log(f"  built in {time.perf_counter() - t0:.1f} s: {meta['files']:,} files, {fmt_bytes(total)}")
    return Tree(dest, meta["files"], total, changeable)


def work_copy(tree: Tree, dest: Path) -> Tree:
    """A fresh real copy of `tree` (mtimes kept, new inodes) for one tool to work in."""
    rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(tree.path, dest, symlinks=True)
    return Tree(dest, tree.files, tree.bytes, tree.changeable)


def change_one_file(tree: Tree, i: int) -> None:
    """Append a distinct comment line to the tree's changeable file (a real edit)."""
    with open(tree.path / tree.changeable, "ab") as f:
        f.write(f"# benchmark edit {i} {time.time_ns()}\n".encode())


# -- timing ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Timing:
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        s = sorted(self.samples)
        n = len(s)
        if not n:
            return float("nan")
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2

    @property
    def min(self) -> float:
        return min(self.samples) if self.samples else float("nan")

    def __str__(self) -> str:
        return fmt_s(self.median)


def time_call(
    fn: Callable[[], object],
    repeat: int,
    *,
    setup: Callable[[int], object] | None = None,
    warmup: bool = True,
) -> tuple[Timing, object]:
    """Median-of-`repeat` in-process timing of fn(); returns (timing, last result).

    `setup(i)` runs untimed before every call (i = -1 for the warm-up).
    """
    t = Timing(note="warm cache" if warmup else "")
    result = None
    for i in range(-1 if warmup else 0, repeat):
        if setup is not None:
            setup(i)
        t0 = time.perf_counter()
        result = fn()
        dt = time.perf_counter() - t0
        if i >= 0:
            t.samples.append(dt)
    return t, result


def run_cmd(
    argv: Sequence[str] | str, *, cwd: Path | None = None, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        argv,
        cwd=cwd,
        env=env if env is not None else clean_env(),
        shell=isinstance(argv, str),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if check and proc.returncode != 0:
        shown = argv if isinstance(argv, str) else " ".join(map(str, argv))
        raise RuntimeError(
            f"command failed ({proc.returncode}): {shown[:300]}\n"
            f"stdout: {proc.stdout.decode(errors='replace')[-2000:]}\n"
            f"stderr: {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return proc


def time_cmd(
    argv: Sequence[str] | str | Callable[[int], Sequence[str] | str],
    repeat: int,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    setup: Callable[[int], object] | None = None,
    warmup: bool = True,
) -> Timing:
    """Median-of-`repeat` wall time of a whole process (a string runs through the shell).

    `argv` may be a function of the sample index (i = -1 for the warm-up), e.g. to give
    every run a new name.
    """
    t = Timing(note="warm cache" if warmup else "")
    for i in range(-1 if warmup else 0, repeat):
        if setup is not None:
            setup(i)
        cmd = argv(i) if callable(argv) else argv
        t0 = time.perf_counter()
        run_cmd(cmd, cwd=cwd, env=env)
        dt = time.perf_counter() - t0
        if i >= 0:
            t.samples.append(dt)
    return t


# -- floors --------------------------------------------------------------------------------------


def stat_walk(root: Path | bytes) -> int:
    """The floor of an unchanged snapshot: list every directory and lstat every entry."""
    stack = [os.fsencode(root)]
    n = 0
    isdir = statmod.S_ISDIR
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.name in SKIP_NAMES:
                    continue
                st = e.stat(follow_symlinks=False)
                n += 1
                if isdir(st.st_mode):
                    stack.append(e.path)
    return n


def list_files(root: Path | bytes) -> list[bytes]:
    """Every regular file below root (tmt's always-ignored names left out), sorted."""
    out: list[bytes] = []
    stack = [os.fsencode(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                if e.name in SKIP_NAMES:
                    continue
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                elif e.is_file(follow_symlinks=False):
                    out.append(e.path)
    return sorted(out)


def read_and_hash(paths: Sequence[bytes]) -> int:
    """The floor of a first snapshot: read every byte and BLAKE3 it (one thread)."""
    from blake3 import blake3

    total = 0
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        blake3(data).digest()
        total += len(data)
    return total


# -- store size ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Usage:
    apparent: int  # du --apparent-size -b: each inode once (files, dirs, links)
    linked: int  # sum of st_size over every path (hard links counted each time)
    paths: int  # number of paths (files, dirs, links) below the root

    def __sub__(self, other: "Usage") -> "Usage":
        return Usage(self.apparent - other.apparent, self.linked - other.linked, self.paths - other.paths)


def usage(root: Path) -> Usage:
    seen: set[tuple[int, int]] = set()
    apparent = linked = paths = 0
    stack = [os.fsencode(root)]
    if not os.path.isdir(root):
        return Usage(0, 0, 0)
    st = os.lstat(root)
    seen.add((st.st_dev, st.st_ino))
    apparent += st.st_size
    while stack:
        with os.scandir(stack.pop()) as it:
            for e in it:
                st = e.stat(follow_symlinks=False)
                paths += 1
                linked += st.st_size
                key = (st.st_dev, st.st_ino)
                if key not in seen:
                    seen.add(key)
                    apparent += st.st_size
                if statmod.S_ISDIR(st.st_mode):
                    stack.append(e.path)
    return Usage(apparent, linked, paths)


def object_files(objects_dir: Path) -> dict[str, int]:
    """tmt store: object id -> size."""
    out: dict[str, int] = {}
    if not objects_dir.is_dir():
        return out
    for fan in os.scandir(objects_dir):
        if fan.is_dir() and len(fan.name) == 2:
            for e in os.scandir(fan.path):
                out[fan.name + e.name] = e.stat().st_size
    return out


def dir_files(d: Path) -> dict[str, int]:
    if not d.is_dir():
        return {}
    return {e.name: e.stat().st_size for e in os.scandir(d) if e.is_file()}


# -- the predecessor --------------------------------------------------------------------------------

# A decorated no-op run: works for the predecessor and for tmt's recorder (same public name).
# The name comes from argv: the predecessor refuses a name that exists.
NOOP_RUN = """\
import sys
from tmt import tmt_recorder
@tmt_recorder(name=sys.argv[1])
def run():
    return {}
run()
"""


def _imports_old_tmt(python: Path) -> bool:
    if not python.exists():
        return False
    proc = subprocess.run(
        [
            str(python),
            "-c",
            "import importlib.metadata as m, tmt.history.snapshot; print(m.version('ThatMetricTimeline'))",
        ],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd="/",
    )
    return proc.returncode == 0 and proc.stdout.strip() == OLD_VERSION


def old_python(workdir: Path, log: Callable[[str], None] = print) -> Path:
    """An interpreter whose `tmt` is the predecessor; installed into workdir/oldvenv if needed."""
    env_override = os.environ.get("TMT_BENCH_OLD_PYTHON")
    candidates = [Path(env_override)] if env_override else []
    candidates += [*OLD_VENV_CANDIDATES, workdir / "oldvenv" / "bin" / "python"]
    for c in candidates:
        if _imports_old_tmt(c):
            return c
    target = workdir / "oldvenv"
    log(f"installing ThatMetricTimeline=={OLD_VERSION} (the predecessor) into {target} ...")
    rmtree(target)
    venv.EnvBuilder(with_pip=True, clear=True).create(target)
    py = target / "bin" / "python"
    run_cmd([str(py), "-m", "pip", "install", "-q", f"ThatMetricTimeline=={OLD_VERSION}"], env=clean_env())
    if not _imports_old_tmt(py):
        raise RuntimeError(f"the predecessor did not install into {target}")
    return py


# -- tmt as a user installs it ----------------------------------------------------------------------

#: What a wheel of this repository is built from: a change to any of these rebuilds the venv.
INSTALL_SOURCES = ("pyproject.toml", "README.md", "tmt")


def _source_stamp() -> str:
    """A digest of the files a wheel of this repository is built from (caches left out)."""
    from blake3 import blake3

    h = blake3()
    for top in INSTALL_SOURCES:
        base = REPO_ROOT / top
        paths = [base] if base.is_file() else sorted(
            p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc")
        for p in paths:
            h.update(os.fsencode(p.relative_to(REPO_ROOT)) + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def installed_python(workdir: Path, log: Callable[[str], None] = print) -> tuple[Path, str]:
    """(interpreter, description) of a venv under `workdir` holding this repository's tmt the
    way users have it: `pip install <repo>`, a built wheel, not an editable install (whose
    import finder costs every interpreter start ~20 ms at `site`). Rebuilt when the sources
    change; dependencies are installed once."""
    target = workdir / "tmtvenv"
    py = target / "bin" / "python"
    stamp_file = target / "tmt-source-stamp"
    stamp = _source_stamp()
    label = f"a non-editable `pip install` of this repository (sources {stamp}) in {target}"
    if py.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return py, label
    fresh = not py.exists()
    if fresh:
        log(f"making {target} for tmt as users install it (once) ...")
        venv.EnvBuilder(with_pip=True, clear=True).create(target)
    log(f"installing this repository's tmt into {target} (a wheel; sources changed) ...")
    build = workdir / "tmt-build"
    rmtree(build)
    build.mkdir(parents=True)
    for top in INSTALL_SOURCES:  # a copy: building in the repository would leave build/ there
        src = REPO_ROOT / top
        if src.is_dir():
            shutil.copytree(src, build / top, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, build / top)
    extra = [] if fresh else ["--no-deps", "--force-reinstall"]
    run_cmd([str(py), "-m", "pip", "install", "-q", *extra, str(build)], env=clean_env(), cwd=workdir)
    rmtree(build)
    where = run_cmd([str(py), "-c", "import tmt; print(tmt.__file__)"], env=clean_env(), cwd="/").stdout
    if not where.decode().strip().startswith(str(target)):
        raise RuntimeError(f"{py} imports tmt from {where.decode().strip()}, not from its own site-packages")
    stamp_file.write_text(stamp)
    return py, label


# -- git ----------------------------------------------------------------------------------------------

GIT_COMMIT = "git add -A && git commit -q -m x"
GIT_COMMIT_EMPTY = "git add -A && git commit -q --allow-empty -m x"


def git_init(path: Path) -> None:
    """A fresh repository with a local identity (untimed; no auto-gc so samples are comparable)."""
    rmtree(path / ".git")
    env = clean_env()
    run_cmd(["git", "init", "-q", str(path)], env=env)
    for k, v in (
        ("user.name", "bench"),
        ("user.email", "bench@example.invalid"),
        ("commit.gpgsign", "false"),
        ("gc.auto", "0"),
    ):
        run_cmd(["git", "-C", str(path), "config", k, v], env=env)


# -- output ----------------------------------------------------------------------------------------------


def fmt_s(s: float) -> str:
    if s != s:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def fmt_x(r: float) -> str:
    return "n/a" if r != r else f"{r:.2f}x"


@dataclass(slots=True)
class Target:
    name: str
    ok: bool | None  # None: not measured
    detail: str

    def line(self) -> str:
        verdict = {True: "PASS", False: "MISS", None: "SKIP"}[self.ok]
        return f"{verdict}  {self.name}: {self.detail}"


class Report:
    """Collects sections of aligned rows and target verdicts; prints as it goes."""

    def __init__(self, out: Callable[[str], None] = print, design_section: int = 9) -> None:
        self.out = out
        self.design_section = design_section  # where DESIGN.md states the targets judged
        self.targets: list[Target] = []

    def title(self, text: str) -> None:
        self.out("")
        self.out(text)
        self.out("=" * len(text))

    def section(self, text: str) -> None:
        self.out("")
        self.out(f"-- {text} " + "-" * max(0, 86 - len(text)))

    def table(self, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
        self.out(fmt.format(*header))
        for r in rows:
            self.out(fmt.format(*map(str, r)))

    def target(self, name: str, ok: bool | None, detail: str) -> Target:
        t = Target(name, ok, detail)
        self.targets.append(t)
        return t

    def summary(self) -> None:
        self.section(f"targets (DESIGN section {self.design_section})")
        for t in self.targets:
            self.out(t.line())
        missed = sum(1 for t in self.targets if t.ok is False)
        self.out(f"{len(self.targets) - missed} of {len(self.targets)} met or skipped, {missed} missed")


def flush_print(*args: object) -> None:
    print(*args, flush=True)
    sys.stdout.flush()
