"""Attaching to a run another process owns (`tmt run -- CMD`, later framework integrations).

The owner (the `tmt run` process) writes the run's record; the processes it starts find
the run through TMT_RUN_ID (and TMT_DIR) and add to it without ever writing the record:

  journal/<id>.log      step metrics: attached processes append frames, as a live run does
  journal/<id>.attach   the channel: the owner's JSON header line, then one JSON event per
                        line appended by attached processes (params, saved objects, ends)
  pins/<host>_<owner pid>_<id[:8]>.pin   ids attached processes pin before they store an
                        object: live while the owner lives; the owner deletes it at its end

The protocol (docs/format.md, "Attached processes"), in order:

1. owner: running record, pin, empty journal, channel with its header; then it starts the
   command with TMT_RUN_ID and TMT_DIR set.
2. attached process: opens the channel (never creates it: no channel, no run to attach to)
   and the journal. Every operation holds flock(LOCK_SH) on the channel and first checks
   that the channel is still linked (st_nlink > 0): `log` appends one frame to the journal;
   `save` pins the id in the shared pin file, stores the blob, appends an `artifact` event;
   a run's end appends an `end` event (its params and metrics).
3. owner, while the command runs: reads the new complete lines of the channel (an event is
   one O_APPEND write, so lines never interleave) and rewrites the running record when an
   object was saved, so a crash of the owner still leaves it referenced.
4. owner, once the command has exited: takes flock(LOCK_EX), which waits for operations in
   flight, reads the channel and the journal to their ends, unlinks the channel, writes the
   final record, and only then releases the lock. A later operation finds the channel
   unlinked (or gone) and raises "run ... has ended": nothing is lost silently, and nobody
   races the owner's final write.
"""
from __future__ import annotations

import fcntl
import json
import os
import stat
import threading
import time
from pathlib import Path
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any, Callable

from tmt._sys import host_label
from tmt._warn import warn
from tmt.errors import RecordingError, StoreError
from tmt.records.series import JOURNAL_DIRNAME, encode_frame, journal_path
from tmt.store.pins import PIN_SUFFIX, PinFile

ENV_RUN_ID = "TMT_RUN_ID"
CHANNEL_SUFFIX = ".attach"
CHANNEL_VERSION = 1
#: Longest event line the owner accepts (a params dict is bounded by to_params).
MAX_EVENT = 1 << 20
#: How long the owner's final write waits for attached operations still in flight.
FINISH_WAIT_S = 30.0


def channel_path(tmt_dir: str | os.PathLike[str], run_id: str) -> Path:
    return Path(tmt_dir) / JOURNAL_DIRNAME / f"{run_id}{CHANNEL_SUFFIX}"


def shared_pin_path(tmt_dir: str | os.PathLike[str], owner_pid: int, run_id: str) -> Path:
    """The pin file attached processes append to: named for the owner's pid, so gc counts it
    live exactly as long as the owner, whichever attached process wrote it."""
    return Path(tmt_dir) / "pins" / f"{host_label()}_{owner_pid}_{run_id[:8]}{PIN_SUFFIX}"


def _dumps(event: dict[str, Any]) -> bytes:
    # NaN and inf are written as JSON's usual extension (NaN, Infinity): both sides are Python.
    return (json.dumps(event, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")


# -- the owner's side ----------------------------------------------------------------------------


class Channel:
    """The owner's end of a run's channel: created before the command starts, read while it
    runs, closed under an exclusive lock when it has ended."""

    def __init__(self, tmt_dir: Path, run_id: str, header: dict[str, Any]) -> None:
        self.path = channel_path(tmt_dir, run_id)
        self.pin_path = shared_pin_path(tmt_dir, os.getpid(), run_id)
        self._offset = 0
        self._partial = b""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = _dumps({"v": CHANNEL_VERSION, "run": run_id, "owner": os.getpid(), **header})
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, line)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self._offset = len(line)

    def poll(self) -> list[dict[str, Any]]:
        """The events appended since the last call (complete lines only)."""
        chunks = []
        while True:
            data = os.pread(self._fd, 1 << 20, self._offset)
            if not data:
                break
            self._offset += len(data)
            chunks.append(data)
        if not chunks:
            return []
        data = self._partial + b"".join(chunks)
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an event being written right now: read it next time
        if len(self._partial) > MAX_EVENT:
            warn(f"an attached process wrote an event longer than {MAX_EVENT} bytes to run's channel; it is ignored")
            self._partial = b""
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except ValueError:
                warn("an attached process wrote a malformed event; it is ignored")
                continue
            if isinstance(event, dict) and isinstance(event.get("e"), str):
                events.append(event)
        return events

    def finish(self, timeout: float = FINISH_WAIT_S) -> list[dict[str, Any]]:
        """Take the exclusive lock (waiting for attached operations in flight), read the last
        events, and unlink the channel. The lock is held until `release()`, after the final
        record: an attached process cannot add anything the record would miss."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    warn(f"an attached process of run {self.path.stem[:8]} is still saving after {timeout:.0f} s; "
                         "finishing the run without waiting for it")
                    break
                time.sleep(0.02)
        events = self.poll()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        return events

    def release(self) -> None:
        """Close the channel (releasing the lock) and delete the shared pin file: the final
        record references everything attached processes stored."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        try:
            os.unlink(self.pin_path)
        except OSError:
            pass

    def abandon(self) -> None:
        """The run could not start: remove the channel at once."""
        try:
            os.unlink(self.path)
        except OSError:
            pass
        self.release()


# -- the attached side ----------------------------------------------------------------------------


class _SharedPin(PinFile):
    """The owner-named pin file: appended to like any pin, never deleted by an attached
    process (the owner deletes it after its final record; gc once the owner is dead)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path.parent.parent)
        self.path = path

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class Attachment:
    """This process's link to the run TMT_RUN_ID names. One per process (see attachment())."""

    def __init__(self, repo: Any, run_id: str, fd: int, header: dict[str, Any],
                 preloaded: frozenset[str] = frozenset()) -> None:
        from tmt.recorder.run import LiveRun

        self.repo = repo
        self.run_id = run_id
        self.pid = os.getpid()  # the process that opened it (forked children share it)
        self.header = header
        self.preloaded = preloaded  # tmt's own dependencies the program had imported (env.packages)
        self._fd = fd
        self._lock = threading.Lock()
        self._journal_fd: int | None = None
        self._pin = _SharedPin(shared_pin_path(repo.tmt_dir, int(header["owner"]), run_id))
        self._next_step: dict[str, int] = {}
        self._saved: set[str] = set()
        #: a decorated function or `with tmt.start_run()` took this run (the first one does;
        #: later top-level runs of this process become its child runs)
        self.claimed = False
        name = header.get("name")
        #: what `tmt.log`/`tmt.save`/`tmt.active_run()` use outside any run of this process
        self.base = LiveRun(name if isinstance(name, str) and name.strip() else "run")
        self.base.id = run_id
        self.base._attach = self
        self.base._live = True

    @property
    def overrides(self) -> dict[str, Any]:
        """`tmt rerun --set` values the command line could not carry: {param: value}."""
        raw = self.header.get("set")
        if not isinstance(raw, dict):
            return {}
        return {k: v["value"] for k, v in raw.items() if isinstance(v, dict) and "value" in v}

    def _op(self, what: str, func: Callable[[], Any]) -> Any:
        """Run `func` under the shared lock, if the run still accepts attached operations."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
            try:
                if os.fstat(self._fd).st_nlink == 0:
                    raise RecordingError(
                        f"run {self.run_id[:8]} has ended; {what} came too late to be recorded",
                        "a process started by `tmt run` must log and save before the command exits",
                    )
                return func()
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _send(self, event: dict[str, Any]) -> None:
        os.write(self._fd, _dumps({**event, "pid": os.getpid()}))

    def log(self, values: list[tuple[str, float]], step: int | None) -> None:
        t = time.time()

        def append() -> None:
            points = []
            for key, value in values:
                s = step if step is not None else self._next_step.get(key, 0)
                self._next_step[key] = s + 1
                points.append((key, s, value))
            if self._journal_fd is None:
                # O_CREAT-less: the owner made the journal; its absence means the run is over
                self._journal_fd = os.open(journal_path(self.repo.tmt_dir, self.run_id),
                                           os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
            frame = memoryview(encode_frame(t, points))
            while frame:
                frame = frame[os.write(self._journal_fd, frame):]

        try:
            self._op("tmt.log()", append)
        except OSError as e:
            raise StoreError(f"could not log to run {self.run_id[:8]}: {e.strerror or e}") from e

    def save(self, obj: Any, name: str, allow_exist: bool, extension: str | None,
             custom_save: Any, format: str | None) -> str:
        from tmt.recorder.artifacts import write_and_store

        if name in self._saved and not allow_exist:
            from tmt.errors import DuplicatedNameError

            raise DuplicatedNameError(
                f"an object named {name!r} was already saved in run {self.run_id[:8]} and `allow_exist` is False",
                "specify another name, or pass allow_exist=True to keep both",
            )

        def store() -> str:
            stored = write_and_store(self.repo.store, self._pin, self.repo.tmp_dir, obj, name,
                                     extension, custom_save, format)
            self._saved.add(name)
            # The owner names duplicates (name_1, ...) across every process of the run.
            self._send({"e": "artifact", "artifact": {
                "name": name, "object": stored.oid, "size": stored.size,
                "format": stored.format, "filename": stored.filename,
            }})
            return str(self.repo.store.path(stored.oid))

        try:
            return self._op("tmt.save()", store)
        except OSError as e:
            raise StoreError(f"could not save {name!r} into run {self.run_id[:8]}: {e.strerror or e}") from e

    def report(self, event: dict[str, Any]) -> None:
        """Append a params/end event (values already JSON-safe)."""
        what = "its params" if event.get("e") == "params" else "its end"
        try:
            self._op(what, lambda: self._send(event))
        except OSError as e:
            raise StoreError(f"could not report to run {self.run_id[:8]}: {e.strerror or e}") from e

    def _at_exit(self) -> None:
        """Params or metrics set on the base run (`tmt.active_run().metrics[...] = ...`), and
        the packages this process imported."""
        if os.getpid() != self.pid:
            return  # a forked child inherited this handler: the values are the parent's
        run = self.base
        from tmt.records.model import encode_metric
        from tmt.recorder.run import _packages
        from tmt.recorder.values import split_final, to_params

        metrics, outputs = split_final(run.metrics)
        try:
            self.report({"e": "end", "metrics": {k: encode_metric(v) for k, v in metrics.items()},
                         "outputs": outputs, "params": to_params(run.params),
                         "packages": _packages(self.repo, self.preloaded)})
        except Exception as e:  # noqa: BLE001 - at exit: say it, never raise
            warn(f"could not report to run {self.run_id[:8]}: {getattr(e, 'message', e)}")


_attachment: Attachment | None = None
_refused: str | None = None  # the TMT_RUN_ID already found unusable (warned once)
_open_lock = threading.Lock()


def attachment() -> Attachment | None:
    """The run TMT_RUN_ID names, opened on first use in this process; None when TMT_RUN_ID
    is unset, or names no run that accepts attached processes (a warning says so once, and
    this process records its runs on its own)."""
    global _attachment, _refused
    run_id = os.environ.get(ENV_RUN_ID)
    if not run_id:
        return None
    att = _attachment
    if att is not None and att.run_id == run_id:
        return att
    if run_id == _refused:
        return None
    with _open_lock:
        if _attachment is not None and _attachment.run_id == run_id:
            return _attachment
        from tmt.recorder.packages import own_loaded

        preloaded = own_loaded()  # before opening the store imports tmt's own dependencies
        try:
            att = _open(run_id, preloaded)
        except RecordingError as e:
            _refused = run_id
            warn(f"{e.message}; this process records its runs on its own")
            return None
        import atexit

        atexit.register(att._at_exit)
        _attachment = att
        return att


def _open(run_id: str, preloaded: frozenset[str]) -> Attachment:
    from tmt.errors import TmtError
    from tmt.records.model import is_run_id
    from tmt.repo import Repo
    from tmt.text import printable

    if not is_run_id(run_id):
        raise RecordingError(f"{ENV_RUN_ID}={printable(run_id)[:40]} is not a run id")
    try:
        repo = Repo.find()
    except TmtError as e:
        raise RecordingError(f"{ENV_RUN_ID}={run_id} is set but no store was found ({e.message})") from e
    path = channel_path(repo.tmt_dir, run_id)
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        raise RecordingError(f"{ENV_RUN_ID}={run_id} names no live `tmt run` in {repo.tmt_dir}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError("not a regular file")
        head = os.pread(fd, MAX_EVENT, 0).split(b"\n", 1)[0]
        header = json.loads(head)
        if not (isinstance(header, dict) and header.get("run") == run_id and isinstance(header.get("owner"), int)):
            raise ValueError("bad header")
    except (OSError, ValueError):
        os.close(fd)
        raise RecordingError(f"the channel of run {run_id[:8]} ({path}) is damaged") from None
    return Attachment(repo, run_id, fd, header, preloaded)


def _after_fork() -> None:
    # A forked child (a DataLoader worker) goes on logging to the same run through the same
    # descriptors; a lock another thread held at the fork would never be released in it.
    if _attachment is not None:
        _attachment._lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
