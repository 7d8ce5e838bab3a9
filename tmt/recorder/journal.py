"""The writing side of a run's step-metric journal (format: tmt/records/series.py).

One frame per `log()` call, written with a single os.write on an O_APPEND descriptor: the
bytes are in the kernel when `log()` returns, so a SIGKILL loses nothing logged before it
(a power cut may tear the last frame, which readers drop). The journal is deleted only
after the final record, which points at the packed series blobs, is written.
"""
from __future__ import annotations

import os
from pathlib import Path

from tmt.errors import StoreError
from tmt.store.fsutil import _hint_for
from tmt.store.nofollow import own_dir, remake


class JournalWriter:
    """The journal of one run. Nothing about it is loaded or opened until it is used: a run
    that logs no step never imports the series codec (msgpack) for it."""

    def __init__(self, tmt_dir: Path, run_id: str) -> None:
        self._tmt_dir = tmt_dir
        self._run_id = run_id
        self._path: Path | None = None
        self._fd: int | None = None

    @property
    def path(self) -> Path:
        if self._path is None:
            from tmt.records.series import journal_path

            self._path = journal_path(self._tmt_dir, self._run_id)
        return self._path

    def create(self) -> None:
        """Open (creating) the journal now: processes attached to this run append to it and
        take its absence as the run's end (tmt/recorder/attach.py)."""
        try:
            self._open()
        except OSError as e:
            raise StoreError(f"could not create {self.path}: {e.strerror or e}", _hint_for(e)) from e

    def _open(self) -> int:
        if self._fd is None:
            store, folder = self.path.parent.parent, self.path.parent.name
            own_dir(store, folder, create=True)  # never a link (tmt.store.nofollow)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            try:
                self._fd = os.open(self.path, flags, 0o644)
            except FileNotFoundError:  # removed since it was checked
                remake(store, folder)
                self._fd = os.open(self.path, flags, 0o644)
        return self._fd

    def append(self, time: float, points: list[tuple[str, int | None, float]]) -> None:
        from tmt.records.series import encode_frame

        frame = encode_frame(time, points)
        try:
            fd = self._open()
            view = memoryview(frame)
            while view:
                n = os.write(fd, view)
                view = view[n:]
        except OSError as e:
            raise StoreError(f"could not append to {self.path}: {e.strerror or e}", _hint_for(e)) from e

    def close(self) -> None:
        """Close the descriptor; the file stays (publish deletes it after the final record)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
