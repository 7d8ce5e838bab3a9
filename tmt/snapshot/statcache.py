"""The stat cache: what the last snapshot saw, so that unchanged files are not read again.

Per directory (a DirInfo; positions TREE … PLAN): the tree id it produced, its byte and file
totals, its row count, per entry the lstat key (size, mtime_ns, ctime_ns, inode) with the blob
id, a digest of the ignore rules in force there, what was left out there, and the plan of its
listing (build.py `_plan`: the folder's own key, taken before listing it, and which entries
were walked or left out). While the rules are unchanged, an entry kept last time needs no
matching and one left out is left out again: a folder or file the rules (or a built-in
exclude) left out is remembered by name, a Python environment with its folder's (mtime_ns,
inode), which adding or removing its marker moves. So an unchanged tree asks the rules
nothing (no pattern compiled, pathspec never imported), and an ignore file whose lstat key is
unchanged is not even read: its rules' digest is remembered. While a folder's own key is the
plan's, it is not even listed (adding, removing or renaming an entry moves its mtime). A
directory whose entries all match, with unchanged subdirectories and the same row count,
reuses its tree id without encoding anything. Deleting the cache costs only speed.

The entries are stored as columns (names; the keys packed in one msgpack blob; the ids
concatenated), so loading the cache decodes no per-file key: an unchanged folder compares
the blob with its fresh keys packed the same way (Entries.matches). The folders themselves
are one nested blob, decoded on first use: beside them, the check section (check_section)
holds the plans laid out flat, from which the snapshot's pre-pass (precheck.py) vouches for
an unchanged tree without decoding a folder.

One cache file per code root (`stat-v6-<digest of the root>`): projects sharing one store
(TMT_DIR) keep their caches apart instead of replacing each other's at every run.

The file carries a checksum (BLAKE3 of the rest) and is read without following links: a
flipped byte or a truncated write makes the whole cache unused, never a wrong blob id. An
entry's blob id is checked against the store (present, and of the entry's size) whenever
the gc epoch says objects may have gone since the cache was written (snapshot/build.py).

An entry whose mtime falls within RACY_NS of the walk that saw it ("racily clean", as git
calls it) is never stored with its own key: the file may be written again within the file
system's timestamp granularity without its key changing. It is stored with ctime -1, which
no lstat returns (build.py, `_settled`): never a hit, read again by the next snapshot.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

from blake3 import blake3

from tmt.snapshot.ignore import IGNORE_FILES
from tmt.store import codec
from tmt.store.fsutil import atomic_write
from tmt.store.nofollow import read_file

CACHE_NAME = "stat-v6"
_OLD_NAMES = ("stat-v4", "stat-v5")  # earlier versions' files: removed when this one is written
VERSION = 6
#: the file: MAGIC, then BLAKE3-256 of the payload, then the payload (msgpack)
MAGIC = b"tmt-stat-cache-6\n"
MAX_CACHE_BYTES = 1 << 30
RACY_NS = 100_000_000  # 100 ms, well above the kernel's coarse clock tick

Key = tuple  # (size, mtime_ns, ctime_ns, inode): KEY_SIZE, KEY_MTIME, KEY_CTIME, KEY_INODE
KEY_SIZE, KEY_MTIME, KEY_CTIME, KEY_INODE = range(4)
Entry = tuple  # (Key, oid32): ENTRY_KEY, ENTRY_OID
ENTRY_KEY, ENTRY_OID = range(2)
#: A folder's DirInfo tuple, by position: its tree id (oid32 | None: nothing kept), bytes and
#: files below it, its tree's row count, ENTRIES (name -> Entry), SIG (digest of the ignore
#: rules in force), LEFT (name -> None | environment's (mtime_ns, inode): what was left out)
#: and PLAN (see build.py: how its listing was decided, or None). Tuples, not a NamedTuple:
#: the walk reads them once per folder and msgpack writes them as arrays.
DirInfo = tuple
TREE, BYTES, FILES, ROWS, ENTRIES, SIG, LEFT, PLAN = range(8)
_OID = 32
_IGNORE_NAMES = frozenset(os.fsencode(n) for n in IGNORE_FILES)


class Entries(Mapping):
    """A folder's cached files, name -> (key, oid32), kept as the file stores them: the names,
    the keys msgpack-packed in one blob, the ids concatenated. An unchanged folder compares
    its fresh keys with the blob (`matches`) and is never decoded; lookups decode on first
    use. Built by `of(mapping)` from a snapshot's plain dict."""

    __slots__ = ("names", "oids", "_blob", "_keys", "_index")

    def __init__(self, names: tuple, blob: bytes | None, oids: bytes, keys: list | None = None) -> None:
        if len(oids) != _OID * len(names) or (keys is None and not isinstance(blob, bytes)):
            raise ValueError("stat cache entries: ids and names disagree")
        self.names = names
        self.oids = oids
        self._blob = blob
        self._keys = keys
        self._index: dict | None = None

    @classmethod
    def of(cls, entries: Mapping) -> "Entries":
        if isinstance(entries, Entries):
            return entries
        values = list(entries.values())
        return cls(tuple(entries), None, b"".join([v[1] for v in values]), [tuple(v[0]) for v in values])

    def blob(self) -> bytes:
        if self._blob is None:
            self._blob = codec.packb(self._keys)
        return self._blob

    def matches(self, keys: list) -> bool:
        """Whether `keys` (in `names` order) are the cached keys. They are not kept: thousands
        of tuples surviving the walk would cost more in cycle collections than decoding the
        blob again costs the few callers that look entries up (tmt.recorder.gitinfo)."""
        return keys == self._keys if self._keys is not None else codec.packb(keys) == self._blob

    def key_list(self) -> list:
        if self._keys is None:
            keys = codec.unpackb(self.blob(), use_list=False)
            if not isinstance(keys, tuple) or len(keys) != len(self.names):
                raise ValueError("stat cache entries: keys and names disagree")
            self._keys = list(keys)
        return self._keys

    def _lookup(self) -> dict:
        if self._index is None:
            self._index = dict(zip(self.names, range(len(self.names))))
        return self._index

    def __getitem__(self, name: bytes) -> Entry:
        i = self._lookup()[name]
        return self.key_list()[i], self.oids[_OID * i:_OID * i + _OID]

    def get(self, name: bytes, default=None):
        i = self._lookup().get(name)
        if i is None:
            return default
        return self.key_list()[i], self.oids[_OID * i:_OID * i + _OID]

    def __contains__(self, name: object) -> bool:
        return name in self._lookup()

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class StatCache:
    """The cache as loaded (or as a snapshot left it in memory).

    `dirs` is decoded on first use: an unchanged tree, vouched for by the pre-pass from
    `check` alone (check_section: written with the cache, from the same walk, so it never
    disagrees with `dirs` and `rules`), never decodes it, and neither does the git state
    reader while its own cache holds. Setting `dirs` drops `check` (made again on save)."""

    __slots__ = ("root", "epoch", "_dirs", "_packed", "rules", "settings", "check")

    def __init__(self, root: str = "", epoch: str | None = None, dirs: dict[bytes, DirInfo] | None = None,
                 rules: dict[bytes, tuple] | None = None, settings: tuple = (), check: tuple | None = None) -> None:
        self.root = root
        self.epoch = epoch
        self._dirs: dict[bytes, DirInfo] | None = {} if dirs is None else dirs
        self._packed: bytes | None = None  # the file's `dirs`, while not decoded
        #: folder -> (digest of the enclosing rules, its ignore files' (name, lstat key + mode)
        #: sorted, digest of its rules or None): unchanged files need not be read to know it
        self.rules: dict[bytes, tuple] = {} if rules is None else rules
        #: what else decided the listings (max file size, excluded paths): plans hold only under it
        self.settings = settings
        self.check = check

    @property
    def dirs(self) -> dict[bytes, DirInfo]:
        if self._dirs is None:
            self._dirs = _decode_dirs(self._packed)
        return self._dirs

    @dirs.setter
    def dirs(self, dirs: dict[bytes, DirInfo]) -> None:
        self._dirs = dirs
        self._packed = None
        self.check = None

    def empty(self) -> bool:
        """Whether no folder is known (without decoding `dirs`)."""
        return not self._dirs if self._dirs is not None else self._packed == codec.packb({})

    def __repr__(self) -> str:
        return f"StatCache(root={self.root!r}, epoch={self.epoch!r}, dirs=<{len(self.dirs)} folders>)"

    @classmethod
    def load(cls, cache_dir: Path, root: str) -> "StatCache":
        try:
            data = _read_payload(cache_path(cache_dir, root))
            if not isinstance(data, dict) or data.get("v") != VERSION or data.get("root") != os.fsencode(root):
                return cls(root)
            packed, rules, settings, check = data["dirs"], data.get("rules", {}), data.get("settings", ()), data.get("check")
            if not isinstance(packed, bytes):
                return cls(root)
            cache = cls(root, data.get("epoch"), None, rules if isinstance(rules, dict) else {},
                        settings if isinstance(settings, tuple) else (), check if isinstance(check, tuple) else None)
            cache._dirs, cache._packed = None, packed
            return cache
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls(root)

    def save(self, cache_dir: Path, tmp_dir: Path) -> None:
        try:
            if self.check is None:
                self.check = check_section(os.fsencode(self.root), self.dirs, self.rules)
            packed = self._packed if self._dirs is None else codec.packb(
                {rel: _columns(info) for rel, info in self._dirs.items()})
            payload = codec.packb({"v": VERSION, "root": os.fsencode(self.root), "epoch": self.epoch,
                                   "dirs": packed, "rules": self.rules, "settings": self.settings,
                                   "check": self.check})
            data = MAGIC + blake3(payload).digest() + payload
            path = cache_path(cache_dir, self.root)
            atomic_write(path, data, tmp_dir, durable=False, make_dirs=True)
            for old in _OLD_NAMES:
                try:
                    os.unlink(cache_dir / path.name.replace(CACHE_NAME, old, 1))
                except FileNotFoundError:
                    pass
        except Exception:
            pass  # a cache that cannot be written only costs speed next time


def _read_payload(path: Path) -> object:
    """The file's payload, None if damaged (checksum); OSError if unreadable, ValueError if
    not msgpack."""
    raw = read_file(path, limit=MAX_CACHE_BYTES)
    head = len(MAGIC) + 32
    payload = memoryview(raw)[head:]  # no copy of a cache of many megabytes
    if raw[: len(MAGIC)] != MAGIC or blake3(payload).digest() != raw[len(MAGIC) : head]:
        return None  # damaged (or another version's): costs one full re-hash
    return codec.unpackb(payload, use_list=False)  # type: ignore[arg-type]  # msgpack reads buffers


def _decode_dirs(packed: bytes | None) -> dict[bytes, DirInfo]:
    """The file's `dirs` as DirInfos; {} (a cache that costs one full walk) if malformed."""
    try:
        dirs = codec.unpackb(packed, use_list=False)  # type: ignore[arg-type]
        return {rel: (*info[:ENTRIES], Entries(*info[ENTRIES:ENTRIES + 3]), *info[ENTRIES + 3:])
                for rel, info in dirs.items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}


def _columns(info: DirInfo) -> tuple:
    """A DirInfo as the file holds it: ENTRIES as (names, keys blob, ids)."""
    e = Entries.of(info[ENTRIES])
    return (*info[:ENTRIES], e.names, e.blob(), e.oids, *info[ENTRIES + 1:])


#: check_section's parts (its first two items; the third is the root's (tree id, bytes,
#: files) when the parts cover every folder, else None), by position: the folders' rels,
#: their absolute paths joined by NUL, their plans' keys (one msgpack blob), their kept
#: files' absolute paths joined by NUL, those files' keys (one blob), how many files each
#: folder has, and (index, path, key) of what else vouches for a folder: its environments
#: left out ([mtime_ns, inode]) and ignore files ([size, mtime_ns, ctime_ns, inode, mode]).
P_RELS, P_DIRS, P_DKEYS, P_FILES, P_KEYS, P_COUNTS, P_EXTRAS = range(7)


def check_section(root: bytes, dirs: Mapping[bytes, DirInfo], rules: Mapping[bytes, tuple]) -> tuple:
    """The plans of `dirs` laid out flat for the pre-pass (tmt/snapshot/precheck.py): whole
    folders of a tree are vouched for by a few C-level calls (split, map(os.lstat), one packb)
    instead of a Python walk. Folders without a plan, or whose ignore files have no record in
    `rules`, are left out (the walk decides them). Two parts, balanced by the stat calls they
    take, so that two processes can check one each; then the root's totals, if every folder
    is in a part (the snapshot of a tree they all vouch for needs nothing else)."""
    picked = []
    for rel, info in dirs.items():
        plan = info[PLAN] if len(info) > PLAN else None
        if plan is None:
            continue
        path = root + b"/" + rel[:-1] if rel else root
        entries = Entries.of(info[ENTRIES])
        more = [(path + b"/" + name, tuple(env)) for name, env in plan[3]]
        if any(n in _IGNORE_NAMES for n in plan[1]):
            record = rules.get(rel)
            if record is None or len(record) != 3:
                continue  # read again next time: the walk keeps it right
            for name, *key in record[1]:
                # A kept ignore file whose entry has the record's key needs no lstat of its own:
                # the files' check covers it (a chmod since would have moved its ctime).
                hit = entries.get(name)
                if hit is None or tuple(hit[ENTRY_KEY]) != tuple(key[:4]):
                    more.append((path + b"/" + name, tuple(key)))
        picked.append((rel, path, tuple(plan[0]), entries, more))
    total = sum(1 + len(e) for _, _, _, e, _ in picked)
    parts = []
    cut = 0
    cost = 0
    for i, (_, _, _, e, _) in enumerate(picked):  # the first part ends where half the cost is reached
        if cost * 2 >= total:
            break
        cost += 1 + len(e)
        cut = i + 1
    for chunk in (picked[:cut], picked[cut:]):
        keys: list = []
        files: list = []
        extras: list = []
        for i, (_, path, _, e, others) in enumerate(chunk):
            prefix = path + b"/"
            files.extend(prefix + n for n in e.names)
            keys.append(_items(e.blob()))
            extras.extend((i, p, k) for p, k in others)
        count = sum(len(c[3]) for c in chunk)
        parts.append((tuple(c[0] for c in chunk), b"\0".join(c[1] for c in chunk),
                      codec.packb([c[2] for c in chunk]), b"\0".join(files), _array_head(count) + b"".join(keys),
                      tuple(len(c[3]) for c in chunk), tuple(extras)))
    root_info = dirs[b""] if b"" in dirs and len(picked) == len(dirs) else None
    return parts[0], parts[1], root_info[:ROWS] if root_info is not None else None


def _items(blob: bytes) -> bytes:
    """A msgpack array's items: the folders' key blobs joined under one header are the
    packb of all their keys (msgpack writes every value in its shortest form), so the check
    section is made without decoding a key."""
    head = blob[0]
    return blob[1:] if 0x90 <= head <= 0x9F else blob[3:] if head == 0xDC else blob[5:]


def _array_head(n: int) -> bytes:
    return bytes([0x90 | n]) if n < 16 else b"\xdc" + n.to_bytes(2, "big") if n < 1 << 16 else b"\xdd" + n.to_bytes(4, "big")


def cache_path(cache_dir: Path, root: str) -> Path:
    """The cache file of code root `root` (the file also names its root, checked on load)."""
    return cache_dir / f"{CACHE_NAME}-{blake3(os.fsencode(root)).hexdigest()[:16]}"


def is_racy(mtime_ns: int, walk_start_ns: int) -> bool:
    """Pass max(mtime, ctime): a file rewritten with its mtime set back (cp -p, tar, os.utime)
    has an old mtime but a fresh ctime, and a second such rewrite within the ctime clock's
    granularity would leave the whole (size, mtime, ctime, inode) key unchanged."""
    return mtime_ns >= walk_start_ns - RACY_NS


def cache_files(cache_dir: Path) -> list[Path]:
    """Every stat cache file of this version in `cache_dir` (any code root's)."""
    try:
        names = os.listdir(cache_dir)
    except OSError:
        return []
    return [cache_dir / n for n in sorted(names) if n.startswith(CACHE_NAME + "-")]


def disagreement(path: Path, size_of, epoch: str | None) -> str | None:
    """What is wrong with the cache file at `path` against the store, or None (for fsck).

    `size_of(hex id)` is an object's size in the store (None when absent, -1 when it cannot
    be judged), `epoch` the store's gc epoch (None: do not judge absence). An entry naming an
    object of another size is always wrong; one naming a missing object only while the
    cache's epoch is the store's (otherwise gc may have removed it, and a snapshot checks
    before using it).
    """
    try:
        data = _read_payload(path)
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    except ValueError:
        data = ()
    if data is None:
        return "is damaged: its checksum does not match its content"
    if not isinstance(data, dict):  # (not msgpack, or not a map)
        return "is damaged: its content is not a stat cache"
    try:
        trusted = epoch is not None and data["epoch"] == epoch
        wrong = missing = 0
        for info in codec.unpackb(data["dirs"]).values():
            tree = info[TREE]
            if tree is not None and trusted and size_of(tree.hex()) is None:
                missing += 1
            for key, oid in Entries(*info[ENTRIES:ENTRIES + 3]).values():
                have = size_of(oid.hex())
                if have is None:
                    missing += trusted
                elif have != key[KEY_SIZE] and have >= 0:
                    wrong += 1
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "is damaged: its content is not a stat cache"
    if not wrong and not missing:
        return None
    parts = [f"{n} entr{'y' if n == 1 else 'ies'} {what}" for n, what in
             ((wrong, "name objects of another size"), (missing, "name missing objects")) if n]
    return "disagrees with the store: " + " and ".join(parts)
