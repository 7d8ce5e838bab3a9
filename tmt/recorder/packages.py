"""Which installed distributions a run imported, and their versions (the record's env.packages).

At the end of a run, the top-level names in `sys.modules` (less the standard library's) are
mapped to the distributions that provide them, so a record says which numpy and
scikit-learn produced it.

`importlib.metadata.packages_distributions()` answers that by reading every installed
distribution's metadata on each call (tens of milliseconds in a data-science venv). Here
the mapping {top-level module: [(distribution, version, site folder, editable)]} is built
once per environment from the `*.dist-info` / `*.egg-info` folders on `sys.path`, and kept in
`.tmt/cache/packages-<h>.json`. It stays valid while every folder that held distributions has
the same (mtime_ns, inode): installing, upgrading or removing a distribution adds or removes
a metadata folder there, which changes the folder's mtime. A run then costs a few stats and
one small JSON read.
"""
from __future__ import annotations

import json
import os
import sys
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

CACHE_VERSION = 1
_META_SUFFIXES = (".dist-info", ".egg-info")
#: Metadata headers are read up to the first blank line, within this many bytes.
_HEADER_BYTES = 16384

#: The standard library, builtins, and what a .pth file imports in every process
#: (setuptools' distutils shim): never a distribution the run chose.
_SKIP = frozenset(sys.stdlib_module_names | set(sys.builtin_module_names) | {"__main__", "_distutils_hack"})
#: Top-level modules of tmt's own dependencies (and theirs). tmt imports some of them lazily
#: during a run (pathspec when ignore rules must be compiled, rich for a progress bar), so
#: they count only when the program had loaded them before its run started; otherwise
#: env.packages would change from run to run with what tmt happened to need.
TMT_OWN = frozenset({
    "blake3", "msgpack", "click", "rich", "pathspec", "tomli", "markdown_it", "mdurl", "pygments",
    "typing_extensions",
})
#: {top-level module name: [[distribution, version, site folder, editable], ...]}
Mapping = dict


def own_loaded() -> frozenset[str]:
    """Which of tmt's own dependencies are imported now (taken when a run starts)."""
    return TMT_OWN.intersection(sys.modules)


def imported_packages(cache_dir: "Path | None" = None, preloaded: "frozenset[str] | None" = None) -> dict[str, str]:
    """{distribution name: version} of the installed distributions whose modules are
    imported now, sorted by name. `cache_dir` (the store's cache folder) keeps the mapping
    between runs; without it, or if it cannot be written, the mapping is rebuilt. With
    `preloaded` (own_loaded() at the run's start), tmt's own dependencies count only if
    they are in it."""
    modules = sys.modules
    skip = _SKIP if preloaded is None else _SKIP | (TMT_OWN - preloaded)
    # Importing a.b imports a first, so every top-level name is a key of its own; list() is
    # a snapshot (other threads may import meanwhile).
    tops = {name: modules.get(name) for name in list(modules) if "." not in name and name not in skip}
    mapping = _mapping(cache_dir)
    out: dict[str, str] = {}
    for top, mod in tops.items():
        for dist, version, site, editable in mapping.get(top, ()):
            if editable or _loaded_from(mod, site):
                out[dist] = version
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def _loaded_from(mod: Any, site: str) -> bool:
    """Whether a module was imported from `site` (a project module that merely shares a
    distribution's top-level name, `utils` say, was not). No file (builtin, frozen): yes."""
    paths = []
    f = getattr(mod, "__file__", None)
    if isinstance(f, str):
        paths.append(f)
    else:
        paths.extend(p for p in (getattr(mod, "__path__", None) or ()) if isinstance(p, str))
    if not paths:
        return True
    prefix = site.rstrip(os.sep) + os.sep
    return any((p if os.path.isabs(p) else os.path.abspath(p)).startswith(prefix) for p in paths)


# -- the mapping, cached ------------------------------------------------------------------


def _search_path() -> list[str]:
    seen: dict[str, None] = {}
    for p in sys.path:
        if isinstance(p, str):
            seen.setdefault(os.path.abspath(p or "."), None)
    return list(seen)


def _signature(folder: str) -> str | None:
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return f"{st.st_mtime_ns}:{st.st_ino}"


def _cache_file(cache_dir: "Path", path: list[str]) -> str:
    from blake3 import blake3

    key = blake3("\0".join([sys.executable, *path]).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(os.fspath(cache_dir), f"packages-{key}.json")


def _mapping(cache_dir: "Path | None") -> Mapping:
    path = _search_path()
    cache = _cache_file(cache_dir, path) if cache_dir is not None else None
    if cache is not None:
        hit = _read_cache(cache)
        if hit is not None:
            return hit
    sites, mapping = build_mapping(path)
    if cache is not None:
        _write_cache(cache, cache_dir, sites, mapping)
    return mapping


def _read_cache(cache: str) -> Mapping | None:
    from tmt.store.nofollow import read_file

    try:
        data = json.loads(read_file(cache))  # in the store: never a link, never blocking on a FIFO
        if data.get("v") != CACHE_VERSION:
            return None
        for folder, sig in data["sites"].items():
            if _signature(folder) != sig:
                return None
        mapping = data["map"]
        return mapping if isinstance(mapping, dict) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # absent, torn or foreign: rebuilt


def _write_cache(cache: str, cache_dir: "Path", sites: dict[str, str], mapping: Mapping) -> None:
    from tmt.store.fsutil import atomic_write

    data = json.dumps({"v": CACHE_VERSION, "sites": sites, "map": mapping}, sort_keys=True).encode("utf-8")
    try:
        os.makedirs(cache_dir, exist_ok=True)
        atomic_write(cache, data, os.fspath(cache_dir), durable=False)  # a cache: losing it costs one rebuild
    except Exception:  # noqa: BLE001 - a read-only store, a full disk: the run goes on uncached
        pass


def build_mapping(path: list[str]) -> tuple[dict[str, str], Mapping]:
    """({folder: signature} of the folders holding distributions, the mapping), first
    folder on the path winning for a distribution installed twice (as import does)."""
    sites: dict[str, str] = {}
    mapping: Mapping = {}
    seen: set[str] = set()
    for folder in path:
        sig = _signature(folder)  # before listing: a change during the listing invalidates it
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        metas = [n for n in names if n.endswith(_META_SUFFIXES)]
        if not metas or sig is None:
            continue
        sites[folder] = sig
        for meta in sorted(metas):
            info = _read_distribution(os.path.join(folder, meta))
            if info is None:
                continue
            dist, version, tops, editable = info
            key = dist.lower().replace("-", "_").replace(".", "_")
            if key in seen:
                continue
            seen.add(key)
            for top in tops:
                mapping.setdefault(top, []).append([dist, version, folder, editable])
    return sites, mapping


def _read_distribution(meta: str) -> tuple[str, str, list[str], bool] | None:
    """(name, version, top-level module names, editable) of one metadata folder."""
    headers = _headers(os.path.join(meta, "METADATA")) or _headers(os.path.join(meta, "PKG-INFO"))
    if not headers or "name" not in headers:
        return None
    dist = headers["name"]
    version = headers.get("version") or "?"
    tops = _lines(os.path.join(meta, "top_level.txt"))
    if tops is None:
        tops = _tops_from_record(os.path.join(meta, "RECORD"))
    if not tops:  # no list of files: the import name is most often the distribution's
        tops = [dist.replace("-", "_").replace(".", "_").lower()]
    return dist, version, tops, _editable(meta)


def _headers(path: str) -> dict[str, str] | None:
    try:
        with open(path, "rb") as f:
            head = f.read(_HEADER_BYTES)
    except OSError:
        return None
    out: dict[str, str] = {}
    for raw in head.decode("utf-8", "replace").splitlines():
        if not raw.strip():
            break  # the body (long description) follows the first blank line
        key, sep, value = raw.partition(":")
        if sep and not raw[:1].isspace():
            k = key.strip().lower()
            if k in ("name", "version") and k not in out:
                out[k] = value.strip()
    return out


def _lines(path: str) -> list[str] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return None


def _tops_from_record(path: str) -> list[str]:
    """Top-level module names from a RECORD (wheels without top_level.txt, like numpy's)."""
    tops: dict[str, None] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                rel = line.split(",", 1)[0].strip().strip('"')
                if not rel or rel.startswith(("/", "..")):
                    continue
                first = rel.split("/", 1)[0]
                if first.endswith(_META_SUFFIXES) or first.endswith((".pth", ".data")) or first == "__pycache__":
                    continue
                if "/" in rel:
                    if first.isidentifier():
                        tops[first] = None
                else:
                    stem = first.split(".", 1)[0]  # mod.py, mod.cpython-311-x86_64-linux-gnu.so
                    if first.endswith((".py", ".so", ".pyd")) and stem.isidentifier():
                        tops[stem] = None
    except OSError:
        return []
    return list(tops)


def _editable(meta: str) -> bool:
    """An editable install (`pip install -e`): its modules live outside the site folder."""
    try:
        with open(os.path.join(meta, "direct_url.json"), "rb") as f:
            info = json.loads(f.read())
        return bool(info.get("dir_info", {}).get("editable"))
    except (OSError, ValueError, AttributeError):
        return False
