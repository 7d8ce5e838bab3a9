"""The stat cache: what the last snapshot saw, so that unchanged files are not read again.

Per directory: the tree id it produced, its byte and file totals, its row count, per entry
the lstat key (size, mtime_ns, ctime_ns, inode) with the blob id, a digest of the ignore
rules in force there, and what was left out there. While the rules are unchanged, an entry
kept last time needs no matching and one left out is left out again: a folder or file the
rules (or a built-in exclude) left out is remembered by name, a Python environment with its
folder's (mtime_ns, inode), which adding or removing its marker moves. So an unchanged tree
asks the rules nothing (no pattern compiled, pathspec never imported), and an ignore file
whose lstat key is unchanged is not even read: its rules' digest is remembered. A directory whose
entries all match, with unchanged subdirectories and the same row count, reuses its tree id
without encoding anything. Deleting the cache costs only speed.

One cache file per code root (`stat-v3-<digest of the root>`): projects sharing one store
(TMT_DIR) keep their caches apart instead of replacing each other's at every run.

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

CACHE_NAME = "stat-v3"
RACY_NS = 100_000_000  # 100 ms, well above the kernel's coarse clock tick

Key = tuple  # (size, mtime_ns, ctime_ns, inode)
Entry = tuple  # (Key, oid32)
#: (tree oid32 | None, bytes, files, rows, {name: Entry}, ignore rules sig, {name: left out})
#: the last item is absent from caches written before it (nothing known left out)
DirInfo = tuple


@dataclass(slots=True)
class StatCache:
    root: str = ""
    epoch: str | None = None
    dirs: dict[bytes, DirInfo] = field(default_factory=dict)
    #: folder -> (digest of the enclosing rules, its ignore files' (name, lstat key + mode)
    #: sorted, digest of its rules or None): unchanged files need not be read to know it
    rules: dict[bytes, tuple] = field(default_factory=dict)

    @classmethod
    def load(cls, cache_dir: Path, root: str) -> "StatCache":
        try:
            data = codec.unpackb(cache_path(cache_dir, root).read_bytes(), use_list=False)
            if not isinstance(data, dict) or data.get("v") != 3 or data.get("root") != root:
                return cls(root)
            dirs = data["dirs"]
            if not isinstance(dirs, dict):
                return cls(root)
            rules = data.get("rules", {})
            return cls(root, data.get("epoch"), dirs, rules if isinstance(rules, dict) else {})
        except (OSError, ValueError, KeyError, TypeError):
            return cls(root)

    def save(self, cache_dir: Path, tmp_dir: Path) -> None:
        data = codec.packb({"v": 3, "root": self.root, "epoch": self.epoch, "dirs": self.dirs, "rules": self.rules})
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(cache_path(cache_dir, self.root), data, tmp_dir, durable=False)
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
