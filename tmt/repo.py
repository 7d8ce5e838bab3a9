"""Finding and creating a repository: the .tmt/ folder, its code root and its settings."""
from __future__ import annotations

import errno
import os
import stat as statmod
from dataclasses import dataclass
from pathlib import Path

from tmt.errors import RepositoryNotFound, StoreError, UsageError
from tmt.snapshot.tree import DEFAULT_MAX_TREE_BYTES, DEFAULT_MAX_TREE_PATHS
from tmt.store.nofollow import NotAFile, describe, own_dir, read_fd
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
    max_tree_paths: int = DEFAULT_MAX_TREE_PATHS  # bounds on a tree's expansion (tree bombs)
    max_tree_bytes: int = DEFAULT_MAX_TREE_BYTES

    @classmethod
    def from_mapping(cls, data: dict, source: str) -> "Config":
        kwargs = {}
        for key, value in data.items():
            key = key.replace("-", "_")
            if key in ("max_file_size", "max_tree_bytes"):
                kwargs[key] = _parse_size(value, source, key)
            elif key == "max_tree_paths":
                if not (isinstance(value, int) and not isinstance(value, bool) and value > 0):
                    raise UsageError(f"{source}: max_tree_paths must be a whole number above 0",
                                     "fix the value (or delete the line for the default, 10,000,000)")
                kwargs[key] = value
            elif key == "code_root":
                if not isinstance(value, str):
                    raise UsageError(f"{source}: code_root must be a string path")
                kwargs[key] = value
        return cls(**kwargs)

    @property
    def tree_bounds(self):
        from tmt.snapshot.tree import TreeBounds

        return TreeBounds(self.max_tree_paths, self.max_tree_bytes)


def _parse_size(value: object, source: str, key: str = "max_file_size") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
        v = value.strip().lower().removesuffix("ib").removesuffix("b")
        mult = units.get(v[-1:], 1)
        num = v[:-1] if v[-1:] in units else v
        try:
            size = int(float(num) * mult)
        except (ValueError, OverflowError):  # "abc", "nan", "inf"
            size = 0
        if size > 0:  # "0" or "-5" would leave every file out of every snapshot
            return size
    default = "10 MiB" if key == "max_file_size" else "1 TiB"
    raise UsageError(
        f"{source}: {key} must be a byte count like 10485760 or '10MiB'",
        f"fix the value (or delete the line for the default, {default})",
    )


def _load_toml(path: Path, only_if: bytes | None = None) -> dict:
    """The TOML file at `path` ({} if absent). With `only_if`, a file whose bytes do not
    contain it is not parsed at all (most pyproject.toml files have no [tool.tmt])."""
    try:
        data = _read_settings(path)
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


#: a settings file larger than this is not one (a link to a device or a huge file)
MAX_SETTINGS_BYTES = 1 << 20


def _read_settings(path: Path) -> bytes:
    """A settings file's bytes. It may be a link (shared settings), but what it leads to
    must be a regular file: a FIFO or device is refused at once, never waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not statmod.S_ISREG(st.st_mode):
            raise NotAFile(path, describe(st.st_mode))
        data = read_fd(fd, st.st_size, MAX_SETTINGS_BYTES)
    finally:
        os.close(fd)
    if len(data) > MAX_SETTINGS_BYTES:
        raise OSError(0, f"larger than {MAX_SETTINGS_BYTES >> 20} MiB", str(path))
    return data


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
        if code_root is not None:
            return _inside_project(base, code_root, self._config_path)
        # [tool.tmt] code_root can only come from the pyproject.toml beside .tmt/: the user's
        # own file, trusted wherever it points
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
            config = Config.from_mapping(merged, str(self._config_path)) if merged else Config()
            self._config = _trusted_bounds(config, Config.from_mapping(tool, str(pyproject)), self._local)
        return self._config

    @property
    def tree_bounds(self):
        """How far a tree may expand (Config.tree_bounds). Reading a run's trees (diff of two
        runs, checkout -o) needs no code root: when the settings cannot find one (a bad
        code_root), the store's own settings and the defaults bound them."""
        try:
            return self.config.tree_bounds
        except UsageError:
            local = Config.from_mapping(self._local, str(self._config_path))
            return _trusted_bounds(local, Config(), self._local).tree_bounds

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
                # the store folder itself is the user's choice; below it, never a link
                own_dir(tdir, sub, create=True)
            except OSError as e:
                where = tdir / sub
                raise StoreError(
                    f"could not create the repository: {where}: {e.strerror or e}",
                    "choose a folder you can write to" if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else None,
                ) from e
        repo = cls(tdir)
        if repo.store.epoch() is None:
            repo.store.bump_epoch()
        ensure_store_gitignore(tdir)  # so that `git add -A` never commits the store
        return repo


def _trusted_bounds(config: Config, user: Config, local: dict) -> Config:
    """The tree bounds in force: the store's own config.toml (untrusted: it comes with a copied
    store) may lower them, never raise them past the user's [tool.tmt] or the defaults."""
    from dataclasses import replace

    changes = {}
    for key in ("max_tree_paths", "max_tree_bytes"):
        if key in local or key.replace("_", "-") in local:
            changes[key] = min(getattr(config, key), getattr(user, key))
    return replace(config, **changes) if changes else config


def _inside_project(base: Path, code_root: str, source: Path) -> Path:
    """`code_root` from the store's own config.toml, resolved: it must lie inside `base`, the
    folder holding the store. The store is untrusted (copied, shared, untarred): its settings
    must not aim in-place checkouts, diffs and snapshots at a folder elsewhere."""
    root = (base / code_root).resolve()
    top = base.resolve()
    if root != top and top not in root.parents:
        raise UsageError(
            f"{source}: code_root {code_root!r} resolves to {root}, outside the project folder {top}",
            "a store's own settings may only name a folder inside the project; set code_root in "
            "[tool.tmt] of pyproject.toml for a folder elsewhere, or fix or delete the line",
        )
    return root
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
