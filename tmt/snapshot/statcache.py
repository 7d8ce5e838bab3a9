"""The stat cache: (size, mtime_ns, ctime_ns, inode) -> blob id, so unchanged files are not read.

Deleting it costs only speed. An entry whose mtime falls within RACY_NS of the walk that
recorded it is never trusted ("racily clean", as git calls it): the file may have been
written again within the file system's timestamp granularity.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from tmt.store import codec
from tmt.store.fsutil import atomic_write

CACHE_NAME = "stat-v1"
RACY_NS = 100_000_000  # 100 ms, well above the kernel's coarse clock tick
FileKey = tuple[int, int, int, int]


@dataclass(slots=True)
class StatCache:
    root: str = ""
    epoch: str | None = None
    files: dict[bytes, list] = field(default_factory=dict)  # rel -> [size, mtime, ctime, ino, oid32]
    trees: set[bytes] = field(default_factory=set)  # tree ids (32 bytes) seen present under `epoch`

    @classmethod
    def load(cls, cache_dir: Path, root: str) -> "StatCache":
        try:
            data = codec.unpackb((cache_dir / CACHE_NAME).read_bytes())
            if not isinstance(data, dict) or data.get("root") != root or data.get("v") != 1:
                return cls(root)
            files = data["files"]
            trees = set(data["trees"])
            if not isinstance(files, dict):
                return cls(root)
            return cls(root, data.get("epoch"), files, trees)
        except (OSError, ValueError, KeyError, TypeError):
            return cls(root)

    def save(self, cache_dir: Path, tmp_dir: Path) -> None:
        data = codec.packb(
            {"v": 1, "root": self.root, "epoch": self.epoch, "files": self.files, "trees": sorted(self.trees)}
        )
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            atomic_write(cache_dir / CACHE_NAME, data, tmp_dir)
        except Exception:
            pass  # a cache that cannot be written only costs speed next time


def is_racy(mtime_ns: int, walk_start_ns: int) -> bool:
    return mtime_ns >= walk_start_ns - RACY_NS
