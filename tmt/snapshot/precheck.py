"""The pre-pass of a snapshot: which cached folders are unchanged, by a few C-level calls.

The stat cache's check section (statcache.check_section) lays every planned folder out flat:
the folders' paths and keys, their kept files' paths and keys. A part is checked by stat-ing
every folder and lstat-ing every file in one `map` each and comparing one packed blob with
the cache's; only when that differs is each folder compared on its own. The walk then
trusts the folders vouched for (no stat, no lstat of theirs again) and, when every folder
is, is not needed at all (build.py).

In a large tree the stat calls are most of the snapshot, and the kernel serves two
processes at once: the second part is checked by a forked child, which stat-s, compares
and writes one message to a pipe, nothing else (no store, no cache, no output; `os._exit`
in a `finally`, so no buffer the parent holds is flushed twice). Anything wrong with the
child (killed, no message, a short or malformed one) and the parent checks that part
itself: the result is always the sequential one. Forking is gated (`may_fork`): Linux, a
single-threaded process (a child forked beside other threads can deadlock on a lock one
of them held), enough files to pay for the fork, and a process small enough that copying
its page tables does not cost more than the child saves (docs/recording.md has the
figures).
"""
from __future__ import annotations

import os
import signal
import sys
from itertools import compress
from operator import attrgetter

from tmt.snapshot.statcache import (
    ENTRIES, P_COUNTS, P_DIRS, P_DKEYS, P_EXTRAS, P_FILES, P_KEYS, P_RELS, PLAN, DirInfo, Entries,
)
from tmt.store import codec

_KEY = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")
_DKEY = attrgetter("st_mtime_ns", "st_ctime_ns", "st_ino")
_ENV = attrgetter("st_mtime_ns", "st_ino")
_IGNORE = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino", "st_mode")

#: The child checks half the tree only when the cache holds at least this many kept files
#: (below, the fork and the pipe cost more than half the stat calls save) ...
FORK_MIN_FILES = 8_000
#: ... and the process's resident size is at most this (fork copies the page tables: a
#: process that loaded a model first would pay more than it gains). Tests may set both.
FORK_MAX_RSS = 256 * 1024 * 1024
_CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")
#: How many times the pre-pass forked a child (the tests read it).
forks = 0
#: Tests only: called in the child (with the pipe's write end) before it checks its part.
child_hook = None
_MAGIC = b"tmt-precheck-1"


def vouched(section: tuple, dirs: dict[bytes, DirInfo]) -> set[bytes]:
    """The folders (rels) whose plan holds: own key, kept files' keys, environments and
    ignore files as the cache has them."""
    parts = section
    if len(parts) == 2 and parts[1][P_RELS] and may_fork(sum(parts[0][P_COUNTS]) + sum(parts[1][P_COUNTS])):
        oks = _two_process(parts, dirs)
    else:
        oks = [check_part(part, dirs) for part in parts]
    out: set[bytes] = set()
    for part, ok in zip(parts, oks):
        out.update(compress(part[P_RELS], ok))
    return out


def may_fork(files: int) -> bool:
    """Whether a child may check half of a tree of `files` kept files (see the module doc)."""
    if not _CAN_FORK or files < FORK_MIN_FILES:
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started from Python
    if threading is not None and threading.active_count() != 1:
        return False
    try:
        if len(os.listdir("/proc/self/task")) != 1:  # threads started by C code count too
            return False
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return False
    return rss <= FORK_MAX_RSS


def check_part(part: tuple, dirs: dict[bytes, DirInfo]) -> bytearray:
    """One byte per folder of the part: 1 if its plan holds."""
    n = len(part[P_RELS])
    if not n:
        return bytearray()
    try:
        dkeys = list(map(_DKEY, map(os.stat, part[P_DIRS].split(b"\0"))))
        files = part[P_FILES]
        keys = list(map(_KEY, map(os.lstat, files.split(b"\0")))) if files else []
        same = codec.packb(dkeys) == part[P_DKEYS] and codec.packb(keys) == part[P_KEYS]
    except OSError:  # something is gone: find which folder
        same = False
    ok = bytearray(b"\x01") * n if same else _each(part, dirs)
    for i, path, want in part[P_EXTRAS]:
        if ok[i]:
            try:
                st = os.lstat(path)
            except OSError:
                ok[i] = 0
                continue
            if (_ENV if len(want) == 2 else _IGNORE)(st) != want:
                ok[i] = 0
    return ok


def _each(part: tuple, dirs: dict[bytes, DirInfo]) -> bytearray:
    """check_part folder by folder (some folder differs)."""
    rels = part[P_RELS]
    ok = bytearray(len(rels))
    for i, (rel, path) in enumerate(zip(rels, part[P_DIRS].split(b"\0"))):
        info = dirs[rel]
        entries = Entries.of(info[ENTRIES])
        prefix = path + b"/"
        try:
            if _DKEY(os.stat(path)) != tuple(info[PLAN][0]):
                continue
            keys = list(map(_KEY, map(os.lstat, map(prefix.__add__, entries.names))))
        except OSError:
            continue
        ok[i] = entries.matches(keys)
    return ok


def _two_process(parts: tuple, dirs: dict[bytes, DirInfo]) -> list[bytearray]:
    global forks
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return [check_part(part, dirs) for part in parts]
    if pid == 0:
        _child(r, w, parts[1], dirs)
    forks += 1
    os.close(w)
    data = b""
    try:
        ok0 = check_part(parts[0], dirs)
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        data = b"".join(chunks)
    finally:
        os.close(r)
        _reap(pid)
    ok1 = _parse(data, len(parts[1][P_RELS]))
    return [ok0, ok1 if ok1 is not None else check_part(parts[1], dirs)]


def _child(r: int, w: int, part: tuple, dirs: dict[bytes, DirInfo]) -> None:
    """The forked child: check `part`, write the verdict, exit. Never returns, never runs the
    parent's exit handlers or flushes its buffers (os._exit), never collects the parent's
    garbage (a file object caught in a cycle would be flushed here too)."""
    code = 1
    try:
        import gc

        gc.disable()
        os.close(r)
        if child_hook is not None:
            child_hook(w)
        msg = memoryview(_MAGIC + bytes(check_part(part, dirs)))
        while msg:
            msg = msg[os.write(w, msg):]
        code = 0
    finally:
        os._exit(code)


def _parse(data: bytes, n: int) -> bytearray | None:
    if len(data) != len(_MAGIC) + n or not data.startswith(_MAGIC):
        return None
    ok = bytearray(data[len(_MAGIC):])
    return ok if ok.count(1) + ok.count(0) == n else None


def _reap(pid: int) -> None:
    """Kill (it is done, or no longer needed: Ctrl-C, an error) and reap the child, with
    SIGINT held meanwhile, so that a second Ctrl-C cannot leave a zombie."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # reaped by a SIGCHLD handler of the program's (or SIGCHLD ignored)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
