"""snapshot(code root) -> tree id: walk, reuse cached blob ids, hash what changed, build trees.

Hot path. An unchanged tree costs one stat-walk plus the in-memory tree encodings: the
stat cache supplies every blob id, and the gc epoch tells us whether the objects the cache
saw can have been removed since (only then is each checked on disk).

Concurrency with gc (docs/format.md, "gc protocol"): every id we rely on is pinned *before*
we check that it exists, and the epoch is read *after* the pins are written.
"""
from __future__ import annotations

import builtins
import os
import time
from collections.abc import Callable, Mapping
from operator import attrgetter, itemgetter
from pathlib import Path

from blake3 import blake3

from tmt._units import format_size as _human  # one size format for every module
from tmt._warn import warn as default_warn
from tmt.errors import CorruptObject, ObjectNotFound, SnapshotError, StoreError, UnsafePath
from tmt.snapshot import precheck
from tmt.snapshot import tree as treemod
from tmt.snapshot.ignore import (
    ALWAYS_IGNORED, BUILTIN_DIRS, ENV_MARKERS, IGNORE_FILES, Rules, is_ignored, load_rules, reincluded,
)
from tmt.snapshot.statcache import (
    BYTES, ENTRIES, ENTRY_KEY, ENTRY_OID, FILES, KEY_CTIME, KEY_MTIME, KEY_SIZE, LEFT, PLAN, ROWS, SIG, TREE, Entries,
    StatCache, is_racy,
)
from tmt.store.ids import ObjectId
from tmt.store.objects import Batch, ObjectStore
from tmt.store.pins import PinFile

HASH_THREADS = min(8, (os.cpu_count() or 2) * 2)
_THREAD_MIN = 32  # below this many changed files threads cost more than they save
#: A chunk of files is read, pinned and written together; its size bounds memory per thread.
CHUNK_FILES = 64
CHUNK_BYTES = 32 * 1024 * 1024
#: The phase name progress callbacks receive: callback(PROGRESS_PHASE, files done, total).
PROGRESS_PHASE = "snapshot"
_MAX_RETRIES = 3
_IGNORE_NAMES = frozenset(os.fsencode(n) for n in IGNORE_FILES)
_SPECIAL_NAMES = _IGNORE_NAMES | ENV_MARKERS
#: A first snapshot past either of these says so (a stray dataset or venv is then noticed).
BIG_FILES = 5_000
BIG_BYTES = 100 * 1024 * 1024
_row_name = itemgetter(0)
# Applied with map() over a whole listing: C calls only, no Python bytecode per entry.
_NAME = attrgetter("name")
_KEY = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")
_FILE, _EXEC, _LINK, _TREE = treemod.FILE, treemod.EXEC, treemod.SYMLINK, treemod.TREE


def _settled(key: tuple, walk_start_ns: int) -> tuple:
    """The key to cache for a file just read: its own, or, if it is racily clean (it may be
    written again within the clock's tick without its key changing), the same with ctime -1,
    which no lstat returns. Such an entry keeps the file's name, id and size, so its folder
    keeps a plan and no ignore rule is asked about the name, but it is never a hit: the
    next snapshot reads the file again and caches its real key then."""
    if is_racy(max(key[KEY_MTIME], key[KEY_CTIME]), walk_start_ns):  # ctime too: see is_racy
        return (key[KEY_SIZE], key[KEY_MTIME], -1, *key[KEY_CTIME + 1:])
    return key


class _Borrowed:
    """A caller's batch as the context of a snapshot: committed (or aborted) by its owner, not
    here. (Not contextlib.nullcontext: contextlib is the only thing a run would import it for.)"""

    __slots__ = ("batch",)

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def __enter__(self) -> Batch:
        return self.batch

    def __exit__(self, *exc: object) -> None:
        return None


class SnapshotResult:
    """What a snapshot made and saw. `skipped`: (path, reason); `hashed`: files read this
    time (not from the cache); `checkout_temps`: temp files a killed in-place checkout left
    (never recorded; the next checkout removes them); `dirs`: what the walk saw, per folder
    relative to the root (b"" or b"a/b/"), the stat cache's DirInfo, whose entries hold each
    file's stat key (tmt.recorder.gitinfo compares them with git's index instead of walking
    the tree again)."""

    __slots__ = ("tree", "files", "bytes", "skipped", "new_objects", "new_bytes", "hashed", "checkout_temps", "_dirs",
                 "_source")
    _REPR = __slots__[:-2]  # not dirs: thousands of folders

    def __init__(self, tree: ObjectId, files: int, bytes: int, skipped: list[tuple[str, str]] | None = None,
                 new_objects: int = 0, new_bytes: int = 0, hashed: int = 0,
                 checkout_temps: list[builtins.bytes] | None = None, dirs: dict[builtins.bytes, tuple] | None = None,
                 ) -> None:
        self.tree = tree
        self.files = files
        self.bytes = bytes
        self.skipped = [] if skipped is None else skipped
        self.new_objects = new_objects
        self.new_bytes = new_bytes
        self.hashed = hashed
        self.checkout_temps = [] if checkout_temps is None else checkout_temps
        self._dirs = dirs
        self._source: StatCache | None = None  # whose dirs these are, while not asked for

    @property
    def dirs(self) -> dict[builtins.bytes, tuple]:
        if self._dirs is None:
            self._dirs = self._source.dirs if self._source is not None else {}
            self._source = None
        return self._dirs

    @dirs.setter
    def dirs(self, dirs: dict[builtins.bytes, tuple]) -> None:
        self._dirs = dirs

    def __repr__(self) -> str:
        return f"SnapshotResult({', '.join(f'{n}={getattr(self, n)!r}' for n in self._REPR)})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in (*self._REPR, "dirs"))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class _Dir:
    """One directory as walked. `rows` are tree rows [name, kind, oid32, size]; the oid of a
    subtree row, or of a file still to be read, is filled in later. `same` means the stat
    cache vouches for the whole directory: `info` (tree id, bytes, files) is reused as is.
    `left` is what was left out here: name (b"name/" for a folder) -> None when the ignore
    rules (or a built-in exclude) left it out, (mtime_ns, inode) of a Python environment.
    `dkey` is the folder's own (mtime_ns, ctime_ns, inode) taken before listing it (None if
    racily clean), `count` its entries, `special` its ignore files and environment markers,
    `walked` the subfolders walked, `fixed` the entries never taken (.git, .tmt, excluded
    paths): with `entries` and `left`, what the plan of the listing is made of (`_plan`)."""

    __slots__ = ("rel", "rows", "subdirs", "entries", "reused", "same", "info", "sig", "left", "dkey",
                 "count", "special", "walked", "fixed")

    def __init__(self, rel: bytes) -> None:
        self.rel = rel
        self.same = False
        self.info: tuple = (None, 0, 0)
        self.sig = b""  # digest of the ignore rules in force here
        self.left: dict[bytes, tuple | None] = {}
        self.dkey: tuple | None = None
        self.count = 0
        self.special: tuple[bytes, ...] = ()
        self.walked: list[bytes] = []
        self.fixed = 0

    def open(self) -> None:
        """Make room for the rows of a directory built again (not for one replayed or reused:
        most folders of a run are, and each list made is one more object for the cycle
        collector to visit)."""
        self.rows: list[list] = []
        self.subdirs: list[tuple[list, _Dir]] = []
        self.entries: dict[bytes, tuple] = {}  # name -> (key, oid32): the cache's next state
        self.reused: list[bytes] = []  # ids taken from the cache without reading the file


class _Retry(Exception):
    """Objects the cache vouched for are gone (gc removed them): walk again without them."""


_S_IFMT, _S_IFREG, _S_IFLNK = 0o170000, 0o100000, 0o120000


class _Snapshotter:
    def __init__(
        self,
        root: Path,
        store: ObjectStore,
        *,
        cache_dir: Path | None,
        max_file_size: int,
        exclude: list[Path],
        pin: PinFile,
        progress: Callable[[str, int, int], None] | None,
        warn: Callable[[str], None],
        stat_cache: StatCache | None = None,
        batch: Batch | None = None,
    ) -> None:
        self.root = os.fsencode(root.absolute())
        self.batch = batch
        self.store = store
        self.cache_dir = cache_dir
        self.max_file_size = max_file_size
        self.exclude = {os.fsencode(Path(p).absolute()) for p in exclude}
        self.pin = pin
        self.progress = progress
        self.warn = warn
        if stat_cache is not None:
            self.cache = stat_cache
        else:
            self.cache = StatCache.load(cache_dir, os.fsdecode(self.root)) if cache_dir else StatCache()
        self.first = cache_dir is not None and self.cache.empty()  # nothing seen here before
        # The plans in the cache were made under these settings, and are replayed only under them.
        self.settings = (max_file_size, tuple(sorted(self.exclude)))

    def _reset(self, trusted: bool) -> None:
        self.trusted = trusted  # may whole directories be reused from the cache?
        self.hashed = 0
        self.skipped: list[tuple[str, str]] = []
        self.too_large: list[str] = []
        self.pending: list[tuple[list, bytes, bytes, bytes, _Dir, tuple]] = []
        self.to_pin: list[bytes] = []  # ids relied on without writing them (checked if untrusted)
        self.sizes: dict[bytes, int] = {}  # file blob ids taken from the cache -> size they must have
        self.blobs: list[tuple[bytes, bytes]] = []  # small blobs made in the walk (symlink targets)
        self.holes = False  # some row lost its file (vanished, unreadable)
        self.new_dirs: dict[bytes, tuple] = {}
        self.new_rules: dict[bytes, tuple] = {}
        self.rules_read = False  # some ignore file was read (not vouched for by the cache)
        self.changed = False
        self.left_changed = False  # the tree is the same, but what was left out (or its plan) is not
        self.replay = trusted and self.cache.settings == self.settings
        self.temps: list[bytes] = []
        self.walk_start_ns = time.time_ns()
        # Folders whose plan the pre-pass found holding: the walk neither stats nor lstats
        # them again; when that is every folder, there is no walk (run_once).
        check = self.cache.check if self.replay else None
        self.vouched: set[bytes] | frozenset[bytes] = frozenset()
        self.whole: set[bytes] | frozenset[bytes] = frozenset()  # vouched, and every folder below too
        self.all_vouched = False
        if check:
            self.vouched, self.all_vouched = precheck.vouched(check)
            if not self.all_vouched and self.vouched:
                self.whole = self.vouched - _with_ancestors(r for r in self.cache.dirs if r not in self.vouched)

    # -- phase 1: walk ---------------------------------------------------------------------

    def walk(self, dir_abs: bytes, rel: bytes, stack: list[Rules]) -> _Dir | None:
        """The directory as walked, or None for a Python environment left out."""
        d = _Dir(rel)
        old = self.cache.dirs.get(rel)
        plan = old[PLAN] if self.replay and old is not None and len(old) > PLAN else None
        # The folder's own key is taken before it is listed: an entry added or removed after
        # this moves its mtime, so the key stored with this listing can never vouch for a
        # later one. While it is unchanged, the listing is the one the plan was made from.
        if rel in self.vouched:
            dkey = tuple(plan[0])  # type: ignore[index]  # vouched: only folders with a plan
        else:
            try:
                st = os.stat(dir_abs)
                dkey = (st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            except OSError:
                dkey = None
        d.dkey = None if dkey is None or is_racy(max(dkey[0], dkey[1]), self.walk_start_ns) else dkey
        entries: list | None = None
        if plan is not None and dkey is not None and dkey == plan[0]:
            special = plan[1]
        else:
            entries = self._list(d, dir_abs, rel)
            if entries is None:
                return d
            names = tuple(map(_NAME, entries))
            d.count = len(names)
            # One C-level set test finds ignore files and environment markers alike.
            special = () if _SPECIAL_NAMES.isdisjoint(names) else tuple(n for n in names if n in _SPECIAL_NAMES)
        d.special = special
        if special:
            if rel and not ENV_MARKERS.isdisjoint(special) and not reincluded(stack, os.fsdecode(rel)):
                return None  # a virtualenv or conda env: not code, and never to be deleted
            if not _IGNORE_NAMES.isdisjoint(special):
                rules = self._rules(dir_abs, rel, special, stack[-1].sig if stack else b"")
                if rules is not None:
                    stack = [*stack, rules]
        d.sig = stack[-1].sig if stack else b""
        old_entries = old[ENTRIES] if old is not None else {}
        same = old is not None and self.trusted
        # Under the same ignore rules, what was kept last time is kept now and what was left
        # out is left out: an unchanged tree asks the rules nothing (no pattern is compiled).
        known = old is not None and old[SIG] == d.sig
        replayed: list[tuple[bytes, _Dir]] = []
        if entries is None:
            if known and old is not None and self._replay(d, dir_abs, old, stack, replayed):
                return d
            entries = self._list(d, dir_abs, rel)
            if entries is None:
                return d
            d.count = len(entries)
        old_left = old[LEFT] if old is not None and known and len(old) > LEFT and isinstance(old[LEFT], dict) else {}
        # A directory the cache vouches for but cannot replay: until something differs, only
        # count matching entries; a changed directory is then listed in full.
        nhits, subs = (self._scan(d, entries, stack, known, old_entries, old_left, None, done=replayed) if same
                       else (-1, replayed))
        if (
            old is not None
            and nhits >= 0
            and nhits == len(old_entries)
            and nhits + sum(1 for _, sub in subs if sub.info[TREE] is not None) == old[ROWS]
        ):
            d.same = True
            d.info = old[:ROWS]
            d.walked = [name for name, _ in subs]
            plan = self._plan(d, old_entries)
            if d.left != old_left or len(old) <= PLAN or plan != old[PLAN]:
                self.left_changed = True
            self.new_dirs[rel] = (old if old[SIG] == d.sig and d.left == old_left and len(old) > PLAN
                                  and plan == old[PLAN] else (*old[:SIG], d.sig, d.left, plan))
            return d
        self.changed = True
        d.open()
        hits: list[tuple[bytes, str, tuple]] = []
        misses: list[tuple[bytes, str, bytes, tuple]] = []
        _, subs = self._scan(d, entries, stack, known, old_entries, old_left, (hits, misses), done=subs)
        d.walked = [name for name, _ in subs]
        rows = d.rows
        new_entries = d.entries
        for name, kind, hit in hits:
            rows.append([name, kind, hit[ENTRY_OID], hit[ENTRY_KEY][KEY_SIZE]])
            new_entries[name] = hit
            d.reused.append(hit[ENTRY_OID])
            self.sizes[hit[ENTRY_OID]] = hit[ENTRY_KEY][KEY_SIZE]
        for name, sub in subs:
            if sub.same:
                if sub.info[TREE] is not None:  # else: empty or fully ignored, as last time
                    rows.append([name, _TREE, sub.info[TREE], sub.info[BYTES]])
                    d.reused.append(sub.info[TREE])
            else:
                row: list = [name, _TREE, None, 0]
                rows.append(row)
                d.subdirs.append((row, sub))
        for name, kind, path, key in misses:
            row = [name, kind, None, key[KEY_SIZE]]
            rows.append(row)
            if kind == _LINK:
                self._read_link(d, row, path, rel + name, key)
            else:
                self.pending.append((row, path, rel + name, name, d, key))
        rows.sort(key=_row_name)
        # Ids reused from the cache (files, unchanged subtrees): pinned and, if untrusted, checked.
        self.to_pin.extend(d.reused)
        return d

    def _list(self, d: _Dir, dir_abs: bytes, rel: bytes) -> list[os.DirEntry[bytes]] | None:
        """The folder's entries; None (the folder opened empty, the skip warned) if unlistable."""
        try:
            with os.scandir(dir_abs) as it:
                return list(it)
        except OSError as e:
            self._skip(rel or b".", f"cannot list directory: {e.strerror}")
            self.changed = True
            d.open()
            return None

    def _replay(self, d: _Dir, dir_abs: bytes, old: tuple, stack: list[Rules], walked: list) -> bool:
        """Whether the folder is as the cache's plan says (True: `d` is done, unchanged).

        Called when the folder's own key is the plan's (so is its listing: same names, each
        still a folder or not) and so are the rules in force (the caller compared their
        digest): then every decision is the one made last time, and only the kept files are
        lstat-ed (their keys compared with the cache's packed blob: C calls only, no Python
        per file), the environments left out checked and the subfolders walked. Subfolders
        walked before a difference is found are handed back in `walked`, not walked twice."""
        _, _, subs, envs = old[PLAN]
        cached = old[ENTRIES]
        if not isinstance(cached, Entries):
            return False
        prefix = dir_abs + b"/"
        rel = d.rel
        if rel in self.whole:
            self._reuse(rel)
            d.same = True
            d.info = old
            d.left = old[LEFT]
            return True
        if rel not in self.vouched:  # (else the pre-pass compared all of this)
            try:
                keys = list(map(_KEY, map(os.lstat, map(prefix.__add__, cached.names))))
                for name, env in envs:
                    st = os.lstat(prefix + name)
                    if (st.st_mtime_ns, st.st_ino) != env:
                        return False
            except OSError:
                return False  # gone since: the full pass reports it
            if not cached.matches(keys):
                return False
        for name in subs:
            sub = self.walk(prefix + name, rel + name + b"/", stack)
            if sub is None:
                return False  # now an environment: the full pass leaves it out
            walked.append((name, sub))
            if not sub.same:
                return False
        d.same = True
        d.info = old  # (TREE, BYTES, FILES come first)
        d.left = old[LEFT]
        self.new_dirs[rel] = old
        return True

    def _reuse(self, rel: bytes) -> None:
        """The cache's record of `rel` and of every folder below it, all vouched for under the
        rules in force (the caller compared their digest; below, their ignore files are
        unchanged): what walking each would record, in the walk's order, without walking."""
        info = self.cache.dirs[rel]
        rules = self.cache.rules.get(rel)
        if rules is not None:
            self.new_rules[rel] = rules
        for name in info[PLAN][2]:
            self._reuse(rel + name + b"/")
        self.new_dirs[rel] = info

    def _plan(self, d: _Dir, kept: Mapping) -> tuple | None:
        """How this listing was decided, for `_replay`: (the folder's key, its ignore files and
        environment markers, the subfolders walked, (name, key) of the environments left out;
        the files kept are the cache entries' names). None when the folder's key is racily
        clean or some entry was not decided for good (too large, unreadable, a socket): such
        a folder is listed and scanned in full every time. (A racily clean file is decided:
        kept, with a key that makes the next snapshot read it again: `_settled`.)"""
        if d.dkey is None or len(kept) + len(d.walked) + len(d.left) + d.fixed != d.count:
            return None
        envs = tuple((name[:-1], env) for name, env in d.left.items() if env is not None)
        return d.dkey, d.special, tuple(d.walked), envs

    def _rules(self, dir_abs: bytes, rel: bytes, special: tuple, parent_sig: bytes) -> Rules | None:
        """The rules of this folder's ignore files (among the `special` names); read only if
        their lstat keys changed."""
        keys: list = []
        racy = unreadable = False
        if rel in self.vouched:  # the pre-pass lstat-ed them: their keys are the record's
            keys = list(self.cache.rules[rel][1])
            special = ()
        for name in special:
            if name in _IGNORE_NAMES:
                try:
                    st = os.lstat(dir_abs + b"/" + name)
                except OSError:
                    unreadable = True
                    break
                keys.append((name, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_mode))
                racy = racy or is_racy(max(st.st_mtime_ns, st.st_ctime_ns), self.walk_start_ns)
        base = os.fsdecode(rel)
        if not unreadable:
            keys.sort()
            old = self.cache.rules.get(rel)
            if (
                old is not None and len(old) == 3 and old[0] == parent_sig and list(old[1]) == keys
                and (old[2] is None or isinstance(old[2], bytes))
            ):
                sig = old[2]
                if not racy:
                    self.new_rules[rel] = old
                return Rules.unread(dir_abs, base, sig, parent_sig, self.warn) if sig is not None else None
        rules = load_rules(dir_abs, base, parent_sig, self.warn)
        self.rules_read = True
        if not unreadable and not racy:
            self.new_rules[rel] = (parent_sig, [tuple(k) for k in keys], rules.sig if rules is not None else None)
        return rules

    def _scan(
        self, d: _Dir, entries: list, stack: list[Rules], known: bool, old_entries: dict, old_left: dict, out,
        done=None,
    ) -> tuple[int, list[tuple[bytes, _Dir]]]:
        """One pass over a directory's entries, filling `d.left`; subdirectories are walked
        (once: `done` holds those walked by an earlier, abandoned fast pass). Without `out`,
        stop at the first difference from the cache (count -1), else count the matching
        entries."""
        rel = d.rel
        left = d.left = {}
        d.fixed = 0
        walked = dict(done) if done else None
        subs: list[tuple[bytes, _Dir]] = []
        fast = out is None
        nhits = 0
        max_size = self.max_file_size
        for entry in entries:
            name = entry.name
            if len(name) == 4 and name.lower() in ALWAYS_IGNORED:  # .GIT too (tree.RESERVED_NAMES)
                d.fixed += 1
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.path in self.exclude:
                        d.fixed += 1
                        continue
                    if walked is not None and name in walked:
                        sub = walked.pop(name)
                        subs.append((name, sub))
                        if fast and not sub.same:  # (its info is not built yet: not "empty")
                            return -1, subs
                        continue
                    child_rel = rel + name
                    key = name + b"/"
                    if key in old_left:
                        env = old_left[key]
                        if env is None:  # ignored, or a built-in exclude: a matter of rules only
                            left[key] = None
                            continue
                        st = entry.stat(follow_symlinks=False)
                        if env == (st.st_mtime_ns, st.st_ino):  # same listing: still an environment
                            left[key] = env
                            continue
                    if name in BUILTIN_DIRS and not reincluded(stack, os.fsdecode(child_rel) + "/"):
                        left[key] = None
                        continue
                    if (
                        stack
                        and not (known and child_rel + b"/" in self.cache.dirs)
                        and is_ignored(stack, os.fsdecode(child_rel) + "/")
                    ):
                        left[key] = None
                        continue
                    sub = self.walk(entry.path, child_rel + b"/", stack)
                    if sub is None:
                        # An environment is one by what it holds: remembered with its folder's
                        # mtime, which any entry added or removed there moves (unless within
                        # the timestamp's tick of this walk: racily clean, asked again).
                        st = entry.stat(follow_symlinks=False)
                        if not is_racy(max(st.st_mtime_ns, st.st_ctime_ns), self.walk_start_ns):
                            left[key] = (st.st_mtime_ns, st.st_ino)
                        continue
                    subs.append((name, sub))
                    if fast and not sub.same:
                        return -1, subs
                    continue
                hit = old_entries.get(name)
                if hit is None and name in old_left:
                    left[name] = None
                    continue
                if stack and not (known and hit is not None) and is_ignored(stack, os.fsdecode(rel + name)):
                    left[name] = None
                    continue
                st = entry.stat(follow_symlinks=False)
            except OSError as e:
                if fast:
                    return -1, subs
                self._skip(rel + name, f"cannot stat: {e.strerror}")
                continue
            mode = st.st_mode
            fmt = mode & _S_IFMT
            if fmt == _S_IFREG:
                if st.st_size > max_size:
                    if fast:
                        return -1, subs
                    self.too_large.append(f"{os.fsdecode(rel + name)} ({_human(st.st_size)})")
                    continue
            elif fmt != _S_IFLNK:
                continue  # sockets, FIFOs, devices: not code
            key = (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
            if hit is not None and hit[ENTRY_KEY] == key:
                if fast:
                    nhits += 1
                    continue
                kind = _LINK if fmt == _S_IFLNK else (_EXEC if mode & 0o111 else _FILE)
                out[0].append((name, kind, hit))
            elif fast:
                return -1, subs
            elif name.startswith(b".tmt-") and is_checkout_temp(name):
                self.temps.append(rel + name)  # only ever a miss: the cache never holds one
            else:
                kind = _LINK if fmt == _S_IFLNK else (_EXEC if mode & 0o111 else _FILE)
                out[1].append((name, kind, entry.path, key))
        return nhits, subs

    def _read_link(self, d: _Dir, row: list, path: bytes, rel: bytes, key: tuple) -> None:
        try:
            target = os.readlink(path)
        except OSError as e:
            self._lose(row, rel, f"cannot read link: {e.strerror}")
            return
        oid = blake3(target).digest()
        self.blobs.append((oid, target))
        row[2] = oid
        row[3] = len(target)
        d.entries[row[0]] = (_settled(key, self.walk_start_ns), oid)

    def _skip(self, rel: bytes, reason: str) -> None:
        self.skipped.append((os.fsdecode(rel), reason))

    # -- phase 2: read and hash what the cache did not cover -------------------------------

    def hash_pending(self, batch: Batch) -> None:
        pending = self.pending
        if not pending:
            return
        total = len(pending)
        self.hashed = total
        done = 0
        # A chunk's files are all in memory at once: bound it by bytes as well as by count.
        chunks: list[list] = []
        chunk: list = []
        chunk_bytes = 0
        for item in pending:
            size = item[5][KEY_SIZE]
            if chunk and (len(chunk) >= CHUNK_FILES or chunk_bytes + size > CHUNK_BYTES):
                chunks.append(chunk)
                chunk, chunk_bytes = [], 0
            chunk.append(item)
            chunk_bytes += size
        chunks.append(chunk)
        progress = self.progress
        if total >= _THREAD_MIN and HASH_THREADS > 1:
            from concurrent.futures import ThreadPoolExecutor  # costs an import of logging

            with ThreadPoolExecutor(HASH_THREADS) as pool:
                for n in pool.map(lambda c: self._hash_chunk(c, batch), chunks):
                    done += n
                    if progress:
                        progress(PROGRESS_PHASE, done, total)
        else:
            for c in chunks:
                done += self._hash_chunk(c, batch)
                if progress:
                    progress(PROGRESS_PHASE, done, total)

    def _hash_chunk(self, chunk: list, batch: Batch) -> int:
        loaded = []
        for row, path, rel, name, d, key in chunk:
            try:
                with open(path, "rb") as f:
                    data = f.read(self.max_file_size + 1)
            except FileNotFoundError:
                self._lose(row, rel, "vanished during the snapshot")
                continue
            except OSError as e:
                self._lose(row, rel, f"cannot read: {e.strerror}")
                continue
            if len(data) > self.max_file_size:
                self._lose(row, rel, "grew over the size limit during the snapshot")
                continue
            loaded.append((row, name, d, key, data, blake3(data).digest()))
        # Pin before adding: add() may find the object present and skip writing it.
        self.pin.add_raw(item[5] for item in loaded)
        for row, name, d, key, data, oid in loaded:
            batch.add(data, ObjectId(oid.hex()))
            row[2] = oid
            row[3] = len(data)
            if len(data) == key[KEY_SIZE]:
                d.entries[name] = (_settled(key, self.walk_start_ns), oid)
        return len(chunk)

    def _lose(self, row: list, rel: bytes, reason: str) -> None:
        row[2] = None
        self.holes = True
        self._skip(rel, reason)

    # -- phase 3: trees, bottom-up ----------------------------------------------------------

    def build(self, d: _Dir, out: list[tuple[bytes, bytes]], top: bool) -> tuple:
        """(tree id, bytes, files) of a changed directory; tree id None if nothing is kept."""
        for row, sub in d.subdirs:
            row[2], row[3], _ = self.build(sub, out, False)
        rows = d.rows
        if self.holes or d.subdirs:
            rows = [r for r in rows if r[2] is not None]
        if not rows and not top:
            info: tuple = (None, 0, 0)
        else:
            files = 0
            for r in rows:
                if r[1] == _TREE:
                    sub_info = self.new_dirs.get(d.rel + r[0] + b"/")
                    files += sub_info[FILES] if sub_info else 0
                else:
                    files += 1
            data = treemod.encode_rows(rows)
            oid = blake3(data).digest()
            out.append((oid, data))
            info = (oid, sum(r[3] for r in rows), files)
        self.new_dirs[d.rel] = (*info, len(rows), Entries.of(d.entries), d.sig, d.left, self._plan(d, d.entries))
        return info

    def run_once(self, trusted: bool) -> tuple[SnapshotResult, bool]:
        self._reset(trusted)
        root_dir = self._vouched_root() if self.all_vouched else self.walk(self.root, b"", [])
        assert root_dir is not None  # only a subfolder can be an environment left out
        if root_dir.same:
            self.to_pin.append(root_dir.info[TREE])
        # What the cache vouches for is pinned before the epoch is read (gc protocol). Only
        # these ids depend on the epoch: what we hash or build is pinned before it is written.
        # So a changed epoch is seen before any file is read, and the walk is redone once,
        # checking every reused id, instead of reading the changed files twice.
        self.pin.add_raw(self.to_pin)
        epoch = self.store.epoch()
        if trusted and (epoch is None or epoch != self.cache.epoch):
            return self.run_once(False)
        # A caller's batch (`batch=`) is committed by the caller, with other objects: here
        # only what this snapshot adds to it counts as new.
        with self.store.batch() if self.batch is None else _Borrowed(self.batch) as batch:
            before = set(batch._pending) if self.batch is not None else ()
            self.hash_pending(batch)
            tree_objs: list[tuple[bytes, bytes]] = []
            info = root_dir.info if root_dir.same else self.build(root_dir, tree_objs, True)
            self.pin.add_raw(o for o, _ in tree_objs)
            self.pin.add_raw(o for o, _ in self.blobs)
            if not trusted:
                self._check_present(self.to_pin)
            for oid, data in self.blobs:
                batch.add(data, ObjectId(oid.hex()))
            for oid, data in tree_objs:
                batch.add(data, ObjectId(oid.hex()))
            new = [t for o, t in batch._pending.items() if o not in before]
            new_objects = len(new)
            new_bytes = sum(os.path.getsize(t) for t in new)
        if self.store.epoch() != epoch:
            # gc ran while we worked: what we wrote is safe (pinned), but what we reused
            # from the cache may have gone between our checks. Check it all.
            self._check_present(self.to_pin)
        self._save_cache(epoch)
        result = SnapshotResult(
            ObjectId(info[TREE].hex()), info[FILES], info[BYTES], list(self.skipped), new_objects, new_bytes, self.hashed,
            list(self.temps), None if self.all_vouched else self.new_dirs,
        )
        if self.all_vouched:
            result._source = self.cache
        return result, trusted

    def _vouched_root(self) -> _Dir:
        """The root, when every folder's plan holds under the same rules digests (the cache was
        written by one walk): the walk would replay each and change nothing. (new_dirs stays
        empty: the result's dirs are the cache's, decoded only if asked for.)"""
        check = self.cache.check
        assert check is not None
        root = _Dir(b"")
        root.same = True
        root.info = check[2]
        return root

    def _check_present(self, ids: list[bytes]) -> None:
        """Raise _Retry, forgetting what the cache knew, if objects we rely on are gone or
        are not what the cache says (a blob of another size: a damaged cache entry)."""
        pending = self.batch._pending if self.batch is not None else {}
        stat = self.store.stat
        sizes = self.sizes

        def good(oid: bytes, size: int | None) -> bool:
            if ObjectId(oid.hex()) in pending:  # written to the caller's batch counts as there
                return True
            try:
                st = stat(ObjectId(oid.hex()))
            except (ObjectNotFound, CorruptObject, UnsafePath):
                return False
            return size is None or st.st_size == size

        if any(not good(oid, sizes.get(oid)) for oid in set(ids)):
            seen = self.cache.dirs if self.all_vouched else self.new_dirs
            self.cache.dirs = {
                rel: (None, 0, 0, 0, {n: e for n, e in info[ENTRIES].items() if good(e[ENTRY_OID], e[ENTRY_KEY][KEY_SIZE])}, info[SIG])
                for rel, info in seen.items()
            }
            raise _Retry

    def run(self) -> SnapshotResult:
        # Checked again after pinning (run_once); this early look only avoids a wasted pass.
        trusted = self.cache.epoch is not None and self.cache.epoch == self.store.epoch()
        for _ in range(_MAX_RETRIES):
            try:
                result, _ = self.run_once(trusted)
                break
            except _Retry:
                trusted = False
            except (TypeError, ValueError, IndexError, KeyError, AttributeError):
                # A cache file that passed its checksum but not its shape (written by someone
                # else's tool, or planted): it only ever costs speed. Walk again without it.
                if not self.cache.dirs:
                    raise
                self.cache = StatCache(self.cache.root)
                trusted = False
        else:
            self.cache = StatCache(self.cache.root)
            result, _ = self.run_once(False)
        if self.too_large:
            self.warn(
                f"left out {len(self.too_large)} file(s) over {_human(self.max_file_size)} "
                f"(data and checkpoints are not code): {', '.join(self.too_large[:10])}"
                + (" …" if len(self.too_large) > 10 else "")
                + "; raise max_file_size in .tmt/config.toml to keep them"
            )
        for path, reason in self.skipped:
            self.warn(f"skipped {path}: {reason}")
        if self.first and (result.files > BIG_FILES or result.bytes > BIG_BYTES):
            self._warn_big(result)
        return result

    def _warn_big(self, result: SnapshotResult) -> None:
        """Once, on the first snapshot of a large code root: the biggest top-level folders."""
        from tmt.text import printable

        tops = [(rel, info) for rel, info in self.new_dirs.items() if rel.count(b"/") == 1 and info[TREE] is not None]
        tops.sort(key=lambda t: (-t[1][1], t[0]))
        biggest = ", ".join(
            f"{printable(os.fsdecode(rel))} ({info[FILES]:,} files, {_human(info[BYTES])})" for rel, info in tops[:5]
        )
        self.warn(
            f"this first snapshot of {printable(os.fsdecode(self.root))} holds {result.files:,} files "
            f"({_human(result.bytes)})" + (f"; the biggest folders: {biggest}" if biggest else "")
            + ". If some are data, outputs or an environment, add them to .tmtignore (git's syntax)"
        )

    def _save_cache(self, epoch: str | None) -> None:
        if self.all_vouched and epoch == self.cache.epoch:
            return  # nothing differs from the file (the folders and rules are its own)
        if (
            not self.changed
            and not self.left_changed
            and not self.rules_read
            and epoch == self.cache.epoch
            and len(self.new_dirs) == len(self.cache.dirs)
            and len(self.new_rules) == len(self.cache.rules)
            and self.cache.check is not None
        ):
            return
        self.cache.dirs = self.new_dirs  # (drops the check section: StatCache.save makes it again)
        self.cache.rules = self.new_rules
        self.cache.epoch = epoch
        self.cache.settings = self.settings
        if self.cache_dir is not None:
            self.cache.save(self.cache_dir, self.store.tmp_dir)


def _with_ancestors(rels) -> set[bytes]:
    """The folders `rels` (b"a/b/" form) and every folder above them."""
    out: set[bytes] = set()
    for rel in rels:
        while rel not in out:
            out.add(rel)
            if not rel:
                break
            cut = rel.rfind(b"/", 0, len(rel) - 1)
            rel = rel[:cut + 1]
    return out


def is_checkout_temp(name: bytes) -> bool:
    """`.tmt-<12 hex>-<name>`: the temp name an in-place checkout writes a file under."""
    return len(name) > 18 and name[17:18] == b"-" and all(c in b"0123456789abcdef" for c in name[5:17])


def snapshot(
    root: str | os.PathLike[str],
    store: ObjectStore,
    *,
    cache_dir: Path | None = None,
    max_file_size: int = 10 * 1024 * 1024,
    exclude: list[Path] | None = None,
    pin: PinFile | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    warn: Callable[[str], None] = default_warn,
    stat_cache: StatCache | None = None,
    batch: Batch | None = None,
) -> SnapshotResult:
    """Store every file of `root` that is not ignored and return the root tree's id.

    `progress(phase, done, total)` (the signature of gc's and fsck's, e.g.
    tmt.progress.StderrProgress) is called with PROGRESS_PHASE as files are
    read; only files the stat cache does not cover count.

    Pass a `pin` that outlives this call when a record will reference the tree later (the
    recorder does); otherwise a private pin protects the objects only during the call.

    `stat_cache`, instead of the file under `cache_dir`, is an in-memory cache that this call
    updates: passed from one call to the next over folders that share hard-linked files
    (the predecessor's snapshots, tmt/legacy), a file already seen is not read again.
    With `batch`, the new objects go into the caller's batch, published when the caller
    commits it (one file-system sync for many snapshots); nothing may reference the tree
    before that.
    """
    root = Path(root)
    if not root.is_dir():
        raise SnapshotError(f"code root {root} is not a directory")
    own_pin = pin is None
    pin = pin or PinFile(store.tmt_dir)
    try:
        s = _Snapshotter(
            root,
            store,
            cache_dir=cache_dir,
            max_file_size=max_file_size,
            exclude=list(exclude or []),
            pin=pin,
            progress=progress,
            warn=warn,
            stat_cache=stat_cache,
            batch=batch,
        )
        return s.run()
    except OSError as e:
        raise StoreError(f"snapshot of {root} failed: {e.strerror or e}") from e
    finally:
        if own_pin:
            pin.close()


def snapshot_repo(repo, *, pin: PinFile | None = None, progress=None, warn=default_warn) -> SnapshotResult:
    """Snapshot a repository's code root with its settings and stat cache."""
    return snapshot(
        repo.root,
        repo.store,
        cache_dir=repo.cache_dir,
        max_file_size=repo.config.max_file_size,
        exclude=[repo.tmt_dir],
        pin=pin,
        progress=progress,
        warn=warn,
    )
