"""Finding and creating a repository: the .tmt/ folder, its code root and its settings."""
from __future__ import annotations

import errno
import os
import stat
import sys
from pathlib import Path

from tmt._plain import Frozen
from tmt.errors import RepositoryNotFound, StoreError, UsageError
from tmt.snapshot.tree import DEFAULT_MAX_TREE_BYTES, DEFAULT_MAX_TREE_PATHS
from tmt.store.nofollow import NotAFile, describe, own_dir, read_fd
from tmt.store.objects import ObjectStore

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any, NoReturn

TMT_DIRNAME = ".tmt"
#: A `.tmt` *file* (not folder) in a view or rerun folder: one line naming the store it came
#: from, like git's worktree `.git` file. See `read_pointer`.
POINTER_PREFIX = "tmtdir: "
POINTER_MAX_BYTES = 4096
DEFAULT_MAX_FILE_SIZE = 10 * 1024 * 1024
SUBDIRS = ("objects", "experiments", "cache", "tmp")
LEGACY_DB = "tmt_db.json"  # the database of tmt 0.1.8 (tmt/legacy): its runs wait for `tmt migrate`


class Config(Frozen):
    """Settings from .tmt/config.toml, then [tool.tmt] in the code root's pyproject.toml.
    Frozen; a plain class, not a dataclass (tmt/_plain.py)."""

    __slots__ = ("max_file_size", "code_root", "max_tree_paths", "max_tree_bytes")
    max_file_size: int
    code_root: str | None  # relative to the folder holding .tmt/, or absolute
    max_tree_paths: int  # bounds on a tree's expansion (tree bombs)
    max_tree_bytes: int

    def __init__(self, max_file_size: int = DEFAULT_MAX_FILE_SIZE, code_root: str | None = None,
                 max_tree_paths: int = DEFAULT_MAX_TREE_PATHS, max_tree_bytes: int = DEFAULT_MAX_TREE_BYTES) -> None:
        object.__setattr__(self, "max_file_size", max_file_size)
        object.__setattr__(self, "code_root", code_root)
        object.__setattr__(self, "max_tree_paths", max_tree_paths)
        object.__setattr__(self, "max_tree_bytes", max_tree_bytes)

    @classmethod
    def from_mapping(cls, data: dict, source: str) -> "Config":
        kwargs: dict[str, Any] = {}
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


#: the largest byte count a setting may hold (1 EiB): beyond it a read size overflows
MAX_SIZE_SETTING = 1 << 60


def _parse_size(value: object, source: str, key: str = "max_file_size") -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_SIZE_SETTING:
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
        if 0 < size <= MAX_SIZE_SETTING:  # "0" or "-5" would leave every file out of every snapshot
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
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # Python 3.10: the tomli distribution (a dependency there)
        import tomli as tomllib
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
        if not stat.S_ISREG(st.st_mode):
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
        self.store = ObjectStore(self.tmt_dir, fetch=_fetch_from_remote)  # a lazy clone's fetch-on-miss
        self._root: Path | None = Path(code_root).absolute() if code_root is not None else None
        self._root_from: Path | None = None  # set by find() for a shared store: root found from here
        #: the code root is a view or rerun folder whose `.tmt` pointer file names this store
        self.view = False
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
        if self._root_from is not None:
            try:
                view = find_view(self._root_from)
                foreign = _is_foreign(self.tmt_dir, self._root_from)
            except RepositoryNotFound:  # a broken pointer: TMT_DIR, set by the user, decides
                view, foreign = None, True
            if view is not None and _same_dir(view[0], self.tmt_dir):
                self.view = True  # TMT_DIR names the store this view came from
                return view[1]
            if foreign:
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
        found = _find(start)
        if found is None:
            here = Path(start or os.getcwd()).absolute()
            raise RepositoryNotFound(
                f"no .tmt repository in {here} or any parent folder",
                "run `tmt init` in your project folder, or record a run first",
            )
        store, view = found
        if view is None:
            return cls(store)
        repo = cls(store, code_root=view)
        repo.view = True
        return repo

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
    def bound(key: str) -> int:
        lowered = key in local or key.replace("_", "-") in local
        return min(getattr(config, key), getattr(user, key)) if lowered else getattr(config, key)

    paths, nbytes = bound("max_tree_paths"), bound("max_tree_bytes")
    if (paths, nbytes) == (config.max_tree_paths, config.max_tree_bytes):
        return config
    return Config(config.max_file_size, config.code_root, paths, nbytes)


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
    """The store that recording from `start` uses: the nearest `.tmt/` folder, or the store a
    nearer `.tmt` pointer file names (a view's)."""
    found = _find(start)
    return found[0] if found else None


def _find(start: str | os.PathLike[str] | None) -> tuple[Path, Path | None] | None:
    """(store, view folder or None) for the nearest `.tmt` at or above `start`.

    A `.tmt` folder is a store; a regular `.tmt` file is a view's pointer (read_pointer
    raises if it does not name a real store, rather than silently recording elsewhere);
    anything else called `.tmt` (a FIFO, a symlink to a file) is passed by, never opened.
    """
    here = Path(start or os.getcwd()).absolute()
    for d in (here, *here.parents):
        cand = d / TMT_DIRNAME
        if cand.is_dir():
            return cand, None
        try:
            st = os.lstat(cand)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            return read_pointer(cand), d
    return None


def find_view(start: str | os.PathLike[str] | None) -> tuple[Path, Path] | None:
    """(store, view folder) when the nearest `.tmt` at or above `start` is a pointer file."""
    found = _find(start)
    if found is None or found[1] is None:
        return None
    return found[0], found[1]


def read_pointer(path: str | os.PathLike[str]) -> Path:
    """The store a `.tmt` pointer file names, checked: `tmtdir: PATH` on one line, PATH
    absolute or relative to the pointer's folder, naming a real tmt store (a folder holding
    `objects/` and `experiments/` folders). Anything else raises RepositoryNotFound: a
    pointer copied from elsewhere, or planted to aim recording at a random folder, is
    refused, never followed.
    """
    path = Path(path)
    try:
        # O_NONBLOCK: never hang on a FIFO swapped in after the lstat; O_NOFOLLOW: nor a symlink
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file")
            data = os.read(fd, POINTER_MAX_BYTES + 1)
        finally:
            os.close(fd)
    except OSError as e:
        raise RepositoryNotFound(
            f"could not read the .tmt pointer file {path}: {e.strerror or e}", "remove it, or fix its permissions"
        ) from e
    text = data.decode("utf-8", "replace")
    line = text.strip()
    if len(data) > POINTER_MAX_BYTES or "\n" in line or not line.startswith(POINTER_PREFIX):
        _refuse_pointer(path, f"it does not hold one line `{POINTER_PREFIX}PATH`")
    target = Path(line[len(POINTER_PREFIX):].strip())
    if not target.is_absolute():
        target = path.parent / target
    target = Path(os.path.normpath(target))
    if not is_store(target):
        _refuse_pointer(path, f"{target} is not a tmt store")
    return target


def _refuse_pointer(path: Path, problem: str) -> NoReturn:
    from tmt.text import printable

    raise RepositoryNotFound(
        f"the .tmt file in {printable(path.parent)} points at no store: {printable(problem)}",
        "it marks a view of a run's code; delete it to use this folder on its own "
        "(or run tmt elsewhere)",
    )


def is_store(path: Path) -> bool:
    """Whether `path` is a tmt store: a folder holding real (not symlinked) `objects/` and
    `experiments/` folders."""
    try:
        return all(stat.S_ISDIR(os.lstat(path / sub).st_mode) for sub in ("objects", "experiments"))
    except OSError:
        return False


def write_pointer(folder: str | os.PathLike[str], tmt_dir: str | os.PathLike[str], *, relative: bool = False) -> Path:
    """Mark `folder` (a new view or rerun folder) as a view of the store `tmt_dir`: runs
    started inside it record into that store, with `folder` as their code root. Snapshots
    never take a `.tmt` entry, so the pointer is in nobody's code. `relative` writes the
    path relative to `folder` (a folder inside the store, which moves with it)."""
    folder = Path(folder).absolute()
    target = Path(os.path.abspath(tmt_dir))
    text = os.path.relpath(target, folder) if relative else os.fspath(target)
    path = folder / TMT_DIRNAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    try:
        os.write(fd, f"{POINTER_PREFIX}{text}\n".encode())
    finally:
        os.close(fd)
    return path


def _same_dir(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


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


def _fetch_from_remote(store: ObjectStore, oid: str) -> bool:
    """A lazy clone's missing object, from its remote: handed to the store, which never
    imports the remote layer (tmt/remote/lazy.py loads on the first miss only)."""
    from tmt.remote.lazy import fetch_missing

    return fetch_missing(store, oid)
