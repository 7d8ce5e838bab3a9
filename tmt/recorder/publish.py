"""Publishing a run's record: atomic always, durable in the background where it is safe.

An fsync costs milliseconds on ordinary disks, and recording a run writes its record twice.
Visibility (other processes, gc) comes from the rename and needs no fsync; only a power cut
or kernel crash can lose unsynced data. So:

- every record write: the temp file is fsynced *before* the rename, so no crash, not even a
  power cut, can publish an empty or torn record.
- the folder fsync, which makes the rename itself durable, runs on a background thread, and
  so does the deletion of the journal after the final record (kept until then, so a lost
  rename still leaves the steps). A power cut within milliseconds of a rename may leave the
  previous version of the record (or, for a start record, none): never a damaged one.

The background thread is drained at interpreter exit (and by `flush()`), so a script that
ends has made its records durable. It is a `_thread` thread, not a `threading.Thread`:
importing threading costs every run about a millisecond, and a worker that only calls
fsync and unlink needs none of it.
"""
from __future__ import annotations

import _thread
import atexit
import os
from collections import deque
from pathlib import Path

from tmt.records.io import record_bytes, record_path
from tmt.records.model import Record
from tmt.store.fsutil import _unlink_quiet, atomic_write, fsync_dir


class _Syncer:
    """Folder-fsync and unlink jobs run in order by one worker thread (daemon-like: it never
    holds the interpreter's exit), which ends when none is left; the next job starts another."""

    def __init__(self) -> None:
        self._jobs: deque[tuple[str, str]] = deque()
        self._lock = _thread.allocate_lock()  # guards _jobs and the hand-over of _working
        self._working = _thread.allocate_lock()  # held while a worker runs: drain waits on it
        self._atexit = False

    def submit(self, *jobs: tuple[str, str]) -> None:
        with self._lock:
            for job in jobs:
                if job[0] == "fsync_dir" and job in self._jobs:
                    continue  # one pending folder sync covers every rename before it runs
                self._jobs.append(job)
            if not self._atexit:
                atexit.register(self.drain)
                self._atexit = True
            if self._working.locked():
                return  # the running worker takes them
            self._working.acquire()
            try:
                _thread.start_new_thread(self._run, ())
                return
            except RuntimeError:  # no thread to be had: do the work here instead
                self._working.release()
        self._run(worker=False)

    def _run(self, worker: bool = True) -> None:
        while True:
            with self._lock:
                if not self._jobs:
                    if worker:
                        self._working.release()
                    return
                kind, path = self._jobs.popleft()
            _do(kind, path)

    def drain(self, timeout: float = 30.0) -> None:
        if self._working.acquire(timeout=timeout):
            self._working.release()

    def _after_fork(self) -> None:
        # The worker does not exist in a forked child; its pending jobs belong to the parent.
        self._lock = _thread.allocate_lock()
        self._working = _thread.allocate_lock()
        self._jobs = deque()


def _do(kind: str, path: str) -> None:
    try:
        if kind == "fsync_dir":
            fsync_dir(path)
        elif kind == "unlink":
            _unlink_quiet(path)
    except OSError:
        pass  # a replaced or removed file: nothing left to make durable


_syncer = _Syncer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_syncer._after_fork)


def flush() -> None:
    """Wait until every record written by this process is durable (fsynced)."""
    _syncer.drain()


def publish(experiments_dir: Path, tmp_dir: Path, record: Record, *, final: bool, journal: Path | None = None) -> None:
    """Write `record` atomically (its temp file fsynced); the folder fsync, and after a final
    record the deletion of its `journal`, are left to the background thread."""
    path = record_path(experiments_dir, record.id)
    atomic_write(path, record_bytes(record), tmp_dir, sync_dir=False, make_dirs=True)
    jobs = [("fsync_dir", os.fspath(experiments_dir))]
    if final and journal is not None:
        jobs.append(("unlink", os.fspath(journal)))
    _syncer.submit(*jobs)
