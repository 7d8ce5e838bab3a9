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
from tmt.records.series import encode_frame, journal_path
from tmt.store.fsutil import _hint_for
from tmt.store.nofollow import own_dir, remake


class JournalWriter:
    def __init__(self, tmt_dir: Path, run_id: str) -> None:
        self.path = journal_path(tmt_dir, run_id)
        self._fd: int | None = None

    def create(self) -> None:
        """Open (creating) the journal now: processes attached to this run append to it and
        take its absence as the run's end (tmt/recorder/attach.py)."""
        try:
            self._open()
        except OSError as e:
            raise StoreError(f"could not create {self.path}: {e.strerror or e}", _hint_for(e)) from e

    def _open(self) -> None:
        if self._fd is None:
            store, folder = self.path.parent.parent, self.path.parent.name
            own_dir(store, folder, create=True)  # never a link (tmt.store.nofollow)
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            try:
                self._fd = os.open(self.path, flags, 0o644)
            except FileNotFoundError:  # removed since it was checked
                remake(store, folder)
                self._fd = os.open(self.path, flags, 0o644)

    def append(self, time: float, points: list[tuple[str, int | None, float]]) -> None:
        frame = encode_frame(time, points)
        try:
            self._open()
            view = memoryview(frame)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
        except OSError as e:
            raise StoreError(f"could not append to {self.path}: {e.strerror or e}", _hint_for(e)) from e

    def close(self) -> None:
        """Close the descriptor; the file stays (publish deletes it after the final record)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
