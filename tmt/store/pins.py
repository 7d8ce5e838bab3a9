"""Pins: ids a live process relies on before the record that references them exists.

A writer appends ids to its pin file *before* it checks whether those objects exist or
writes them. gc reads the pins of live processes as extra roots, after moving its
candidates aside, and puts back any candidate that became pinned (see maintenance/gc.py).
Pins need no fsync: they matter only while their process is alive.

Only a pin of this host can be checked for liveness (its pid). Another host's pin counts
as live while it was appended to within FOREIGN_PIN_TTL_S, and is never deleted here: its
writer may still be running (a long run that saves nothing) and would go on appending to
a deleted file. A writer whose pin file was deleted anyway opens a new one.
"""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tmt._sys import host_label, pid_alive, token_hex
from tmt.errors import StoreError, UnsafePath
from tmt.store.ids import ObjectId
from tmt.store.nofollow import open_fd, own_dir, read_fd, remake

PIN_SUFFIX = ".pin"
#: A pin from another host cannot be checked for liveness; it counts this long.
FOREIGN_PIN_TTL_S = 24 * 3600
#: A pin file holds 32 bytes an object: this is 33 million objects, three times a tree at the
#: default max_tree_paths. A larger one (a sparse file) is refused, never read whole.
MAX_PIN_BYTES = 1 << 30


class PinFile:
    def __init__(self, tmt_dir: str | os.PathLike[str]) -> None:
        self.dir = Path(tmt_dir) / "pins"
        self.path = self.dir / f"{host_label()}_{os.getpid()}_{token_hex(4)}{PIN_SUFFIX}"
        self._fd: int | None = None

    def add(self, oids: Iterable[str]) -> None:
        self.add_raw(bytes.fromhex(o) for o in oids)

    def add_raw(self, raw_ids: Iterable[bytes]) -> None:
        """Pin ids given as 32-byte digests (the snapshot's hot path has them in this form)."""
        data = b"".join(raw_ids)
        if not data:
            return
        try:
            if self._fd is not None and os.fstat(self._fd).st_nlink == 0:
                # Deleted under us (by hand, or by an older gc on another host): appending
                # to the unlinked file would pin nothing. The ids pinned before are in
                # records by now or were pinned again since; new ones go to a new file.
                os.close(self._fd)
                self._fd = None
            if self._fd is None:
                own_dir(self.dir.parent, "pins", create=True)  # never a link: see tmt.store.nofollow
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                try:
                    self._fd = os.open(self.path, flags, 0o644)
                except FileNotFoundError:  # pins/ removed since it was checked
                    remake(self.dir.parent, "pins")
                    self._fd = os.open(self.path, flags, 0o644)
            # A short write would shift every later id: loop until all of it is written.
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except UnsafePath:
            raise
        except OSError as e:
            from tmt.store.fsutil import _hint_for

            raise StoreError(f"could not write the pin file {self.path}: {e.strerror or e}", _hint_for(e)) from e

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


def _owner(path: Path) -> tuple[str, int] | None:
    parts = path.name[: -len(PIN_SUFFIX)].split("_")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1])


def pin_is_live(path: Path) -> bool:
    """Whether `path`'s ids count as roots: its process is alive (this host), or it was
    appended to within FOREIGN_PIN_TTL_S (another host)."""
    owner = _owner(path)
    if owner is None:
        return False
    if owner[0] == host_label():
        return pid_alive(owner[1])
    try:
        return time.time() - path.lstat().st_mtime < FOREIGN_PIN_TTL_S
    except OSError:
        return False


def pin_is_removable(path: Path) -> bool:
    """Whether `path` may be deleted: a pin of a dead process of this host, or a name that
    is no pin's. Another host's pin is never removable (see the module docstring)."""
    owner = _owner(path)
    if owner is None:
        return True
    return owner[0] == host_label() and not pid_alive(owner[1])


def remove_dead_pins(tmt_dir: str | os.PathLike[str]) -> int:
    """Delete the pin files of dead processes of this host (another host's expired pin is
    ignored, never deleted); return how many."""
    n = 0
    for path in _pin_files(Path(tmt_dir) / "pins"):
        if pin_is_removable(path):
            try:
                path.unlink()
                n += 1
            except OSError:
                pass
    return n


def live_pins(tmt_dir: str | os.PathLike[str], *, remove_dead: bool = False) -> set[ObjectId]:
    """All ids pinned by live processes; `remove_dead` first runs remove_dead_pins."""
    if remove_dead:
        remove_dead_pins(tmt_dir)
    pins: set[ObjectId] = set()
    for path in _pin_files(Path(tmt_dir) / "pins"):
        if not pin_is_live(path):
            continue
        try:
            fd, st = open_fd(path)  # a link or FIFO planted in pins/ is no pin: never followed
        except OSError:
            continue
        try:
            raw = read_fd(fd, st.st_size, MAX_PIN_BYTES) if st.st_size <= MAX_PIN_BYTES else b""
        except OSError:
            continue
        finally:
            os.close(fd)
        if st.st_size > MAX_PIN_BYTES or len(raw) > MAX_PIN_BYTES:
            # Not ignored: if it were a live writer's, gc would delete what the writer needs.
            raise StoreError(
                f"pins/{path.name} is larger than {MAX_PIN_BYTES >> 30} GiB: not a pin tmt writes",
                "if no tmt process is running from this store, delete that file",
            )
        whole = len(raw) - len(raw) % 32
        pins.update(ObjectId(raw[i : i + 32].hex()) for i in range(0, whole, 32))
    return pins


def live_pin_owners(tmt_dir: str | os.PathLike[str]) -> set[tuple[str, int]]:
    """(host, pid) of every live pin: a process still writing (gc keeps its temp files)."""
    out = set()
    for path in _pin_files(Path(tmt_dir) / "pins"):
        owner = _owner(path)
        if owner is not None and pin_is_live(path):
            out.add(owner)
    return out


def _pin_files(d: Path) -> Iterator[Path]:
    """The pin files in pins/, if it is tmt's own folder (a link there is never listed)."""
    try:
        names = os.listdir(own_dir(d.parent, d.name))
    except (FileNotFoundError, NotADirectoryError, UnsafePath):
        return
    yield from (d / n for n in names if n.endswith(PIN_SUFFIX))
