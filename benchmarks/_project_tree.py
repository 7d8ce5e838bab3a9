"""A research project's work tree, for benchmarks/project.py: code kept, clutter ignored.

`ensure_project(workdir, kept)` builds (once, then cached under workdir/projects/) a
deterministic tree shaped like a real Python/ML repository (the issue measured streamlit's:
5,871 files kept): about `kept` files git keeps, from the running interpreter's standard
library and site-packages sources (benchmarks/_common.select_files), spread over top-level
folders (lib/, tests/, frontend/, docs/, e2e/, scripts/), with

- a root `.gitignore` of about 70 lines (a Python/ML project's: caches, builds, envs, data,
  outputs, editors) including negations (`/data/*` + `!/data/README.md`, `!.gitkeep`), and a
  nested `.gitignore` in every top-level folder and in about one folder in five, each
  matching clutter that is really there (generated/, *.log, .cache/);
- untracked, ignored clutter: `.venv/` (pyvenv.cfg and thousands of files), `__pycache__/`
  with a .pyc beside every .py, build/, dist/, *.egg-info, data/ (shards, an 8 MiB array, a
  12 MiB file), results/ (run folders with checkpoints), frontend/node_modules/,
  .pytest_cache/, .mypy_cache/, htmlcov/, .coverage, logs/;
- `train.py` at the root: the decorated no-op run the whole-process rows start.

The tree is not a git repository: each tool's copy is made one (benchmarks/project.py).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import _common as C

PROJECT_FORMAT = 1  # bump when the shape below changes: cached trees are rebuilt
TOPS = ("lib", "lib", "lib", "tests", "tests", "frontend", "docs", "e2e", "scripts")

ROOT_GITIGNORE = """\
# Byte-compiled / optimized files
__pycache__/
*.py[cod]
*$py.class
*.so

# Distribution / packaging
/build/
/dist/
*.egg-info/
.eggs/
*.egg
wheels/
sdist/
MANIFEST

# Environments
.env
.venv/
venv/
env/
ENV/
.python-version
conda-env/

# Tests, coverage, type checkers
.pytest_cache/
.mypy_cache/
.ruff_cache/
.tox/
.nox/
.coverage
.coverage.*
htmlcov/
coverage.xml
*.cover
.hypothesis/

# Notebooks
.ipynb_checkpoints/
*-checkpoint.ipynb

# Data and outputs: kept out of git, documented in data/README.md
/data/*
!/data/README.md
!/data/.gitkeep
/results/
/outputs/
/checkpoints/
*.ckpt
*.pt
*.pth
*.h5
*.npz
wandb/
mlruns/
lightning_logs/
logs/
*.log

# Editors and OS files
.idea/
.vscode/
*.swp
*~
.DS_Store
Thumbs.db

# Front end
node_modules/
.eslintcache
"""

NESTED_POOL = (
    "generated/", "*.tmp", ".cache/", "*.bak", "/local_settings.py", "*.orig", "snapshots/",
    "!keep.tmp", "coverage/", "*.sqlite3",
)
TOP_GITIGNORE = "# local to this folder\n/generated/\n*.tmp\n.cache/\n!keep.tmp\n"
FRONTEND_GITIGNORE = "node_modules/\n/build/\n.eslintcache\n*.tsbuildinfo\n/coverage/\n"

TRAIN_PY = """\
import sys

from tmt import tmt_recorder


@tmt_recorder(name=sys.argv[1] if len(sys.argv) > 1 else "noop")
def run():
    return {}


run()
"""


@dataclass(frozen=True, slots=True)
class Project:
    path: Path
    files: int  # files in the tree (kept and clutter)
    kept: int  # files git keeps (`git add -A`), the tree's size as the benchmark names it
    bytes: int  # bytes of the kept files
    changeable: str  # a mid-sized kept .py file that the one-file-changed rows edit


def git_kept_files(path: Path) -> list[bytes]:
    """The files `git add -A` would take in `path` (a repository made and removed for it)."""
    had_git = (path / ".git").exists()
    env = C.clean_env(GIT_CEILING_DIRECTORIES=str(path.parent))
    if not had_git:
        C.run_cmd(["git", "init", "-q", str(path)], env=env)
    try:
        out = C.run_cmd(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=path, env=env)
    finally:
        if not had_git:
            C.rmtree(path / ".git")
    return sorted(set(p for p in out.stdout.split(b"\0") if p))


def _small(seed: str, size: int) -> bytes:
    """Deterministic filler bytes (clutter content need not be real, only the right size)."""
    from blake3 import blake3

    return blake3(seed.encode()).digest(length=size)


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def ensure_project(workdir: Path, kept: int, log: Callable[[str], None] = print) -> Project:
    base = workdir / "projects"
    dest = base / f"project-{kept}"
    manifest = base / f"project-{kept}.json"
    if dest.is_dir() and manifest.is_file():
        meta = json.loads(manifest.read_text())
        if meta.get("format") == PROJECT_FORMAT:
            return Project(dest, meta["files"], meta["kept"], meta["bytes"], meta["changeable"])
    log(f"building the {kept:,}-file project under {dest} (once; cached) ...")
    t0 = time.perf_counter()
    partial = base / f"project-{kept}.partial"
    C.rmtree(partial)
    C.rmtree(dest)
    partial.mkdir(parents=True)
    n_gitignores = 1 + len(set(TOPS))
    chosen = C.select_files(max(100, kept - n_gitignores - 3))
    placed: dict[str, tuple[Path, int]] = {}
    folders: set[str] = set()  # every folder holding kept files
    for rel, src, size in chosen:
        parts = rel.split(os.sep)
        unit = "/".join(parts[:2])
        top = TOPS[int(C._key(unit)[:8], 16) % len(TOPS)]
        inner = "/".join(parts[1:])
        target = f"{top}/{inner}"
        if target in placed:
            continue  # the same path from two sources (stdlib and site-packages): keep one
        placed[target] = (src, size)
        folders.add(target.rpartition("/")[0])
    kept_bytes = 0
    for target, (src, _) in placed.items():
        dst = partial / target
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        os.chmod(dst, 0o644 | (0o111 if os.stat(src).st_mode & 0o100 else 0))
    # -- ignore files ------------------------------------------------------------------------
    _write(partial / ".gitignore", ROOT_GITIGNORE)
    for top in set(TOPS):
        _write(partial / top / ".gitignore", FRONTEND_GITIGNORE if top == "frontend" else TOP_GITIGNORE)
    nested = 0
    for folder in sorted(folders):
        k = int(C._key("nested:" + folder)[:8], 16)
        if k % 5 or "/" not in folder:
            continue  # about one folder in five has its own
        lines = [NESTED_POOL[(k >> s) % len(NESTED_POOL)] for s in (3, 7, 11, 15)]
        _write(partial / folder / ".gitignore", "\n".join(dict.fromkeys(lines)) + "\n")
        # clutter these rules (and the top folder's) really match
        _write(partial / folder / "generated" / "schema.json", _small(folder + "gen", 900))
        _write(partial / folder / "debug.tmp", _small(folder + "tmp", 300))
        _write(partial / folder / ".cache" / "state", _small(folder + "cache", 200))
        nested += 1
    # -- root files and the script -------------------------------------------------------------
    _write(partial / "pyproject.toml", '[project]\nname = "proj"\nversion = "0.1.0"\n')
    _write(partial / "README.md", "# proj\n\nA research project.\n")
    _write(partial / "train.py", TRAIN_PY)
    _write(partial / "data" / "README.md", "Data lives here; see the download script.\n")
    _write(partial / "data" / ".gitkeep", "")
    # -- clutter -------------------------------------------------------------------------------
    clutter = 0

    def junk(rel: str, size: int) -> None:
        nonlocal clutter
        _write(partial / rel, _small(rel, size))
        clutter += 1

    # __pycache__ beside every package with .py files: one .pyc per module
    py_dirs: dict[str, list[str]] = {}
    for target in placed:
        if target.endswith(".py"):
            d, _, name = target.rpartition("/")
            py_dirs.setdefault(d, []).append(name[:-3])
    for d, stems in sorted(py_dirs.items()):
        for stem in stems:
            junk(f"{d}/__pycache__/{stem}.cpython-311.pyc", 400 + len(stem) * 37)
    # a virtualenv inside the project, thousands of files
    venv_files = max(3000, kept // 3)
    _write(partial / ".venv" / "pyvenv.cfg", "home = /usr/bin\ninclude-system-site-packages = false\n")
    for i in range(venv_files):
        pkg = f"pkg{i % 120:03d}"
        sub = "" if i % 3 else f"sub{i % 7}/"
        junk(f".venv/lib/python3.11/site-packages/{pkg}/{sub}mod{i}.py", 300 + i % 2000)
    for name in ("python", "pip", "activate", "tmt", "pytest"):
        junk(f".venv/bin/{name}", 200)
    # builds and packaging
    for i, target in enumerate(sorted(placed)[: kept // 10]):
        if target.startswith("lib/"):
            junk(f"build/lib/{target[4:]}", 500 + i % 3000)
    junk("dist/proj-0.1.0.tar.gz", 2 << 20)
    junk("dist/proj-0.1.0-py3-none-any.whl", 2 << 20)
    for name in ("PKG-INFO", "SOURCES.txt", "top_level.txt", "requires.txt", "dependency_links.txt"):
        junk(f"lib/proj.egg-info/{name}", 1500)
    # data and outputs
    for i in range(200):
        junk(f"data/raw/shard-{i:04d}.csv", 4096)
    junk("data/train.npz", 8 << 20)
    junk("data/corpus.bin", 12 << 20)
    for r in range(40):
        junk(f"results/run-{r:03d}/metrics.json", 700)
        junk(f"results/run-{r:03d}/model.ckpt", 64 << 10)
        junk(f"results/run-{r:03d}/stdout.txt", 3000)
    for i in range(20):
        junk(f"logs/train-{i}.log", 8000)
    # front end dependencies and tool caches
    for i in range(max(1500, kept // 10)):
        junk(f"frontend/node_modules/dep{i % 150:03d}/{'lib/' if i % 2 else ''}index{i}.js", 600 + i % 900)
    for i in range(300):
        junk(f".mypy_cache/3.11/mod{i % 40}/f{i}.data.json", 1200)
    for name in ("v/cache/lastfailed", "v/cache/nodeids", "v/cache/stepwise", "README.md", "CACHEDIR.TAG"):
        junk(f".pytest_cache/{name}", 300)
    for i in range(100):
        junk(f"htmlcov/f{i}_py.html", 5000)
    junk(".coverage", 50_000)
    junk(".env", 120)
    # -- the edited file, totals -------------------------------------------------------------------
    py = sorted((t for t, (_, s) in placed.items() if t.endswith(".py") and 2_000 <= s <= 30_000), key=C._key)
    changeable = py[0] if py else sorted(placed)[0]
    kept_count = kept_bytes = 0
    kept_names = git_kept_files(partial)
    for rel in kept_names:
        kept_count += 1
        kept_bytes += os.lstat(partial / os.fsdecode(rel)).st_size
    total = sum(len(files) for _, _, files in os.walk(partial))
    os.rename(partial, dest)
    meta = {"format": PROJECT_FORMAT, "files": total, "kept": kept_count, "bytes": kept_bytes,
            "changeable": changeable, "nested_gitignores": nested + n_gitignores}
    manifest.write_text(json.dumps(meta))
    log(f"  built in {time.perf_counter() - t0:.1f} s: {kept_count:,} files kept of {total:,} "
        f"({C.fmt_bytes(kept_bytes)} kept), {nested + n_gitignores} .gitignore files")
    return Project(dest, total, kept_count, kept_bytes, changeable)


def from_work_tree(source: Path, workdir: Path, log: Callable[[str], None] = print) -> Project:
    """A real project measured as it is: `source`'s files (its own .gitignore files, its
    clutter: whatever is there) copied under the work directory without its .git (each tool's
    copy is committed afresh), with the benchmark's train.py at its root."""
    source = source.resolve()
    dest = workdir / "projects" / f"real-{source.name}"
    log(f"copying {source} to {dest} (without .git) ...")
    C.rmtree(dest)
    shutil.copytree(source, dest, symlinks=True, ignore=lambda d, names: [".git"] if Path(d) == source else [])
    _write(dest / "train.py", TRAIN_PY)
    kept_names = git_kept_files(dest)
    kept_bytes = sum(os.lstat(dest / os.fsdecode(rel)).st_size for rel in kept_names)
    sizes = {os.fsdecode(rel): os.lstat(dest / os.fsdecode(rel)).st_size for rel in kept_names}
    py = sorted((r for r, size in sizes.items() if r.endswith(".py") and 2_000 <= size <= 30_000), key=C._key)
    changeable = py[0] if py else sorted(sizes)[0]
    total = sum(len(files) for _, _, files in os.walk(dest))
    return Project(dest, total, len(kept_names), kept_bytes, changeable)

