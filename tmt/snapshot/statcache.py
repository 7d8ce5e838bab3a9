"""The stat cache: what the last snapshot saw, so that unchanged files are not read again.

Per directory: the tree id it produced, its byte and file totals, its row count, per entry
the lstat key (size, mtime_ns, ctime_ns, inode) with the blob id, and a digest of the ignore
rules in force there (while they are unchanged, an entry kept last time needs no matching). A directory whose
entries all match, with unchanged subdirectories and the same row count, reuses its tree id
without encoding anything. Deleting the cache costs only speed.

One cache file per code root (`stat-v4-<digest of the root>`): projects sharing one store
(TMT_DIR) keep their caches apart instead of replacing each other's at every run.

The file carries a checksum (BLAKE3 of the rest) and is read without following links: a
flipped byte or a truncated write makes the whole cache unused, never a wrong blob id. An
entry's blob id is checked against the store (present, and of the entry's size) whenever
the gc epoch says objects may have gone since the cache was written (snapshot/build.py).

An entry whose mtime falls within RACY_NS of the walk that saw it is never stored ("racily
clean", as git calls it): the file may be written again within the file system's timestamp
granularity without its key changing.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from blake3 import blake3

from tmt.store import codec
from tmt.store.fsutil import atomic_write
from tmt.store.nofollow import read_file

CACHE_NAME = "stat-v4"
#: the file: MAGIC, then BLAKE3-256 of the payload, then the payload (msgpack)
MAGIC = b"tmt-stat-cache-4\n"
MAX_CACHE_BYTES = 1 << 30
RACY_NS = 100_000_000  # 100 ms, well above the kernel's coarse clock tick

Key = tuple  # (size, mtime_ns, ctime_ns, inode)
Entry = tuple  # (Key, oid32)
DirInfo = tuple  # (tree oid32 | None, bytes, files, rows, {name: Entry}, ignore rules sig)


@dataclass(slots=True)
class StatCache:
    root: str = ""
    epoch: str | None = None
    dirs: dict[bytes, DirInfo] = field(default_factory=dict)

    @classmethod
    def load(cls, cache_dir: Path, root: str) -> "StatCache":
        try:
            raw = read_file(cache_path(cache_dir, root), limit=MAX_CACHE_BYTES)
            head = len(MAGIC) + 32
            payload = memoryview(raw)[head:]  # no copy of a cache of many megabytes
            if raw[: len(MAGIC)] != MAGIC or blake3(payload).digest() != raw[len(MAGIC) : head]:
                return cls(root)  # damaged (or another version's): costs one full re-hash
            data = codec.unpackb(payload, use_list=False)
            if not isinstance(data, dict) or data.get("v") != 4 or data.get("root") != os.fsencode(root):
                return cls(root)
            dirs = data["dirs"]
            if not isinstance(dirs, dict):
                return cls(root)
            return cls(root, data.get("epoch"), dirs)
        except (OSError, ValueError, KeyError, TypeError):
            return cls(root)

    def save(self, cache_dir: Path, tmp_dir: Path) -> None:
        try:
            payload = codec.packb({"v": 4, "root": os.fsencode(self.root), "epoch": self.epoch, "dirs": self.dirs})
            data = MAGIC + blake3(payload).digest() + payload
            atomic_write(cache_path(cache_dir, self.root), data, tmp_dir, durable=False, make_dirs=True)
        except Exception:
            pass  # a cache that cannot be written only costs speed next time


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
        raw = read_file(path, limit=MAX_CACHE_BYTES)
    except OSError as e:
        return f"cannot be read: {e.strerror}"
    head = len(MAGIC) + 32
    payload = memoryview(raw)[head:]
    if raw[: len(MAGIC)] != MAGIC or blake3(payload).digest() != raw[len(MAGIC) : head]:
        return "is damaged: its checksum does not match its content"
    try:
        data = codec.unpackb(payload)
        trusted = epoch is not None and data["epoch"] == epoch
        wrong = missing = 0
        for info in data["dirs"].values():
            tree = info[0]
            if tree is not None and trusted and size_of(tree.hex()) is None:
                missing += 1
            for key, oid in info[4].values():
                have = size_of(oid.hex())
                if have is None:
                    missing += trusted
                elif have != key[0] and have >= 0:
                    wrong += 1
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return "is damaged: its content is not a stat cache"
    if not wrong and not missing:
        return None
    parts = [f"{n} entr{'y' if n == 1 else 'ies'} {what}" for n, what in
             ((wrong, "name objects of another size"), (missing, "name missing objects")) if n]
    return "disagrees with the store: " + " and ".join(parts)
