"""The command as a process: started in its own session, its output pumped, signals forwarded.

- The command runs in a new session (its own process group, no controlling terminal), so a
  signal sent to `tmt run` reaches it once, from tmt, to its whole process group; and so
  reading its inherited stdin from a terminal never stops it (job control applies only to
  a controlling terminal).
- When tmt's stdout is a terminal, the command's stdout (and its stderr, if tmt's stderr is
  the terminal too) is a pseudo-terminal of the same size: `isatty()` is true, colours and
  progress bars work. Otherwise it writes to pipes. Either way tmt copies every byte to its
  own stdout/stderr unchanged, and hands it to the run's capture.
- SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 are forwarded to the command's
  process group; SIGWINCH resizes the pseudo-terminal and is forwarded; Ctrl-Z (SIGTSTP)
  stops the command (with SIGSTOP), then tmt; SIGCONT continues both.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import selectors
import signal
import stat
import subprocess
import termios
import time
from collections.abc import Callable

FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
#: A command killed by one of these, or that exits after tmt forwarded one, was stopped
#: from outside: `interrupted` (SIGPIPE: the reader of its output went away).
INTERRUPTING = frozenset((signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE))
#: Killed by one of these: `crashed` (SIGKILL: the OOM killer, `kill -9`; the rest: the
#: program itself crashed).
CRASHING = frozenset((signal.SIGKILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGABRT, signal.SIGILL,
                      signal.SIGFPE, signal.SIGSYS, signal.SIGTRAP))
#: Pipes from the command are widened to this (Linux F_SETPIPE_SZ; 1 MiB is what an
#: unprivileged process may ask for by default), so a fast writer hands tmt big chunks:
#: fewer wake-ups, fewer context switches.
PIPE_SIZE = 1 << 20
READ_SIZE = PIPE_SIZE
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
#: After the command exits, output still held open by a process it left behind is read
#: until it is quiet this long, for at most DRAIN_MAX_S.
DRAIN_QUIET_S = 0.2
DRAIN_MAX_S = 2.0
#: After a read smaller than this, the pump waits COALESCE_S before the next one: a command
#: writing in small pieces (Python's print() writes 8 KiB at a time into a pipe) is then read
#: in fewer, bigger chunks, for at most that much more latency.
COALESCE_BYTES = 64 * 1024
COALESCE_S = 0.001


class Fate:
    """How the command ended. (Plain classes in this module: a dataclass costs a compile
    at import, and every `tmt run` imports it.)"""

    __slots__ = ("status", "exit_code", "error")

    def __init__(self, status: str, exit_code: int, error: dict | None) -> None:
        self.status = status  # completed | failed | interrupted | crashed
        self.exit_code = exit_code  # what tmt exits with: the command's status, 128 + N for signal N
        self.error = error

    def __repr__(self) -> str:
        return f"Fate({self.status!r}, {self.exit_code}, {self.error!r})"


def signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def fate(returncode: int, forwarded: list[int]) -> Fate:
    """The run's status for a command's exit (returncode as subprocess gives it)."""
    if returncode == 0:
        return Fate("completed", 0, None)
    if returncode < 0:
        sig = -returncode
        name = signal_name(sig)
        if sig in CRASHING:
            status = "crashed"
        elif sig in INTERRUPTING or sig in forwarded:
            status = "interrupted"
        else:
            status = "failed"
        return Fate(status, 128 + sig, {"type": "Signal", "message": f"killed by {name}", "traceback": None})
    stopped = [s for s in forwarded if s in INTERRUPTING]
    if stopped:
        message = f"exit status {returncode} after {signal_name(stopped[0])}"
        return Fate("interrupted", returncode, {"type": "ExitStatus", "message": message, "traceback": None})
    return Fate("failed", returncode, {"type": "ExitStatus", "message": f"exit status {returncode}", "traceback": None})


class _Source:
    __slots__ = ("fd", "dest", "name", "dest_open", "closed")

    def __init__(self, fd: int, dest: int, name: str) -> None:
        self.fd = fd
        self.dest = dest  # tmt's own stdout (1) or stderr (2)
        self.name = name  # "stdout" or "stderr"
        self.dest_open = True
        self.closed = False


class Command:
    """A started command: its process and the descriptors its output comes from."""

    __slots__ = ("proc", "sources", "pty", "forwarded")

    def __init__(self, proc: subprocess.Popen, sources: list[_Source], pty: bool) -> None:
        self.proc = proc
        self.sources = sources
        self.pty = pty
        self.forwarded: list[int] = []  # the signals tmt passed on, in order


def stdout_is_terminal() -> bool:
    try:
        return os.isatty(1)
    except OSError:
        return False


def start(argv: list[str], *, env: dict[str, str], cwd: str | None, use_pty: bool) -> Command:
    """Start `argv` in a new session, its output to a pseudo-terminal or pipes."""
    stderr_tty = _isatty(2)
    pty = os.openpty() if use_pty else None  # (master, slave)
    if pty is not None:
        slave = pty[1]
        _copy_size(1, slave)
        _raw_output(slave)
        stdout = slave
        stderr = slave if stderr_tty else subprocess.PIPE
    else:
        stdout = subprocess.PIPE
        stderr = subprocess.PIPE
    try:
        proc = subprocess.Popen(argv, stdin=None, stdout=stdout, stderr=stderr, cwd=cwd, env=env,
                                start_new_session=True, close_fds=True)
    except BaseException:
        for fd in pty or ():
            os.close(fd)
        raise
    sources = []
    if pty is not None:
        master, slave = pty
        os.close(slave)  # only the command holds it now: its exit gives EOF (EIO) on the master
        sources.append(_Source(master, 1, "stdout"))
        if proc.stderr is not None:
            sources.append(_Source(proc.stderr.fileno(), 2, "stderr"))
    else:
        assert proc.stdout is not None and proc.stderr is not None  # both are pipes
        sources.append(_Source(proc.stdout.fileno(), 1, "stdout"))
        sources.append(_Source(proc.stderr.fileno(), 2, "stderr"))
    for fd in {*(src.fd for src in sources), 1, 2}:  # and our own output, if a pipe
        _widen(fd)
    return Command(proc, sources, use_pty)


def _widen(fd: int) -> None:
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:  # not a pipe (the pseudo-terminal), or a lower limit: keep what it has
        pass


def _isatty(fd: int) -> bool:
    try:
        return os.isatty(fd)
    except OSError:
        return False


def _raw_output(fd: int) -> None:
    """No newline translation on the pseudo-terminal: the bytes the command writes reach
    tmt as written, and tmt's own terminal turns "\n" into "\r\n" once, as it would have."""
    try:
        attrs = termios.tcgetattr(fd)
        attrs[1] &= ~termios.ONLCR
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
    except (OSError, termios.error):
        pass


def _copy_size(src: int, dst: int) -> None:
    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


class Forwarder:
    """Signal handlers that pass signals on to the command's process group (installed
    before the command starts: a signal that comes first is passed on once it has)."""

    def __init__(self) -> None:
        self.command: Command | None = None
        self._pending: list[int] = []
        self._old: dict[int, object] = {}
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._old_wakeup: int | None = None
        #: whether a signal (SIGCHLD: the command exited) wakes the pump; else it polls
        self.wakes = False

    @property
    def wake_fd(self) -> int:
        return self._wake_r

    def install(self) -> None:
        handled = [*FORWARDED, signal.SIGWINCH, signal.SIGTSTP, signal.SIGCONT, signal.SIGCHLD]
        for sig in handled:
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except (OSError, ValueError):  # not the main thread: signals stay as they are
                pass
        try:
            # any handled signal (SIGCHLD: the command exited) wakes the pump's select()
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
            self.wakes = signal.SIGCHLD in self._old
        except (ValueError, OSError):
            self._old_wakeup = None

    def attach(self, command: Command) -> None:
        self.command = command
        pending, self._pending = self._pending, []
        for sig in pending:
            self._forward(command, sig)

    def _handle(self, signum: int, frame: object) -> None:
        if signum == signal.SIGCHLD:
            return
        if self.command is None:
            self._pending.append(signum)
            return
        self._forward(self.command, signum)

    def _forward(self, command: Command, signum: int) -> None:
        pid = command.proc.pid
        if signum == signal.SIGWINCH:
            if command.pty:
                _copy_size(1, command.sources[0].fd)
        elif signum in FORWARDED:
            command.forwarded.append(signum)
        # SIGTSTP would be discarded: the command's process group has no parent in its own
        # session (an "orphaned" group), so the kernel drops stop signals from terminals.
        # SIGSTOP cannot be dropped.
        sent = signal.SIGSTOP if signum == signal.SIGTSTP else signum
        try:
            os.killpg(pid, sent)
        except (ProcessLookupError, PermissionError):
            pass
        if signum == signal.SIGTSTP:
            os.kill(os.getpid(), signal.SIGSTOP)  # and stop ourselves, so the shell takes over

    def drain_wakeups(self) -> None:
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass

    def restore(self) -> None:
        if self._old_wakeup is not None:
            try:
                signal.set_wakeup_fd(self._old_wakeup)
            except (ValueError, OSError):
                pass
        for sig, old in self._old.items():
            try:
                signal.signal(sig, old)  # type: ignore[arg-type]
            except (OSError, ValueError, TypeError):
                pass
        self._old.clear()
        for fd in (self._wake_r, self._wake_w):
            try:
                os.close(fd)
            except OSError:
                pass


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of `data` to `fd`; False when the reader is gone (EPIPE)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # a non-blocking terminal or pipe: wait until it drains
            select.select([], [fd], [], 1.0)
        except InterruptedError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            return False
        except OSError as e:
            if e.errno in (errno.EIO, errno.EBADF):
                return False
            raise
    return True


def pump(command: Command, forwarder: Forwarder, on_output: Callable[[str, bytes], None],
         on_tick: Callable[[], None], tick_s: float = 0.25) -> int:
    """Copy the command's output to tmt's own stdout/stderr until it exits; return its
    returncode. `on_output(stream, chunk)` sees every chunk; `on_tick()` runs at least
    every `tick_s` (and after each burst of output)."""
    sel = selectors.DefaultSelector()
    live: dict[int, _Source] = {}
    for src in command.sources:
        sel.register(src.fd, selectors.EVENT_READ, src)
        live[src.fd] = src
    sel.register(forwarder.wake_fd, selectors.EVENT_READ, None)
    exited_at: float | None = None
    quiet_since = None
    try:
        while True:
            timeout = _wait_for(exited_at, quiet_since, bool(live), tick_s)
            if timeout is None:
                break
            ready = sel.select(timeout)
            got = 0
            woken = not ready or not forwarder.wakes
            for key, _ in ready:
                src = key.data
                if src is None:
                    forwarder.drain_wakeups()
                    woken = True
                    continue
                got += _copy(command, src, sel, live, on_output)
            # waitpid only when a signal came (SIGCHLD) or nothing did
            if exited_at is None and woken and command.proc.poll() is not None:
                exited_at = time.monotonic()
            if exited_at is not None:
                quiet_since = None if got else (quiet_since or time.monotonic())
            on_tick()
            if 0 < got < COALESCE_BYTES and exited_at is None:
                time.sleep(COALESCE_S)
    finally:
        sel.close()
        for src in command.sources:
            _close_source(command, src)
    return command.proc.wait()


def _wait_for(exited_at: float | None, quiet_since: float | None, live: bool, tick_s: float) -> float | None:
    """How long pump's next select waits; None: stop (the command exited and its output is
    closed, or stayed quiet, or kept coming for too long after it)."""
    if exited_at is None:
        return tick_s
    if not live:
        return None
    now = time.monotonic()
    if now - exited_at > DRAIN_MAX_S or (quiet_since is not None and now - quiet_since > DRAIN_QUIET_S):
        return None  # a process the command left behind holds its output open
    return DRAIN_QUIET_S


def _copy(command: Command, src: _Source, sel: selectors.BaseSelector, live: dict[int, _Source],
          on_output: Callable[[str, bytes], None]) -> int:
    """One read of a ready source, copied to its destination; the bytes read (0: it closed,
    and is no longer watched)."""
    try:
        data = os.read(src.fd, READ_SIZE)
    except OSError as e:
        if e.errno != errno.EIO:  # EIO: the pseudo-terminal's other side is closed
            raise
        data = b""
    if not data:
        sel.unregister(src.fd)
        del live[src.fd]
        return 0
    if src.dest_open and not _write_all(src.dest, data):
        # Nobody reads tmt's output any more: close the command's side too, so it
        # sees a closed pipe as it would have without tmt.
        src.dest_open = False
        sel.unregister(src.fd)
        del live[src.fd]
        _close_source(command, src)
    on_output(src.name, data)
    return len(data)


def _close_source(command: Command, src: _Source) -> None:
    if src.closed:
        return  # never close a descriptor number twice: it may be another file's by now
    src.closed = True
    for f in (command.proc.stdout, command.proc.stderr):
        if f is not None and not f.closed and f.fileno() == src.fd:
            f.close()
            return
    try:
        os.close(src.fd)
    except OSError:
        pass
