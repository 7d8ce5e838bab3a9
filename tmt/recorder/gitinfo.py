"""The git state a run records ({commit, branch, dirty}), read from the .git files.

Starting `git status` costs a process and a second walk of the tree on every run (20-35 ms
at 5,000 files, more than the snapshot of an unchanged tree). Instead: HEAD, its branch and
commit come from .git/HEAD, the loose ref or packed-refs; "dirty" (a tracked file changed,
staged or not; untracked files do not count, as with `git status --untracked-files=no`)
from the index, checked against what the snapshot has just seen:

- every index entry's stat data is compared with the stat key the snapshot took of that
  file (a tracked file tmt leaves out, or outside the code root, is lstat-ed here); an entry
  that differs, or that git itself would call racily clean, is read and its git blob id
  computed, as git does;
- index against HEAD: the index's cache tree (the TREE extension git writes on every commit)
  names the tree the index would commit; equal to HEAD's tree, nothing is staged.

Whatever this reader does not handle exactly as git would (a submodule, a split or sparse
index, no valid cache tree, SHA-256 repositories, a content difference where attributes or
autocrlf may apply, GIT_* variables that move the repository) is left to `git status`
(tmt.recorder.env.GitProbe), so the answer never differs from git's.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Variables that make git look elsewhere than the .git found from the code root.
_GIT_ENV = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT",
    "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_NAMESPACE",
)
#: Settings that change how git compares files or finds them; any of them: ask git.
_CONFIG_WORDS = (b"autocrlf", b"attributesfile", b"worktree", b"include", b"objectformat", b"splitindex",
                 b"sparse", b"refstorage")
_S_IFMT, _S_IFREG, _S_IFLNK = 0o170000, 0o100000, 0o120000
_M32 = 0xFFFFFFFF


class _AskGit(Exception):
    """This repository needs git's own answer."""


def git_state(root: Path, snap: Any = None, *, cache_dir: Path | None = None,
              tmp_dir: Path | None = None) -> dict[str, Any] | None:
    """{commit, branch, dirty} of the git work tree holding `root`, or None outside one (or
    where git refuses the repository). `snap` is the SnapshotResult just taken of `root`:
    its stat keys spare a second walk. With `cache_dir`, an answer is kept there
    (GIT_CACHE_NAME) and reused while the index, HEAD and the snapshot's tree are unchanged
    and the tracked files the snapshot does not cover keep their stat keys; and the last
    clean pass (BASE_CACHE_NAME) spares comparing the folders whose tree id did not move."""
    try:
        return _read(Path(root).absolute(), snap, cache_dir, tmp_dir)
    except Exception:  # _AskGit, or .git files this reader does not understand: git knows
        from tmt.recorder.env import GitProbe

        return GitProbe(root).result()


def _read(root: Path, snap: Any, cache_dir: Path | None, tmp_dir: Path | None) -> dict[str, Any] | None:
    if any(v in os.environ for v in _GIT_ENV):
        raise _AskGit
    found = _find_git(root)
    if found is None:
        return None
    top, git_dir = found
    common = git_dir
    try:
        with open(os.path.join(git_dir, "commondir"), "rb") as f:
            common = os.path.normpath(os.path.join(git_dir, os.fsdecode(f.read().strip())))
    except FileNotFoundError:
        pass
    if hasattr(os, "geteuid") and {os.stat(top).st_uid, os.stat(git_dir).st_uid} != {os.geteuid()}:
        raise _AskGit  # git's safe.directory check decides whether it reads this one
    _check_config(common, git_dir)
    commit, branch = _head(git_dir, common)
    try:
        ist = os.stat(os.path.join(git_dir, "index"))
    except FileNotFoundError:
        if commit is not None:
            raise _AskGit from None  # no index but a commit: every file deleted, or git knows why
        return {"commit": commit, "branch": branch, "dirty": False}
    state = [os.fspath(root), top, commit, [ist.st_size, ist.st_mtime_ns, ist.st_ctime_ns, ist.st_ino],
             getattr(snap, "tree", None)]
    cache = _cache_path(cache_dir, root) if cache_dir is not None and state[4] is not None else None
    dirty = _cached(cache, state) if cache is not None else None
    if dirty is None:
        base_path = cache.with_name(BASE_CACHE_NAME + cache.name[len(GIT_CACHE_NAME):]) if cache else None
        base = _load_base(base_path, state[:4]) if base_path is not None else None
        dirty, extras, new_base = _dirty(top, git_dir, common, commit, root, snap, ist.st_mtime_ns, base)
        if cache is not None and extras is not None:
            _save(cache, tmp_dir, {"state": state, "extras": extras, "dirty": dirty})
        if base_path is not None and new_base is not None:
            _save(base_path, tmp_dir, {"state": state[:4], "base": new_base})
    return {"commit": commit, "branch": branch, "dirty": dirty}


# -- the cache of the last answer ------------------------------------------------------------

GIT_CACHE_NAME = "git-v1"
#: Where the last full pass found a clean tree: per folder the tree id it had and the index
#: positions of its tracked files, and the positions of the tracked files lstat-ed instead.
#: While the index and HEAD are unchanged, a run compares only what moved since (`_moved`).
BASE_CACHE_NAME = "git-base-v1"
BASE_VERSION = 1
_MAX_CACHE_BYTES = 64 << 20


def _cache_path(cache_dir: Path, root: Path) -> Path:
    from blake3 import blake3

    return cache_dir / f"{GIT_CACHE_NAME}-{blake3(os.fsencode(root)).hexdigest()[:16]}"


def _cached(path: Path, state: list) -> bool | None:
    """The dirty flag stored for this same state, or None."""
    from tmt.store import codec
    from tmt.store.nofollow import read_file

    try:
        raw = read_file(path, limit=_MAX_CACHE_BYTES)  # never a planted link or FIFO
        if len(raw) > _MAX_CACHE_BYTES:
            return None
        data = codec.unpackb(raw, use_list=True)
        if not isinstance(data, dict) or data.get("state") != state:
            return None
        for name, key in data["extras"].items():
            st = os.lstat(name)
            if [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode] != key:
                return None
        dirty = data["dirty"]
        return dirty if isinstance(dirty, bool) else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _load_base(path: Path, state: list) -> list | None:
    """The base kept for this same index and HEAD, or None (absent, another state, malformed)."""
    from tmt.store import codec
    from tmt.store.nofollow import read_file

    try:
        raw = read_file(path, limit=_MAX_CACHE_BYTES)
        data = codec.unpackb(raw, use_list=True) if len(raw) <= _MAX_CACHE_BYTES else None
        if not isinstance(data, dict) or data.get("state") != state:
            return None
        base = data["base"]
        version, attributes, folders, lstated = base
        if version != BASE_VERSION or not isinstance(attributes, bool) or not _positions(lstated):
            return None
        for key, tree, offsets in folders:
            if not isinstance(key, bytes) or not (tree is None or isinstance(tree, bytes)) or not _positions(offsets):
                return None
        return base
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _positions(blob: object) -> bool:
    """Index positions as the base stores them: little-endian uint32s (read only where used,
    each at an entry of this same index: the base is for its exact stat key)."""
    return isinstance(blob, bytes) and len(blob) % 4 == 0


def _save(path: Path, tmp_dir: Path | None, data: dict) -> None:
    from tmt.store import codec
    from tmt.store.fsutil import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, codec.packb(data), tmp_dir or path.parent, durable=False)
    except Exception:
        pass  # a cache that cannot be written only costs speed next time


def _find_git(root: Path) -> tuple[str, str] | None:
    """(work tree top, git dir) from `root` upwards, stopping at GIT_CEILING_DIRECTORIES."""
    ceilings = {os.path.abspath(p) for p in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if p}
    for d in (root, *root.parents):
        d_s = os.fspath(d)
        if d != root and d_s in ceilings:
            return None
        dot = os.path.join(d_s, ".git")
        try:
            st = os.stat(dot)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode):
            if not os.path.exists(os.path.join(dot, "HEAD")):
                raise _AskGit
            return d_s, dot
        with open(dot, "rb") as f:  # a worktree or submodule: "gitdir: <path>"
            text = f.read(4096).decode("utf-8", "surrogateescape").strip()
        if not text.startswith("gitdir:") or not st.st_size:
            raise _AskGit
        return d_s, os.path.normpath(os.path.join(d_s, text[len("gitdir:"):].strip()))
    return None


def _check_config(common: str, git_dir: str) -> None:
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    paths = {os.path.join(common, "config"), os.path.join(git_dir, "config.worktree"),
             os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config"), "/etc/gitconfig"}
    for path in paths:
        try:
            with open(path, "rb") as f:
                text = f.read().lower()
        except FileNotFoundError:
            continue
        if any(w in text for w in _CONFIG_WORDS) or b"filemode" in text and _no_filemode(text):
            raise _AskGit
    if os.path.exists(os.path.join(common, "objects", "info", "alternates")):
        raise _AskGit


def _no_filemode(text: bytes) -> bool:
    """core.filemode set false: git then ignores the executable bit, and so must we."""
    for line in text.splitlines():
        words = line.split(b"#")[0].split(b";")[0].replace(b" ", b"").replace(b"\t", b"")
        if words.startswith(b"filemode=") and words[9:] in (b"false", b"no", b"off", b"0"):
            return True
    return False


def _head(git_dir: str, common: str) -> tuple[str | None, str | None]:
    """(commit hex or None on an unborn branch, branch name or None when detached)."""
    with open(os.path.join(git_dir, "HEAD"), "rb") as f:
        head = f.read().decode("utf-8", "surrogateescape").strip()
    if not head.startswith("ref:"):
        return _hex40(head), None
    ref = head[4:].strip()
    if not ref.startswith("refs/heads/"):
        raise _AskGit  # HEAD on a non-branch ref (or reftable's placeholder)
    branch = ref[len("refs/heads/"):].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _resolve(common, ref), branch  # a name that is not UTF-8 as git status prints it


def _hex40(text: str) -> str:
    if len(text) != 40 or any(c not in "0123456789abcdef" for c in text):
        raise _AskGit
    return text


def _resolve(common: str, ref: str) -> str | None:
    try:
        with open(os.path.join(common, ref), "rb") as f:
            value = f.read().decode("utf-8", "surrogateescape").strip()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        value = None
    if value is not None:
        if value.startswith("ref:"):
            raise _AskGit  # a symbolic ref: rare, git follows it
        return _hex40(value)
    try:
        with open(os.path.join(common, "packed-refs"), "rb") as f:
            packed = f.read()
    except FileNotFoundError:
        return None  # unborn branch
    want = b" " + os.fsencode(ref)
    for line in packed.splitlines():
        if line.endswith(want) and not line.startswith((b"#", b"^")):
            return _hex40(line[:40].decode("ascii", "replace"))
    return None


# -- dirty -----------------------------------------------------------------------------------


def _dirty(top: str, git_dir: str, common: str, commit: str | None, root: Path, snap: Any,
           index_mtime: int, base: list | None = None) -> tuple[bool, dict[bytes, list] | None, list | None]:
    """(dirty, the stat keys of the tracked files lstat-ed here or None if the answer must not
    be cached (decided before the end, or a file racily clean for the cache), a new base or
    None). With `base` (what the last full pass over this same index and HEAD found, all
    clean), only the entries of folders whose tree id moved since, and of files the snapshot
    does not cover, are compared: an unchanged folder holds the same bytes as then."""
    import struct
    import time

    with open(os.path.join(git_dir, "index"), "rb") as f:
        data = f.read()
    if data[:4] != b"DIRC" or len(data) < 32:
        raise _AskGit
    version, count = struct.unpack_from(">II", data, 4)
    if version not in (2, 3, 4):
        raise _AskGit
    top_b = os.fsencode(top)
    root_b = os.fsencode(root)
    if root_b == top_b:
        prefix: bytes | None = b""
    elif root_b.startswith(top_b + b"/"):
        prefix = root_b[len(top_b) + 1:] + b"/"
    else:
        prefix = None  # the code root is not inside this work tree as spelled: lstat all
    dirs = (getattr(snap, "dirs", None) if prefix is not None else None) or {}
    check = _Check(top_b, prefix, dirs, index_mtime, time.time_ns())
    if base is not None and version != 4 and commit is not None:
        for pos in _moved(base, dirs):
            if check.entry(data, pos, _entry(data, pos)[0]):
                return True, None, None
        return (*check.content(common, base[1]), None)
    if _scan(data, version, count, check):
        return True, None, None
    tree = _cache_tree(data[check.end:])
    if commit is None:
        if count:
            return True, None, None  # files staged for the first commit
    elif tree is None or tree != _commit_tree(common, commit):
        raise _AskGit  # something is staged, or the index cannot say without git
    dirty, extras = check.content(common, check.attributes)
    new_base = None
    if not dirty and extras is not None and version != 4 and commit is not None:
        folders = [[key, dirs[key][0], _packed(offsets)] for key, offsets in check.folders.items()]
        new_base = [BASE_VERSION, check.attributes, folders, _packed(check.lstated)]
    return dirty, extras, new_base


def _entry(data: bytes, pos: int) -> tuple[bytes, int]:
    """(path, position of the next entry) of a version 2 or 3 index entry at `pos`."""
    start = pos + 64 if data[pos + 60] & 0x40 else pos + 62  # extended flags (v3)
    end = data.index(b"\0", start)
    return data[start:end], pos + ((end - pos + 8) & ~7)  # NUL-padded to a multiple of 8 bytes


def _scan(data: bytes, version: int, count: int, check: _Check) -> bool:
    """Every entry compared (check.end: where the extensions start); True: dirty for sure."""
    import struct

    unpack = struct.Struct(">10I20sH").unpack_from
    pos = 12
    path = b""
    for _ in range(count):
        flags = unpack(data, pos)[11]
        if version == 4:
            start = pos + 64 if flags & 0x4000 else pos + 62
            strip, start = _varint(data, start)
            end = data.index(b"\0", start)
            path = path[: len(path) - strip] + data[start:end]
            nxt = end + 1
        else:
            path, nxt = _entry(data, pos)
        if path.endswith(b".gitattributes") and (path == b".gitattributes" or path.endswith(b"/.gitattributes")):
            check.attributes = True
        if check.entry(data, pos, path):
            return True
        pos = nxt
    check.end = pos
    return False


def _moved(base: list, dirs: dict) -> list[int]:
    """The index positions to compare again: the files the snapshot did not cover, and the
    tracked files of every folder whose tree id is not the base's."""
    out = list(_unpacked(base[3]))
    for key, tree, offsets in base[2]:
        info = dirs.get(key)
        if info is None or tree is None or info[0] != tree:
            out.extend(_unpacked(offsets))
    return out


def _packed(positions: list[int]) -> bytes:
    import struct

    return struct.pack(f"<{len(positions)}I", *positions)


def _unpacked(blob: bytes) -> tuple[int, ...]:
    import struct

    return struct.unpack(f"<{len(blob) // 4}I", blob)


class _Check:
    """Index entries compared with the files: with the snapshot's stat key of each file it
    covers, else an lstat. `to_read` collects the entries git would read (stat data differs,
    or racily clean); `folders` and `lstated` the positions compared each way (a base)."""

    def __init__(self, top_b: bytes, prefix: bytes | None, dirs: dict, index_mtime: int, now: int) -> None:
        import struct

        from tmt.snapshot.statcache import is_racy

        self.unpack = struct.Struct(">10I20sH").unpack_from
        self.unpack_ext = struct.Struct(">H").unpack_from
        self.is_racy = is_racy
        self.top_b, self.prefix, self.dirs = top_b, prefix, dirs
        self.index_mtime, self.now = index_mtime, now
        #: (path, sha, index mode, the snapshot's blob id of the file or None if lstat-ed here)
        self.to_read: list[tuple[bytes, bytes, int, bytes | None]] = []
        self.extras: dict[bytes, list] = {}
        self.cacheable = True
        self.attributes = False
        self.folders: dict[bytes, list[int]] = {}
        self.lstated: list[int] = []
        self.end = 0

    def entry(self, data: bytes, pos: int, path: bytes) -> bool:
        """Compare the entry at `pos` (whose path is `path`); True: the tree is dirty for sure."""
        ctime_s, ctime_n, mtime_s, mtime_n, _dev, ino, mode, _uid, _gid, size, sha, flags = self.unpack(data, pos)
        skip = flags & 0x8000  # assume-unchanged
        if flags & 0x4000:  # extended flags (v3+)
            ext = self.unpack_ext(data, pos + 62)[0]
            if ext & 0x2000:  # intent-to-add: git status shows it as added
                return True
            skip |= ext & 0x4000  # skip-worktree
        if (flags >> 12) & 3:
            return True  # unmerged
        if mode & _S_IFMT not in (_S_IFREG, _S_IFLNK):
            raise _AskGit  # a submodule (or a sparse directory entry)
        if skip:
            return False
        key = oid = None
        prefix = self.prefix
        if prefix is not None and path.startswith(prefix):
            d, _, name = path[len(prefix):].rpartition(b"/")
            folder = d + b"/" if d else b""
            info = self.dirs.get(folder)
            if info is not None:
                hit = info[4].get(name)
                if hit is not None:
                    key, oid = hit[0], hit[1]  # (size, mtime_ns, ctime_ns, inode), taken by this snapshot
                    self.folders.setdefault(folder, []).append(pos)
        if key is None:
            self.lstated.append(pos)
            full = os.path.join(self.top_b, path)
            try:
                st = os.lstat(full)
            except (FileNotFoundError, NotADirectoryError):
                return True  # a tracked file deleted
            if st.st_mode & _S_IFMT not in (_S_IFREG, _S_IFLNK):
                return True  # now a folder or something else
            if _mode_of(st.st_mode) != mode:
                return True
            key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            self.extras[full] = [*key, st.st_mode]
            if self.is_racy(max(key[1], key[2]), self.now):
                self.cacheable = False  # it may change again unseen within its timestamp's tick
        k_size, k_mtime, k_ctime, k_ino = key
        if (
            k_size & _M32 != size
            or (k_mtime // 1_000_000_000) & _M32 != mtime_s
            or k_mtime % 1_000_000_000 != mtime_n
            or (k_ctime // 1_000_000_000) & _M32 != ctime_s
            or k_ctime % 1_000_000_000 != ctime_n
            or k_ino & _M32 != ino
            or k_mtime >= self.index_mtime  # racily clean: git looks at the content too
        ):
            self.to_read.append((path, sha, mode, oid))
        return False

    def content(self, common: str, attributes: bool) -> tuple[bool, dict[bytes, list] | None]:
        """The entries whose stat data did not vouch for them, read and hashed as git would.

        A file the snapshot covers is read here again, a moment after the snapshot read it:
        if its bytes are no longer the snapshot's (a write in between), the answer is not the
        recorded tree's, and is not cached (the cache is keyed by the tree id)."""
        extras = self.extras if self.cacheable else None
        for path, sha, mode, oid in self.to_read:
            full = os.path.join(self.top_b, path)
            try:
                st = os.lstat(full)
                if st.st_mode & _S_IFMT == _S_IFLNK:
                    content = os.readlink(full)
                else:
                    with open(full, "rb") as f:
                        content = f.read()
            except (FileNotFoundError, NotADirectoryError):
                return True, None
            if oid is not None and extras is not None:
                from blake3 import blake3  # (loaded already: the snapshot's hash)

                if blake3(content).digest() != oid:
                    extras = None
            if _mode_of(st.st_mode) != mode:
                return True, extras
            if _blob_id(content) != sha:
                if attributes or os.path.exists(os.path.join(common, "info", "attributes")):
                    raise _AskGit  # a filter or eol conversion may make it equal after all
                return True, extras
        return False, extras


def _mode_of(st_mode: int) -> int:
    if st_mode & _S_IFMT == _S_IFLNK:
        return _S_IFLNK
    return 0o100755 if st_mode & 0o100 else 0o100644


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """git's offset varint (index v4 path prefix lengths)."""
    c = data[pos]
    pos += 1
    value = c & 0x7F
    while c & 0x80:
        c = data[pos]
        pos += 1
        value = ((value + 1) << 7) | (c & 0x7F)
    return value, pos


def _cache_tree(rest: bytes) -> bytes | None:
    """The root tree id the index's TREE extension holds, or None (absent or invalidated).
    A split or sparse index ("link", "sdir") is git's to read."""
    import struct

    pos = 0
    found = None
    while pos + 8 <= len(rest) - 20:
        sig = rest[pos:pos + 4]
        (size,) = struct.unpack_from(">I", rest, pos + 4)
        body = rest[pos + 8:pos + 8 + size]
        if sig in (b"link", b"sdir"):
            raise _AskGit
        if sig == b"TREE":
            nul = body.index(b"\0")
            if nul != 0:
                return None  # the first entry is always the root
            nl = body.index(b"\n", nul)
            entries, _, _subtrees = body[nul + 1:nl].partition(b" ")
            if int(entries) < 0:
                return None
            found = body[nl + 1:nl + 21]
        pos += 8 + size
    return found


def _blob_id(content: bytes) -> bytes:
    import hashlib

    h = hashlib.sha1(b"blob %d\0" % len(content))
    h.update(content)
    return h.digest()


def _commit_tree(common: str, commit: str) -> bytes:
    """The tree id of `commit`, from its loose object or a pack (an undeltified commit)."""
    import zlib

    raw = None
    try:
        with open(os.path.join(common, "objects", commit[:2], commit[2:]), "rb") as f:
            raw = zlib.decompressobj().decompress(f.read(), 4096)
    except FileNotFoundError:
        raw = _packed_commit(os.path.join(common, "objects", "pack"), bytes.fromhex(commit))
    if raw is None:
        raise _AskGit
    header, _, body = raw.partition(b"\0")
    if not header.startswith(b"commit ") or not body.startswith(b"tree "):
        raise _AskGit
    return bytes.fromhex(body[5:45].decode("ascii"))


def _packed_commit(pack_dir: str, oid: bytes) -> bytes | None:
    import struct
    import zlib

    try:
        names = [n for n in os.listdir(pack_dir) if n.endswith(".idx")]
    except FileNotFoundError:
        return None
    for name in names:
        with open(os.path.join(pack_dir, name), "rb") as f:
            idx = f.read()
        if idx[:8] != b"\xfftOc\x00\x00\x00\x02":
            raise _AskGit
        fan = struct.unpack_from(">256I", idx, 8)
        total = fan[255]
        lo = fan[oid[0] - 1] if oid[0] else 0
        hi = fan[oid[0]]
        base = 8 + 1024
        while lo < hi:
            mid = (lo + hi) // 2
            cand = idx[base + 20 * mid: base + 20 * mid + 20]
            if cand < oid:
                lo = mid + 1
            elif cand > oid:
                hi = mid
            else:
                break
        else:
            continue
        offs_at = base + 24 * total + 4 * mid  # after the ids and the CRC32s
        (offset,) = struct.unpack_from(">I", idx, offs_at)
        if offset & 0x80000000:
            big_at = base + 28 * total + 8 * (offset & 0x7FFFFFFF)
            (offset,) = struct.unpack_from(">Q", idx, big_at)
        with open(os.path.join(pack_dir, name[:-4] + ".pack"), "rb") as f:
            f.seek(offset)
            chunk = f.read(8192)
        c = chunk[0]
        kind = (c >> 4) & 7
        size = c & 15
        i, shift = 1, 4
        while c & 0x80:
            c = chunk[i]
            size |= (c & 0x7F) << shift
            shift += 7
            i += 1
        if kind != 1:
            raise _AskGit  # a deltified commit
        body = zlib.decompressobj().decompress(chunk[i:], 4096)
        return b"commit %d\0" % size + body
    return None
