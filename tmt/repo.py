"""Finding and creating a repository: the .tmt/ folder, its code root and its settings."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tmt.errors import RepositoryNotFound, UsageError
from tmt.store.objects import ObjectStore

TMT_DIRNAME = ".tmt"
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
SUBDIRS = ("objects", "experiments", "cache", "tmp")


@dataclass(frozen=True, slots=True)
class Config:
    """Settings from .tmt/config.toml, then [tool.tmt] in the code root's pyproject.toml."""

    max_file_size: int = DEFAULT_MAX_FILE_SIZE
    code_root: str | None = None  # relative to the folder holding .tmt/, or absolute

    @classmethod
    def from_mapping(cls, data: dict, source: str) -> "Config":
        kwargs = {}
        for key, value in data.items():
            key = key.replace("-", "_")
            if key == "max_file_size":
                kwargs[key] = _parse_size(value, source)
            elif key == "code_root":
                if not isinstance(value, str):
                    raise UsageError(f"{source}: code_root must be a string path")
                kwargs[key] = value
        return cls(**kwargs)


def _parse_size(value: object, source: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
        v = value.strip().lower().removesuffix("ib").removesuffix("b")
        mult = units.get(v[-1:], 1)
        num = v[:-1] if v[-1:] in units else v
        try:
            size = int(float(num) * mult)
        except (ValueError, OverflowError):  # "abc", "nan", "inf"
            size = 0
        if size > 0:  # "0" or "-5" would leave every file out of every snapshot
            return size
    raise UsageError(f"{source}: max_file_size must be a byte count like 10485760 or '10MiB'")


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"could not read {path}: {e}", "fix or delete the file") from e


class Repo:
    """A .tmt/ store plus the code root it snapshots."""

    def __init__(self, tmt_dir: str | os.PathLike[str], code_root: str | os.PathLike[str] | None = None) -> None:
        self.tmt_dir = Path(tmt_dir).absolute()
        self.store = ObjectStore(self.tmt_dir)
        self.config = self._read_config()
        if code_root is not None:
            self.root = Path(code_root).absolute()
        elif self.config.code_root:
            self.root = (self.tmt_dir.parent / self.config.code_root).resolve()
        else:
            self.root = self.tmt_dir.parent

    def _read_config(self) -> Config:
        merged: dict = {}
        pyproject = self.tmt_dir.parent / "pyproject.toml"
        if pyproject.exists():
            merged.update(_load_toml(pyproject).get("tool", {}).get("tmt", {}))
        cfg = self.tmt_dir / "config.toml"
        if cfg.exists():
            merged.update(_load_toml(cfg))
        return Config.from_mapping(merged, str(cfg)) if merged else Config()

    @property
    def root_label(self) -> str:
        """The code root as records store it: relative to the folder holding .tmt/ ("."
        almost always), never absolute, so a moved or copied project stays consistent."""
        if self.root == self.tmt_dir.parent:
            return "."
        return Path(os.path.relpath(self.root, self.tmt_dir.parent)).as_posix()

    @property
    def experiments_dir(self) -> Path:
        return self.tmt_dir / "experiments"

    @property
    def cache_dir(self) -> Path:
        return self.tmt_dir / "cache"

    @property
    def tmp_dir(self) -> Path:
        return self.tmt_dir / "tmp"

    # -- finding and creating -------------------------------------------------------------

    @classmethod
    def find(cls, start: str | os.PathLike[str] | None = None) -> "Repo":
        """The repository for `start` (default: the working directory), like git."""
        env = os.environ.get("TMT_DIR")
        if env:
            path = Path(env).expanduser()
            if not path.is_dir():
                raise RepositoryNotFound(
                    f"TMT_DIR={env} is not a directory", "create it with `tmt init`, or unset TMT_DIR"
                )
            return cls(path, code_root=_default_code_root(start) if _is_foreign(path, start) else None)
        found = find_tmt_dir(start)
        if found is None:
            here = Path(start or os.getcwd()).absolute()
            raise RepositoryNotFound(
                f"no .tmt repository in {here} or any parent folder",
                "run `tmt init` in your project folder, or record a run first",
            )
        return cls(found)

    @classmethod
    def find_or_create(cls, start: str | os.PathLike[str] | None = None) -> "Repo":
        """For recording: an existing repository, else a new one at the git top level or here."""
        try:
            return cls.find(start)
        except RepositoryNotFound:
            if os.environ.get("TMT_DIR"):
                # A shared store: create it, then open it as find() does (code root here).
                path = Path(os.environ["TMT_DIR"]).expanduser()
                cls.init(path.parent, tmt_dir=path)
                return cls.find(start)
            return cls.init(_default_code_root(start))

    @classmethod
    def init(cls, folder: str | os.PathLike[str], tmt_dir: str | os.PathLike[str] | None = None) -> "Repo":
        tdir = Path(tmt_dir) if tmt_dir else Path(folder) / TMT_DIRNAME
        for sub in SUBDIRS:
            (tdir / sub).mkdir(parents=True, exist_ok=True)
        repo = cls(tdir)
        if repo.store.epoch() is None:
            repo.store.bump_epoch()
        return repo


def find_tmt_dir(start: str | os.PathLike[str] | None = None) -> Path | None:
    here = Path(start or os.getcwd()).absolute()
    for d in (here, *here.parents):
        cand = d / TMT_DIRNAME
        if cand.is_dir():
            return cand
    return None


def _is_foreign(tmt_dir: Path, start: str | os.PathLike[str] | None) -> bool:
    """A TMT_DIR that is not <some parent of start>/.tmt is a shared store elsewhere."""
    local = find_tmt_dir(start)
    return local is None or local.resolve() != tmt_dir.resolve()


def _default_code_root(start: str | os.PathLike[str] | None) -> Path:
    here = Path(start or os.getcwd()).absolute()
    top = git_toplevel(here)
    return top if top is not None else here


def git_toplevel(path: Path) -> Path | None:
    import subprocess  # lazily: only recording into a new store needs it

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=path,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0 or not out.stdout.strip():
        return None
    return Path(out.stdout.strip())


def init(folder: str | os.PathLike[str] | None = None) -> Repo:
    """Create (or reopen) the repository in `folder` (default: the working directory)."""
    return Repo.init(Path(folder or os.getcwd()))
