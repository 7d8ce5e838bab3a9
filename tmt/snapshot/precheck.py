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
of them held), SIGCHLD left to its default (the child is ours to reap), a CPU idle now,
enough files to pay for the fork, and a process small enough that copying its page tables
does not cost more than the child saves (docs/recording.md has the figures).
"""
from __future__ import annotations

import os
import sys
from itertools import compress
from operator import attrgetter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal as _signal
else:
    try:  # signal.py's C core (same functions): signal.py builds three enums on import
        import _signal
    except ImportError:
        import signal as _signal

from tmt.snapshot.statcache import P_COUNTS, P_DIRS, P_DKEYS, P_EXTRAS, P_FILES, P_KEYS, P_RELS
from tmt.store import codec

_KEY = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino")
_DKEY = attrgetter("st_mtime_ns", "st_ctime_ns", "st_ino")
_ENV = attrgetter("st_mtime_ns", "st_ino")
_IGNORE = attrgetter("st_size", "st_mtime_ns", "st_ctime_ns", "st_ino", "st_mode")

#: The child checks half the tree only when the cache holds at least this many kept files
#: (below, the fork and the pipe cost more than half the stat calls save) ...
FORK_MIN_FILES = 4_000
#: ... and the process's resident size is at most this (fork copies the page tables: a
#: process that loaded a model first would pay more than it gains). Tests may set both.
FORK_MAX_RSS = 256 * 1024 * 1024
#: ... and a CPU is idle now (the kernel's count of runnable tasks, this one included, is
#: below the CPUs this process may use): on a busy machine the child only takes turns with
#: the parent, and the fork is pure cost. Tests turn it off.
FORK_NEEDS_IDLE_CPU = True
_CAN_FORK = sys.platform.startswith("linux") and hasattr(os, "fork")
#: How many times the pre-pass forked a child (the tests read it).
forks = 0
#: Tests only: called in the child (with the pipe's write end) before it checks its part.
child_hook = None
_MAGIC = b"tmt-precheck-1"


def vouched(section: tuple) -> tuple[set[bytes], bool]:
    """The folders (rels) whose plan holds (own key, kept files' keys, environments and
    ignore files as the cache has them), and whether that is every folder of the cache."""
    parts = section[:2]
    if parts[1][P_RELS] and may_fork(sum(parts[0][P_COUNTS]) + sum(parts[1][P_COUNTS])):
        oks = _two_process(parts)
    else:
        oks = [check_part(part) for part in parts]
    out: set[bytes] = set()
    for part, ok in zip(parts, oks):
        out.update(compress(part[P_RELS], ok))
    return out, section[2] is not None and all(ok.count(1) == len(ok) for ok in oks)


def may_fork(files: int) -> bool:
    """Whether a child may check half of a tree of `files` kept files (see the module doc)."""
    if not _CAN_FORK or files < FORK_MIN_FILES:
        return False
    threading = sys.modules.get("threading")  # not imported: no thread was started from Python
    if threading is not None and threading.active_count() != 1:
        return False
    if _signal.getsignal(_signal.SIGCHLD) != _signal.SIG_DFL:
        return False  # the program reaps (or ignores) its children: the child's pid is not ours to kill
    try:
        if len(os.listdir("/proc/self/task")) != 1:  # threads started by C code count too
            return False
        with open("/proc/self/statm", "rb") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        if rss > FORK_MAX_RSS:
            return False
        if FORK_NEEDS_IDLE_CPU:
            with open("/proc/loadavg", "rb") as f:
                running = int(f.read().split()[3].split(b"/")[0])  # "1.20 0.80 0.50 2/180 4242"
            if running >= len(os.sched_getaffinity(0)):
                return False
    except (OSError, ValueError, IndexError):
        return False
    return True


def check_part(part: tuple) -> bytearray:
    """One byte per folder of the part: 1 if its plan holds."""
    n = len(part[P_RELS])
    if not n:
        return bytearray()
    dkeys = _keys(os.stat, _DKEY, part[P_DIRS].split(b"\0"))
    keys = _keys(os.lstat, _KEY, part[P_FILES].split(b"\0")) if part[P_FILES] else []
    if codec.packb(dkeys) == part[P_DKEYS] and codec.packb(keys) == part[P_KEYS]:
        ok = bytearray(b"\x01") * n
    else:  # something differs: which folders (the keys just taken, compared slice by slice)
        want_dkeys = codec.unpackb(part[P_DKEYS], use_list=False)
        want_keys = codec.unpackb(part[P_KEYS], use_list=False)
        ok = bytearray(n)
        pos = 0
        for i, count in enumerate(part[P_COUNTS]):
            end = pos + count
            ok[i] = dkeys[i] == want_dkeys[i] and tuple(keys[pos:end]) == want_keys[pos:end]
            pos = end
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


def _keys(stat, key, paths: list[bytes]) -> list:
    """key(stat(path)) of every path (None where it fails): one C-level map while none does."""
    try:
        return list(map(key, map(stat, paths)))
    except OSError:
        out = []
        for path in paths:
            try:
                out.append(key(stat(path)))
            except OSError:
                out.append(None)
        return out


def _two_process(parts: tuple) -> list[bytearray]:
    global forks
    try:
        r, w = os.pipe()
    except OSError:  # out of file descriptors: the sequential check needs none
        return [check_part(part) for part in parts]
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return [check_part(part) for part in parts]
    if pid == 0:
        _child(r, w, parts[1])
    forks += 1
    os.close(w)
    data = b""
    done = False
    try:
        ok0 = check_part(parts[0])
        chunks = []
        while chunk := os.read(r, 1 << 16):
            chunks.append(chunk)
        data = b"".join(chunks)
        done = True  # the end of the pipe: the child has exited (or is exiting)
    finally:
        os.close(r)
        _reap(pid, kill=not done)
    ok1 = _parse(data, len(parts[1][P_RELS]))
    return [ok0, ok1 if ok1 is not None else check_part(parts[1])]


def _child(r: int, w: int, part: tuple) -> None:
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
        msg = memoryview(_MAGIC + bytes(check_part(part)))
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


def _reap(pid: int, kill: bool) -> None:
    """Reap the child, first killing it if it is still needed to stop (Ctrl-C, an error in the
    parent), with SIGINT held meanwhile, so that a second Ctrl-C cannot leave a zombie. (Until
    it is reaped its pid stays ours: no other process can be killed by mistake.)"""
    old = _signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGINT})
    try:
        if kill:
            try:
                os.kill(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass  # (may_fork forks only while SIGCHLD has its default action; yet never hang)
    finally:
        _signal.pthread_sigmask(_signal.SIG_SETMASK, old)
