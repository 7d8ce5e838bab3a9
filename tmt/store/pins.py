"""Pins: ids a live process relies on before the record that references them exists.

A writer appends ids to its pin file *before* it checks whether those objects exist or
writes them. gc reads the pins of live processes as extra roots, after moving its
candidates aside, and puts back any candidate that became pinned (see maintenance/gc.py).
Pins need no fsync: they matter only while their process is alive.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt._sys import hostname, pid_alive, token_hex
from tmt.store.ids import ObjectId

PIN_SUFFIX = ".pin"
#: A pin from another host cannot be checked for liveness; it counts this long.
FOREIGN_PIN_TTL_S = 24 * 3600


def _host() -> str:
    return hostname().replace("/", "_").replace("_", "-") or "localhost"


class PinFile:
    def __init__(self, tmt_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(tmt_dir) / "pins"
        self.path = self.dir / f"{_host()}_{os.getpid()}_{token_hex(4)}{PIN_SUFFIX}"
        self._fd: int | None = None

    def add(self, oids: Iterable[str]) -> None:
        self.add_raw(bytes.fromhex(o) for o in oids)

    def add_raw(self, raw_ids: Iterable[bytes]) -> None:
        """Pin ids given as 32-byte digests (the snapshot's hot path has them in this form)."""
        data = b"".join(raw_ids)
        if not data:
            return
        if self._fd is None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, data)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            try:
                os.unlink(self.path)
            except OSError:
                pass

    def __enter__(self) -> "PinFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pin_is_live(path: Path, host: str | None = None) -> bool:
    parts = path.name[: -len(PIN_SUFFIX)].split("_")
    if len(parts) != 3 or not parts[1].isdigit():
        return False
    if parts[0] == (host or _host()):
        return pid_alive(int(parts[1]))
    try:
        return time.time() - path.stat().st_mtime < FOREIGN_PIN_TTL_S
    except OSError:
        return False


def live_pins(tmt_dir: str | os.PathLike[str], *, remove_dead: bool = False) -> set[ObjectId]:
    """All ids pinned by live processes; optionally delete the pin files of dead ones."""
    pins: set[ObjectId] = set()
    for path in _pin_files(Path(tmt_dir) / "pins"):
        if not pin_is_live(path):
            if remove_dead:
                try:
                    path.unlink()
                except OSError:
                    pass
            continue
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        whole = len(raw) - len(raw) % 32
        pins.update(ObjectId(raw[i : i + 32].hex()) for i in range(0, whole, 32))
    return pins


def _pin_files(d: Path) -> Iterator[Path]:
    try:
        yield from (p for p in d.iterdir() if p.name.endswith(PIN_SUFFIX))
    except FileNotFoundError:
        return
