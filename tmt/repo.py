"""Finding and creating a repository: the .tmt/ folder, its code root and its settings."""
from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from pathlib import Path

from tmt.errors import RepositoryNotFound, StoreError, UsageError
from tmt.store.objects import ObjectStore

TMT_DIRNAME = ".tmt"
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
SUBDIRS = ("objects", "experiments", "cache", "tmp")
LEGACY_DB = "tmt_db.json"  # the database of tmt 0.1.8 (tmt/legacy): its runs wait for `tmt migrate`


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
    raise UsageError(
        f"{source}: max_file_size must be a byte count like 10485760 or '10MiB'",
        "fix the value (or delete the line for the default, 10 MiB)",
    )


def _load_toml(path: Path, only_if: bytes | None = None) -> dict:
    """The TOML file at `path` ({} if absent). With `only_if`, a file whose bytes do not
    contain it is not parsed at all (most pyproject.toml files have no [tool.tmt])."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as e:
        raise UsageError(f"could not read {path}: {e.strerror or e}", "fix its permissions or delete it") from e
    if only_if is not None and only_if not in data:
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        # ValueError covers TOMLDecodeError and invalid UTF-8 (UnicodeDecodeError)
        return tomllib.loads(data.decode("utf-8"))
    except ValueError as e:
        raise UsageError(f"could not read {path}: {e}", "fix or delete the file") from e


def _tool_tmt(pyproject: Path) -> dict:
    """[tool.tmt] of a pyproject.toml ({} if none); tomllib is loaded only if "tmt" appears."""
    tool = _load_toml(pyproject, only_if=b"tmt").get("tool", {})
    section = tool.get("tmt", {}) if isinstance(tool, dict) else {}
    if not isinstance(section, dict):
        raise UsageError(f"{pyproject}: [tool.tmt] must be a table")
    return section


class Repo:
    """A .tmt/ store plus the code root it snapshots.

    The code root (`root`) and the settings that depend on it (`config`) are worked out on
    first use: queries never need them, and finding the code root of a shared store
    (TMT_DIR) asks git. `.tmt/config.toml` is read at once, so a bad setting fails early.
    """

    def __init__(self, tmt_dir: str | os.PathLike[str], code_root: str | os.PathLike[str] | None = None) -> None:
        self.tmt_dir = Path(tmt_dir).absolute()
        self.store = ObjectStore(self.tmt_dir)
        self._root: Path | None = Path(code_root).absolute() if code_root is not None else None
        self._root_from: Path | None = None  # set by find() for a shared store: root found from here
        self._config: Config | None = None
        self._config_path = self.tmt_dir / "config.toml"
        self._local = _load_toml(self._config_path)
        Config.from_mapping(self._local, str(self._config_path))  # validate now
        if os.path.exists(os.path.join(self.tmt_dir, LEGACY_DB)):  # one stat for every other store
            from tmt.legacy.notice import notice

            notice(self.tmt_dir)

    @property
    def root(self) -> Path:
        """The folder snapshots take: given, configured (code_root), or the one holding .tmt/
        (for a shared TMT_DIR store elsewhere: the git top level of where tmt runs, or there)."""
        if self._root is None:
            self._root = self._find_root()
        return self._root

    @root.setter
    def root(self, value: str | os.PathLike[str]) -> None:
        self._root = Path(value).absolute()
        self._config = None

    def _find_root(self) -> Path:
        if self._root_from is not None and _is_foreign(self.tmt_dir, self._root_from):
            return _default_code_root(self._root_from)
        base = self.tmt_dir.parent
        code_root = Config.from_mapping(self._local, str(self._config_path)).code_root
        if code_root is None:
            # [tool.tmt] code_root can only come from the pyproject.toml beside .tmt/
            pyproject = base / "pyproject.toml"
            code_root = Config.from_mapping(_tool_tmt(pyproject), str(pyproject)).code_root
        return (base / code_root).resolve() if code_root else base

    @property
    def config(self) -> Config:
        """Settings: [tool.tmt] in the code root's pyproject.toml, then .tmt/config.toml (wins)."""
        if self._config is None:
            pyproject = self.root / "pyproject.toml"
            tool = _tool_tmt(pyproject)
            Config.from_mapping(tool, str(pyproject))  # errors name the file they come from
            merged = {**tool, **self._local}
            self._config = Config.from_mapping(merged, str(self._config_path)) if merged else Config()
        return self._config

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
                    f"TMT_DIR={env} is not a directory", "create it with `tmt init` (which creates the TMT_DIR store), or unset TMT_DIR"
                )
            repo = cls(path)
            # Whether this store is the project's own or shared from elsewhere (and then which
            # code root to take) is settled on first use of repo.root: a query never asks.
            repo._root_from = Path(start or os.getcwd()).absolute()
            return repo
        found = find_tmt_dir(start)
        if found is None:
            here = Path(start or os.getcwd()).absolute()
            raise RepositoryNotFound(
                f"no .tmt repository in {here} or any parent folder",
                "run `tmt init` in your project folder, or record a run first",
            )
        return cls(found)

    @classmethod
    def resolve(cls, repo: "Repo | str | os.PathLike[str] | None" = None) -> "Repo":
        """The repository an API call names: None finds it like git (TMT_DIR, else walking
        up from the working directory); a Repo is used as is; a path is the project folder
        holding .tmt/ or the store folder itself, and wins over TMT_DIR.

        Raises RepositoryNotFound when the path holds no store (never creates one).
        """
        if repo is None:
            return cls.find()
        if isinstance(repo, Repo):
            return repo
        if not isinstance(repo, (str, os.PathLike)):
            raise UsageError(f"repo must be a path or a tmt.Repo, not {type(repo).__name__}")
        path = Path(repo).expanduser().absolute()
        if (path / "objects").is_dir() or (path.name == TMT_DIRNAME and path.is_dir()):
            return cls(path)  # the store itself (a shared store need not be called .tmt)
        if (path / TMT_DIRNAME).is_dir():
            return cls(path / TMT_DIRNAME)
        raise RepositoryNotFound(
            f"no tmt repository at {path}",
            "pass the project folder that holds .tmt/ (or the .tmt folder itself); create one with `tmt init`",
        )

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
            try:
                (tdir / sub).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                where = e.filename or tdir / sub
                raise StoreError(
                    f"could not create the repository: {where}: {e.strerror or e}",
                    "choose a folder you can write to" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else None,
                ) from e
        repo = cls(tdir)
        if repo.store.epoch() is None:
            repo.store.bump_epoch()
        ensure_store_gitignore(tdir)  # so that `git add -A` never commits the store
        return repo


def ensure_store_gitignore(tmt_dir: str | os.PathLike[str]) -> None:
    """`.tmt/.gitignore` holding `*`, so that `git add -A` never commits the store (as venv
    does for its folder). Written once; a user's own version is left alone."""
    path = os.path.join(tmt_dir, ".gitignore")
    if os.path.lexists(path):
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except OSError:
        return  # exists by now, or a read-only store: nothing to do
    try:
        os.write(fd, b"# created by tmt: the store is not code to commit\n*\n")
    finally:
        os.close(fd)


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
    """Create (or reopen) the repository in `folder`; without one, the store TMT_DIR names
    if it is set (a shared store), else the working directory's."""
    env = os.environ.get("TMT_DIR")
    if folder is None and env:
        path = Path(env).expanduser()
        return Repo.init(path.parent, tmt_dir=path)
    return Repo.init(Path(folder or os.getcwd()))
